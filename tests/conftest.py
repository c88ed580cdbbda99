"""Fixtures shared by the tests: tiny upstream-format datasets and a mirror on 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from tests.fakes import Mirror, TinyIdx, make_tiny_idx


@pytest.fixture
def tiny_idx(tmp_path) -> TinyIdx:
    return make_tiny_idx(tmp_path / "upstream")


@pytest.fixture
def mirror():
    state = Mirror(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state.hits.append(self.path)
            route = state.routes.get(self.path, 404)
            if isinstance(route, int):
                self.send_error(route)
                return
            slow = isinstance(route, tuple)
            body = route[1] if slow else route
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            step = 1024 if slow else len(body) or 1
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                if slow:
                    time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a mirror that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
