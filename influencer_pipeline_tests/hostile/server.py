"""A local HTTP server that misbehaves on purpose: redirects anywhere, web pages, bodies that
never end, bodies that drip a few bytes at a time, lies about sizes. It counts every request, so
a test can also prove that a refused URL was never requested at all."""

from __future__ import annotations

import contextlib
import gzip
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from influencer_pipeline_tests.hostile.media import HTML_PAGE

DRIP_BYTES = 10  # bytes per drip
DRIP_PAUSE_S = 0.05  # pause between drips: far below any read timeout
ENDLESS_CAP = 256 * 1024 * 1024  # the "endless" body stops here, in case a client never does
GZIP_BOMB_BYTES = 64 * 1024 * 1024  # what the gzip bomb inflates to


class HostileHandler(BaseHTTPRequestHandler):
    """Routes by the first path segment: ``/video``, ``/to/<url>``, ``/drip/<n>``, ...

    The query string does not take part in routing (a route may read it from ``self.path``).
    """

    protocol_version = "HTTP/1.1"
    server: HostileServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        """Log nothing."""

    def do_GET(self) -> None:
        """Count the request, then dispatch on the first path segment."""
        self.server.hits[self.path] += 1
        head, *args = self.path.split("?", 1)[0].strip("/").split("/")  # query: for the route
        route = getattr(self, f"route_{head.replace('-', '_')}", None)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if route is None:
                self.send_body(404, b"<html><title>Not Found</title></html>", "text/html")
            else:
                route(args)

    def send_body(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
        """A complete response with Content-Length (extra ``headers``: ``_`` becomes ``-``)."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def route_video(self, _: list[str]) -> None:
        """A small, real MP4."""
        self.send_body(200, self.server.video, "video/mp4")

    def route_status(self, args: list[str]) -> None:
        """An error page with the given status."""
        self.send_body(int(args[0]), b"<html><title>Not here</title></html>", "text/html")

    def redirect(self, location: str) -> None:
        """302 to ``location``."""
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_to(self, args: list[str]) -> None:
        """302 to the (percent-encoded) URL after ``/to/``."""
        self.redirect(unquote("/".join(args)))

    def route_loop(self, _: list[str]) -> None:
        """302 to itself."""
        self.route_to(["/loop"])

    def route_html(self, _: list[str]) -> None:
        """A web page with status 200, announced as a web page."""
        self.send_body(200, HTML_PAGE, "text/html; charset=utf-8")

    def route_html_as_video(self, _: list[str]) -> None:
        """A web page with status 200, announced as video/mp4."""
        self.send_body(200, HTML_PAGE, "video/mp4")

    def route_empty(self, _: list[str]) -> None:
        """A 200 with no body."""
        self.send_body(200, b"", "video/mp4")

    def route_big_declared(self, _: list[str]) -> None:
        """Declares 50 MB, sends the small video, hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(50_000_000))
        self.end_headers()
        self.wfile.write(self.server.video)
        self.close_connection = True

    def route_endless(self, _: list[str]) -> None:
        """A chunked body that goes on (up to ENDLESS_CAP) until the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = (self.server.video * (65536 // len(self.server.video) + 1))[:65536]
        sent = 0
        while sent < ENDLESS_CAP:
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        self.wfile.write(b"0\r\n\r\n")

    def route_gzip_bomb(self, _: list[str]) -> None:
        """64 MiB of zeros gzip-compressed to ~64 kB, sent although we asked for no encoding."""
        body = self.server.gzip_bomb()
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_short(self, _: list[str]) -> None:
        """Declares the video's length, sends half, hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(self.server.video)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(self.server.video[: len(self.server.video) // 2])
        self.close_connection = True

    def _drip(self, total: int, chunked: bool) -> None:
        """``total`` bytes of video, DRIP_BYTES every DRIP_PAUSE_S: never silent, never done."""
        body = (self.server.video * (total // len(self.server.video) + 1))[:total]
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{total:x}\r\n".encode())  # one chunk, announced whole
        else:
            self.send_header("Content-Length", str(total))
            self.end_headers()
        for start in range(0, total, DRIP_BYTES):
            self.wfile.write(body[start : start + DRIP_BYTES])
            self.wfile.flush()
            time.sleep(DRIP_PAUSE_S)
        if chunked:
            self.wfile.write(b"\r\n0\r\n\r\n")

    def route_drip(self, args: list[str]) -> None:
        """``/drip/<n>``: n bytes with a Content-Length, dripped."""
        self._drip(int(args[0]), chunked=False)

    def route_drip_chunked(self, args: list[str]) -> None:
        """``/drip-chunked/<n>``: one n-byte chunk, dripped."""
        self._drip(int(args[0]), chunked=True)


class HostileServer(ThreadingHTTPServer):
    """The threaded server; ``hits`` counts requests by path."""

    daemon_threads = True
    video: bytes
    hits: Counter[str]

    _bomb: bytes = b""

    def gzip_bomb(self) -> bytes:
        """The gzip bomb body (made once)."""
        if not self._bomb:
            self._bomb = gzip.compress(bytes(GZIP_BOMB_BYTES), compresslevel=9)
        return self._bomb

    @property
    def base(self) -> str:
        """``http://<host>:<port>`` (127.0.0.1 unless ``serve`` was given another host)."""
        return f"http://{self.server_address[0]}:{self.server_address[1]}"


@contextlib.contextmanager
def serve(
    video: bytes,
    handler: type[HostileHandler] = HostileHandler,
    ssl_context: ssl.SSLContext | None = None,
    host: str = "127.0.0.1",
) -> Iterator[HostileServer]:
    """Run a HostileServer on ``host`` (a free port) serving ``video`` at ``/video``.

    ``handler``: a subclass with more routes; ``ssl_context``: serve HTTPS with it.
    """
    httpd = HostileServer((host, 0), handler)
    httpd.video = video
    httpd.hits = Counter()
    if ssl_context is not None:
        httpd.socket = ssl_context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
