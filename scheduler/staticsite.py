"""A small static HTTP server for the bundled sample news site (``newswatch demo``).

It serves ``fixtures/site`` on 127.0.0.1 the way a plain web server would, with what the site
needs to look real to the crawler. Standard library only, so it runs wherever newswatch is
installed. The tests extend it with fault injection and a request log (``tests/support``).

What it serves:

- Static files under ``root``. The bytes ``__BASE__`` are replaced by :attr:`StaticSiteServer.base_url`.
  A directory serves its ``index.html``. Paths with a segment starting with ``_`` or ``.`` are
  not served (``_headers.json`` is configuration, not content).
- ``Content-Type`` by extension; ``.xml`` is sniffed: RSS → ``application/rss+xml``, Atom →
  ``application/atom+xml``, anything else ``application/xml``. HTML carries no charset unless
  ``_headers.json`` adds one, so pages must declare their own, as many real sites do.
- ``_headers.json`` maps a path or ``fnmatch`` glob (matched against the path without query) to
  response headers; entries apply in file order, later ones win; a ``null`` value removes a
  header (for example ``{"Content-Type": null}`` sends none).
- Conditional GET: a strong ETag (hash of the body) and a Last-Modified (the file's mtime, whole
  seconds). ``If-None-Match`` wins over ``If-Modified-Since``, as RFC 9110 says; either can
  answer 304.
- Gzip: when the request accepts gzip, ``.xml`` files are always sent with
  ``Content-Encoding: gzip`` (as many feed servers do); other files only with ``?gz=1``;
  ``?gz=0`` turns it off. A ``Content-Encoding`` set by ``_headers.json`` means the file is
  already encoded and is sent as is.
"""

from __future__ import annotations

import email.utils
import fnmatch
import gzip
import hashlib
import ipaddress
import json
import mimetypes
import socket
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from crawler.errors import UsageError

__all__ = ["Response", "StaticHandler", "StaticSiteServer"]

BASE_PLACEHOLDER = b"__BASE__"

_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".gz": "application/gzip",
    ".css": "text/css",
    ".js": "text/javascript",
}

Query = dict[str, list[str]]


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class StaticSiteServer:
    """Serves a directory over HTTP on 127.0.0.1 in a daemon thread; see the module docstring."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        if host != "localhost":
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise UsageError(f"site server host {host!r} is not a loopback address; use 127.0.0.1")
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise UsageError(f"site root {self.root} is not a directory")
        self.host = host
        self.port = port
        self.base_url = ""
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._header_rules = self._load_header_rules()

    handler_class: type[StaticHandler]  # set below, once StaticHandler exists

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> StaticSiteServer:
        """Bind and serve in a daemon thread; returns self with :attr:`base_url` set."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), self.handler_class)
        httpd.site = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}" if self.host != "localhost" else f"http://localhost:{self.port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sitesrv:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections. The port may be reused by start()."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StaticSiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- used by the handler ---------------------------------------------------------------

    def _load_header_rules(self) -> list[tuple[str, dict[str, str | None]]]:
        file = self.root / "_headers.json"
        if not file.is_file():
            return []
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{file}: not valid JSON ({exc}); fix or remove it") from exc
        if not isinstance(data, dict):
            raise UsageError(f"{file}: expected an object mapping paths to header objects")
        rules = []
        for pattern, headers in data.items():
            if pattern.startswith("//"):  # a comment key
                continue
            if not isinstance(headers, dict):
                raise UsageError(f"{file}: {pattern!r} must map to an object of headers")
            rules.append((pattern, headers))
        return rules

    def _header_overrides(self, path: str) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for pattern, headers in self._header_rules:
            if path == pattern or fnmatch.fnmatchcase(path, pattern):
                out.update(headers)
        return out

    def _substitute(self, body: bytes) -> bytes:
        return body.replace(BASE_PLACEHOLDER, self.base_url.encode("ascii"))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    site: StaticSiteServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, object]:
        conn, addr = super().get_request()
        with self._conn_lock:
            self.open_connections.add(conn)
        return conn, addr

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-request (a crawler dropping a kept-alive connection) is not an error:
        nothing is printed. Anything else is printed as socketserver does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._conn_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection, so keep-alive clients cannot reach a stopped server."""
        with self._conn_lock:
            conns = list(self.open_connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def mime_type(path: PurePosixPath, body: bytes) -> str:
    """Content-Type by extension; ``.xml`` sniffed for RSS and Atom."""
    suffix = path.suffix.lower()
    if suffix == ".xml":
        head = body[:1024].lstrip(b"\xef\xbb\xbf \r\n\t")
        if b"<rss" in head or b"<rdf:RDF" in head:
            return "application/rss+xml"
        if b"<feed" in head:
            return "application/atom+xml"
        return "application/xml"
    if suffix in _TYPES:
        return _TYPES[suffix]
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def flag(query: Query, name: str) -> bool | None:
    """A yes/no query parameter; None when absent."""
    if name not in query:
        return None
    return query[name][-1].lower() not in ("0", "false", "no", "")


def page(status: int, title: str, text: str) -> Response:
    """A small HTML page."""
    body = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>\n"
    ).encode()
    return Response(status, {"Content-Type": "text/html; charset=utf-8"}, body)


class StaticHandler(BaseHTTPRequestHandler):
    """Serves the site's files; subclasses add paths by overriding :meth:`dispatch`."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "newswatch-sitesrv/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections do not pin handler threads forever

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # a sample site needs no access log on stderr

    @property
    def site(self) -> StaticSiteServer:
        return self.server.site

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            self.dispatch(path, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def dispatch(self, path: str, query: Query) -> None:
        """Answer one request for ``path`` (unquoted, without query)."""
        self.serve_file(path, query)

    def serve_file(self, path: str, query: Query, extra: dict[str, str] | None = None) -> None:
        file = self._resolve(path)
        if file is None:
            self.send(page(404, "Not Found", "The page you requested does not exist."))
            return
        rel = PurePosixPath(path)
        if file.name == "index.html" and not path.endswith(".html"):
            rel = rel / "index.html"
        body = self.site._substitute(file.read_bytes())
        headers: dict[str, str] = {
            "Content-Type": mime_type(rel, body),
            "Last-Modified": http_date(float(int(file.stat().st_mtime))),
        }
        overrides: dict[str, str | None] = dict(self.site._header_overrides(path))
        overrides.update(extra or {})
        for name, value in overrides.items():
            # Header names are case-insensitive: drop any spelling before setting.
            for key in [k for k in headers if k.lower() == name.lower()]:
                del headers[key]
            if value is not None:
                headers[name] = value
        pre_encoded = any(k.lower() == "content-encoding" for k in headers)
        gz = flag(query, "gz")
        wants_gzip = gz if gz is not None else rel.suffix.lower() == ".xml"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "").lower()
        if not pre_encoded and wants_gzip and accepts:
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
            body = gzip.compress(body, mtime=0)
        self.send(Response(200, headers, body), conditional=True)

    def _resolve(self, path: str) -> Path | None:
        parts = [p for p in PurePosixPath(path).parts if p != "/"]
        if any(p.startswith((".", "_")) or p == ".." for p in parts):
            return None
        file = self.site.root.joinpath(*parts) if parts else self.site.root
        try:
            file = file.resolve()
            file.relative_to(self.site.root)
        except (OSError, ValueError):
            return None
        if file.is_dir():
            file = file / "index.html"
        return file if file.is_file() else None

    def send(self, response: Response, *, conditional: bool = False) -> None:
        """Send a whole response; ``conditional`` adds an ETag and may answer 304 instead."""
        headers = dict(response.headers)
        body = response.body
        if conditional:
            headers.setdefault("ETag", etag(body))
            if self._not_modified(headers):
                keep = {
                    k: v for k, v in headers.items() if k.lower() in ("etag", "last-modified", "vary", "cache-control")
                }
                self.send(Response(304, keep, b""))
                return
        no_body = response.status in (204, 304) or 100 <= response.status < 200
        self.send_response(response.status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        if not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and not no_body:
            self.wfile.write(body)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        inm = self.headers.get("If-None-Match")
        tag = headers.get("ETag", "")
        if inm is not None:
            if inm.strip() == "*":
                return True
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return tag.removeprefix("W/") in tags
        ims = self.headers.get("If-Modified-Since")
        lm = headers.get("Last-Modified")
        if ims and lm:
            try:
                since = email.utils.parsedate_to_datetime(ims)
                modified = email.utils.parsedate_to_datetime(lm)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None or modified.tzinfo is None:
                return False
            return modified <= since
        return False


StaticSiteServer.handler_class = StaticHandler
