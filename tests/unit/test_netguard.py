"""Webhooks reach public servers only: this host, the internal network and the cloud metadata
service are refused with a reason a person can act on, unless an administrator allowed them.
No test needs the internet: IP literals, or a resolver answer set by the test."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from engine.config import load_settings
from engine.errors import ConfigError
from engine.netguard import WebhookRefused, allow_list, check_webhook
from engine.recall import channels
from tests.support.dns import Resolver
from tests.support.httpsink import serving


def refusal(url: str, allowed: str = "") -> WebhookRefused:
    with pytest.raises(WebhookRefused) as refused:
        check_webhook(url, allowed)
    return refused.value


@pytest.mark.parametrize("url", [
    "https://93.184.216.34/recall",
    "http://8.8.8.8:8080/hook?x=1",
    "https://[2606:4700:4700::1111]/hook",
])
def test_a_public_address_is_allowed(url: str) -> None:
    check_webhook(url)


def test_a_name_that_resolves_to_public_addresses_is_allowed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = Resolver(monkeypatch, "93.184.216.34", "2606:2800:220:1::1")
    check_webhook("https://hooks.renkang.example/recall")
    assert resolver.asked == ["hooks.renkang.example"]


@pytest.mark.parametrize(("url", "shown", "why"), [
    ("http://127.0.0.1:8080/", "127.0.0.1", "is this server itself"),
    ("http://127.8.9.10/", "127.8.9.10", "is this server itself"),
    ("http://[::1]/hook", "::1", "is this server itself"),
    ("http://0.0.0.0:5000/", "0.0.0.0", "is this server itself"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 (127.0.0.1)", "is this server itself"),
    ("http://10.0.0.5/hook", "10.0.0.5", "is on an internal network"),
    ("http://172.16.0.1/", "172.16.0.1", "is on an internal network"),
    ("http://172.31.255.254/", "172.31.255.254", "is on an internal network"),
    ("https://192.168.1.20/", "192.168.1.20", "is on an internal network"),
    ("http://[::ffff:10.1.2.3]/", "::ffff:10.1.2.3 (10.1.2.3)", "is on an internal network"),
    ("http://[fd00::5]/", "fd00::5", "is on an internal network"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254",
     "is a link-local address (such as the cloud metadata service)"),
    ("http://[fe80::1]/", "fe80::1",
     "is a link-local address (such as the cloud metadata service)"),
    ("http://100.64.0.1/", "100.64.0.1", "is not a public internet address"),
    ("http://224.0.0.1/", "224.0.0.1", "is not a public internet address"),
    ("http://240.0.0.1/", "240.0.0.1", "is not a public internet address"),
    ("http://2130706433/", "2130706433 (127.0.0.1)", "is this server itself"),
    # IPv6 addresses a translator forwards to an IPv4 address (6to4, NAT64): that one counts
    ("http://[2002:7f00:1::1]/", "2002:7f00:1::1", "is this server itself"),
    ("http://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1",
     "is a link-local address (such as the cloud metadata service)"),
    ("http://[64:ff9b::a00:5]/", "64:ff9b::a00:5", "is on an internal network"),
])
def test_an_internal_address_is_refused_naming_it(url: str, shown: str, why: str) -> None:
    refused = refusal(url)
    assert refused.message.startswith(f"The webhook address {shown} {why}; ")
    assert "public server" in refused.message
    assert refused.zh and refused.zh.startswith(f"回调地址 {shown} ") and "公网" in refused.zh
    assert refused.code == "webhook_refused" and refused.status == 422


def test_a_name_that_resolves_internally_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    Resolver(monkeypatch, "93.184.216.34", "10.0.0.5")  # one bad answer is enough
    refused = refusal("https://hooks.renkang.example/recall")
    assert refused.message.startswith(
        "The webhook address hooks.renkang.example (10.0.0.5) is on an internal network; ")
    assert refused.text("zh").startswith("回调地址 hooks.renkang.example (10.0.0.5) 位于内部网络")


def test_a_name_that_does_not_resolve_cannot_be_found(monkeypatch: pytest.MonkeyPatch) -> None:
    Resolver(monkeypatch)  # no answer
    refused = refusal("https://hooks.renkang.example/recall")
    assert refused.message == ("The webhook server hooks.renkang.example cannot be found (the "
                               "name does not resolve); check the address.")
    assert refused.text("zh") == ("找不到回调服务器 hooks.renkang.example（域名无法解析），"
                                  "请检查地址。")


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://93.184.216.34/recall", "is not an http:// or https:// address"),
    ("file:///etc/passwd", "is not an http:// or https:// address"),
    ("gopher://127.0.0.1:6379/_INFO", "is not an http:// or https:// address"),
    ("http:///recall", "names no server"),
    ("http://[::1/recall", "is not a valid address"),
    ("http://[zz]/recall", "is not a valid address"),
])
def test_other_schemes_and_addresses_without_a_server_are_refused(url: str, message: str) -> None:
    assert message in refusal(url).message


def test_the_allow_list_admits_named_hosts_addresses_and_networks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    allowed = "localhost, hooks.corp.internal., 127.0.0.1, 10.20.0.0/16, fd00::/8"
    check_webhook("http://127.0.0.1:8080/sink", allowed)
    check_webhook("http://10.20.3.4/hook", allowed)
    check_webhook("http://[fd00::5]/hook", allowed)
    assert "10.21.0.1" in refusal("http://10.21.0.1/hook", allowed).message
    assert "::1" in refusal("http://[::1]/hook", allowed).message
    resolver = Resolver(monkeypatch, "10.99.0.1")
    check_webhook("http://localhost:8080/sink", allowed)
    check_webhook("https://HOOKS.corp.internal/recall", allowed)
    assert resolver.asked == [], "an allowed name is not even looked up"
    assert "10.99.0.1" in refusal("https://other.corp.internal/", allowed).message


def test_a_malformed_allow_list_stops_start_up_naming_the_entry(tmp_path: Path) -> None:
    assert allow_list("") == (frozenset(), ())
    with pytest.raises(ValueError, match="not a host"):
        allow_list("10.0.0.0/8, not a host")
    with pytest.raises(ConfigError) as caught:
        load_settings({"GXPFLOW_WEBHOOK_ALLOWED_HOSTS": "10.0.0.0/8, hooks/internal"}, tmp_path)
    assert caught.value.message.startswith(
        "GXPFLOW_WEBHOOK_ALLOWED_HOSTS: 'hooks/internal' is not a host name, IP address or network")
    settings = load_settings({"GXPFLOW_WEBHOOK_ALLOWED_HOSTS": " 10.0.0.0/8,sink "}, tmp_path)
    assert settings.webhook_allowed_hosts == "10.0.0.0/8,sink"
    assert load_settings({}, tmp_path).webhook_allowed_hosts == ""


# -- the channels check again when they send -------------------------------------------------

class Sink(BaseHTTPRequestHandler):
    """Records each request; answers 302 to /moved (to /internal), else 202."""

    received: list[tuple[str, str]] = []
    hosts: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, method: str) -> None:
        Sink.received.append((method, self.path))
        Sink.hosts.append(self.headers.get("Host", ""))
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/internal")
        else:
            self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[str]:
    Sink.received = []
    with serving(Sink) as base:
        yield base


NOTICE = {"number": "RC-1", "consignee_id": 7, "lines": []}
REPORT = {"reference": "TR-1"}


def test_a_refused_webhook_is_a_failed_sending_and_nothing_is_posted(sink: str) -> None:
    sent = channels.send_webhook(f"{sink}/recall", NOTICE, secret="s")
    assert not sent.ok and sent.detail.startswith("The webhook address 127.0.0.1 is this server")
    sent = channels.send_tracking_webhook(f"{sink}/tracking", REPORT, secret="s")
    assert not sent.ok and "is this server itself" in sent.detail
    assert Sink.received == []
    sent = channels.send_webhook(f"{sink}/recall", NOTICE, secret="s", allowed_hosts="127.0.0.1")
    assert sent == channels.Sent(True, "HTTP 202")
    assert Sink.received == [("POST", "/recall")]


def test_a_webhook_whose_name_now_resolves_internally_is_not_posted(
        sink: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Resolver(monkeypatch, "169.254.169.254")
    sent = channels.send_tracking_webhook("https://hooks.maker.example/tracking", REPORT,
                                          secret="s", allowed_hosts="127.0.0.1")
    assert not sent.ok
    assert sent.detail.startswith("The webhook address hooks.maker.example (169.254.169.254) "
                                  "is a link-local address")


def test_a_redirect_is_not_followed(sink: str) -> None:
    sent = channels.send_webhook(f"{sink}/moved", NOTICE, secret="s", allowed_hosts="127.0.0.1")
    assert not sent.ok
    assert sent.detail == ("HTTP 302: the webhook redirects to /internal; redirects are not "
                           "followed, give the final address")
    assert Sink.received == [("POST", "/moved")]


def test_the_post_goes_to_the_address_checked_not_to_a_new_dns_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name resolves to a public address when checked, then to this host.
    The connection is opened to the address checked; the Host header keeps the name."""
    import http.client
    import socket

    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    resolver = Resolver(monkeypatch, "93.184.216.34")
    original = resolver._answer

    def answer(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        resolver.addresses = next(answers, ["127.0.0.1"])
        return original(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    opened: list[tuple[str, int]] = []
    hosts: list[str] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        opened.append(address)
        raise ConnectionRefusedError("recorded, not made")

    def request(connection: http.client.HTTPConnection, *args: Any, **kwargs: Any) -> None:
        hosts.append(connection.host)
        connection.connect()

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(http.client.HTTPConnection, "request", request)
    sent = channels.send_webhook("https://hooks.customer.example:8443/recall", NOTICE, secret="s")
    assert not sent.ok and "recorded, not made" in sent.detail
    assert opened == [("93.184.216.34", 8443)]
    assert hosts == ["hooks.customer.example"]


def test_a_nat64_address_is_as_public_as_the_address_it_leads_to() -> None:
    assert check_webhook("https://[64:ff9b::808:808]/hook") == ("64:ff9b::808:808",)
    assert "is this server itself" in refusal("https://[64:ff9b::7f00:1]/hook").message


def test_an_ipv6_address_without_a_port_gets_its_scheme_s_port() -> None:
    from engine import netguard

    for url, port in (("https://[2606:4700:4700::1111]/hook", 443),
                      ("http://[2606:4700:4700::1111]/hook", 80),
                      ("https://[2606:4700:4700::1111]:8443/hook", 8443)):
        made = netguard.connection(url, ("2606:4700:4700::1111",), 5)
        assert (made.host, made.port) == ("2606:4700:4700::1111", port), url


def test_the_next_address_checked_is_tried_when_one_does_not_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from engine import netguard

    tried: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        tried.append(address)
        raise ConnectionRefusedError("recorded, not made")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    made = netguard.connection("https://hooks.customer.example/r",
                               ("2606:4700:4700::1111", "93.184.216.34"), 5)
    with pytest.raises(ConnectionRefusedError):
        made.connect()
    assert tried == [("2606:4700:4700::1111", 443), ("93.184.216.34", 443)]


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A certificate for the name localhost only, trusted by this test's default TLS context."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def test_https_to_the_address_checked_still_verifies_the_name(tls: tuple[Path, Path]) -> None:
    """Pinned to 127.0.0.1, the TLS handshake still checks the certificate against the URL's
    host name, and the server is sent that name as the Host."""
    Sink.received, Sink.hosts = [], []
    with serving(Sink, tls) as base:
        port = base.rsplit(":", 1)[1]
        sent = channels.send_webhook(f"https://localhost:{port}/recall", NOTICE, secret="s",
                                     allowed_hosts="127.0.0.1")
        assert sent == channels.Sent(True, "HTTP 202")
        assert Sink.received == [("POST", "/recall")] and Sink.hosts == [f"localhost:{port}"]
        # The same server by its address: the certificate names localhost only.
        sent = channels.send_webhook(f"{base}/recall", NOTICE, secret="s",
                                     allowed_hosts="127.0.0.1")
        assert not sent.ok and "certificate" in sent.detail.lower()
    assert len(Sink.received) == 1
