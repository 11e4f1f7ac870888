"""A stand-in for the resolver, so tests of webhook addresses never need the internet, and a
record of every HTTP connection the code under test tried to open."""

from __future__ import annotations

import http.client
import socket
from typing import Any

import pytest


class Resolver:
    """Every host name resolves to `addresses` (change them between steps: a DNS answer that
    changes after the address was saved). `asked` lists the names looked up."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[str] = []
        monkeypatch.setattr(socket, "getaddrinfo", self._answer)

    def _answer(self, host: str, *args: Any, **kwargs: Any) -> list[Any]:
        self.asked.append(host)
        if not self.addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6,
                 "", (address, 0)) for address in self.addresses]


def record_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts HTTP(S) connections were opened to; each attempt fails as if unreachable."""
    opened: list[str] = []

    def connect(connection: http.client.HTTPConnection) -> None:
        opened.append(connection.host)
        raise ConnectionRefusedError("connections are recorded, not made, in this test")

    monkeypatch.setattr(http.client.HTTPConnection, "connect", connect)
    return opened
