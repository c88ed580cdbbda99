"""`convnets explore`: serve reports/explorer on 127.0.0.1 until Ctrl-C.

Browsers refuse to load WebAssembly from file:// pages, so the site needs a server; the
standard library's is enough. It listens on loopback only, on a free port unless one is given,
and names `.wasm` and `.mjs` with the MIME types browsers insist on for them.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import signal
import sys
from pathlib import Path
from typing import ClassVar

from convnets.config import Params
from convnets.errors import ConvnetsError

HOST = "127.0.0.1"
TYPES = {
    ".wasm": "application/wasm",  # WebAssembly.instantiateStreaming requires it
    ".mjs": "text/javascript",  # module scripts are refused with any non-JavaScript type
    ".js": "text/javascript",
    ".onnx": "application/octet-stream",
    ".json": "application/json",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def log_message(self, format: str, *args) -> None:  # one short line per request, stderr
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", type=Path, help="the site folder (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")


def server(site: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server for `site` on 127.0.0.1 (not yet serving); port 0 picks a free one."""
    if not (site / "index.html").is_file():
        raise ConvnetsError(f"{site}/index.html not found. Fix: `dvc repro explorer`.")
    handler = functools.partial(Handler, directory=str(site))
    return http.server.ThreadingHTTPServer((HOST, port), handler)


def run(args: argparse.Namespace, params: Params) -> None:
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: `convnets explore &` would outlive `kill -INT`. Ctrl-C always stops it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    httpd = server(args.site, args.port)
    print(f"serving {args.site} at http://{HOST}:{httpd.server_port}/ (Ctrl-C stops)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        httpd.server_close()
