"""A local HTTP server for webhook tests: the test's own request handler on a free port."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler],
            certificate: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 (the tests' allowed webhook host) while the block runs;
    yields the base URL (http://127.0.0.1:PORT, or https:// with a certificate and key)."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    if certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if certificate else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
