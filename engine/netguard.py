"""The check in front of every outgoing webhook (recall notices, device tracking reports): the
address must lead to a public server, never to this host, the internal network or the cloud's
metadata service (server-side request forgery), unless an administrator allowed it."""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from engine.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOST_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?", re.I)


class WebhookRefused(InvalidInput):
    """A webhook address GxPFlow will not POST to."""

    code = "webhook_refused"


def allow_list(text: str) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """The host names and IP networks of GXPFLOW_WEBHOOK_ALLOWED_HOSTS (comma-separated; an
    address is a network of one). A malformed entry raises ValueError naming it."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if not _HOST_NAME.fullmatch(entry):
                raise ValueError(entry) from None
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(networks)


def check_webhook(url: str, allowed_hosts: str = "") -> tuple[str, ...] | None:
    """Refuse `url` with WebhookRefused unless it is http(s), names a host, and every address the
    host resolves to is public, or the host or address is in `allowed_hosts`. Returns the
    addresses checked, to connect to (`connection`): None for a host allowed by name."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:  # a malformed [IPv6] part
        raise WebhookRefused(f"The webhook address {url} is not a valid address.",
                             zh=f"回调地址 {url} 格式不正确。") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused(f"The webhook address {url} is not an http:// or https:// address.",
                             zh=f"回调地址 {url} 不是 http:// 或 https:// 地址。")
    if not host:
        raise WebhookRefused(f"The webhook address {url} names no server.",
                             zh=f"回调地址 {url} 未指明服务器。")
    names, networks = allow_list(allowed_hosts)
    if host in names:
        return None
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise WebhookRefused(
            f"The webhook server {host} cannot be found (the name does not resolve); "
            "check the address.",
            zh=f"找不到回调服务器 {host}（域名无法解析），请检查地址。") from None
    checked: list[str] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in network for network in networks):
            checked.append(str(address))
            continue
        inner = _embedded_ipv4(address)
        # A NAT64 address is as public as the IPv4 address its gateway forwards it to.
        if (inner is None or _public(inner)) and (_public(address) or address in _NAT64):
            checked.append(str(address))
            continue
        shown = host if host == str(address) else f"{host} ({address})"
        en, zh = _why_internal(address if inner is None else inner)
        raise WebhookRefused(
            f"The webhook address {shown} {en}; recall notices and tracking reports go only to "
            "the partner's public server (an administrator can allow it in "
            "GXPFLOW_WEBHOOK_ALLOWED_HOSTS).",
            zh=f"回调地址 {shown} {zh}；召回通知和追踪报告只发往对方的公网服务器（管理员可在 "
               "GXPFLOW_WEBHOOK_ALLOWED_HOSTS 中放行）。")
    return tuple(dict.fromkeys(checked))


def connection(url: str, addresses: tuple[str, ...] | None,
               timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection for `url` that opens its socket to the addresses `check_webhook`
    checked (each in turn until one answers) instead of resolving the name again: a DNS answer
    changed in between (rebinding) cannot lead it inside. The Host header, TLS server name and
    certificate check still use the URL's host. `addresses` None: resolved as usual (a host
    allowed by name). No proxy is used: the guard must see where the request goes."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)  # given: an IPv6 host's last group is no port
    made: http.client.HTTPConnection = (
        http.client.HTTPSConnection(host, port, timeout=timeout,
                                    context=ssl.create_default_context())
        if https else http.client.HTTPConnection(host, port, timeout=timeout))
    if addresses is not None:
        def pinned(target: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
            failure: OSError | None = None
            for address in addresses:
                try:
                    return socket.create_connection((address, target[1]), *args, **kwargs)
                except OSError as error:
                    failure = error
            raise failure or OSError("no address to connect to")

        made._create_connection = pinned  # type: ignore[attr-defined]
    return made


#: NAT64's well-known prefix (RFC 6052): a gateway forwards 64:ff9b::a.b.c.d to a.b.c.d.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to through a translator (NAT64, 6to4, Teredo):
    public as such, it may still reach this host or the internal network."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo:
        return address.teredo[1]
    return address.sixtofour


def _public(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified)


def _why_internal(address: IPAddress) -> tuple[str, str]:
    if address.is_loopback or address.is_unspecified:
        return "is this server itself", "指向本服务器"
    if address.is_link_local:
        return ("is a link-local address (such as the cloud metadata service)",
                "是链路本地地址（例如云平台元数据服务）")
    if address.is_private and not (address.is_reserved or address.is_multicast):
        return "is on an internal network", "位于内部网络"
    return "is not a public internet address", "不是公网地址"
