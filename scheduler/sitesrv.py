"""A local HTTP server for the sample news site, with conditional GET and injectable faults.

Tests, ``newswatch demo`` and the benchmarks serve ``fixtures/site`` with it on 127.0.0.1.
Standard library only, so it runs wherever newswatch is installed.

What it serves:

- Static files under ``root``. The bytes ``__BASE__`` are replaced by :attr:`SiteServer.base_url`.
  A directory serves its ``index.html``. Paths with a segment starting with ``_`` or ``.`` are
  not served (``_headers.json`` is configuration, not content).
- ``Content-Type`` by extension; ``.xml`` is sniffed: RSS → ``application/rss+xml``, Atom →
  ``application/atom+xml``, anything else ``application/xml``. HTML carries no charset unless
  ``_headers.json`` adds one, so pages must declare their own, as many real sites do.
- ``_headers.json`` maps a path or ``fnmatch`` glob (matched against the path without query) to
  response headers; entries apply in file order, later ones win; a ``null`` value removes a
  header (for example ``{"Content-Type": null}`` sends none).
- Conditional GET: a strong ETag (hash of the body) and a Last-Modified (the file's mtime, whole
  seconds; for routes, when the route was set). ``If-None-Match`` wins over
  ``If-Modified-Since``, as RFC 9110 says; either can answer 304.
- Gzip: when the request accepts gzip, ``.xml`` files are always sent with
  ``Content-Encoding: gzip`` (as many feed servers do); other files only with ``?gz=1``;
  ``?gz=0`` turns it off. A ``Content-Encoding`` set by ``_headers.json`` means the file is
  already encoded and is sent as is.
- Fault paths under ``/_fault/`` (see :meth:`_Handler._fault`): ``status/<code>``,
  ``slow``, ``stall``, ``huge``, ``gzipbomb``, ``redirect/<code>``, ``redirect-loop``,
  ``drop``, ``text``, ``headers``.
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
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from crawler.errors import UsageError

__all__ = ["RequestRecord", "SiteServer", "GeneratedHandler"]

GeneratedHandler = Callable[[str], tuple[int, dict[str, str], bytes]]

BASE_PLACEHOLDER = b"__BASE__"
DEFAULT_STALL_SECONDS = 60.0
# Faults that sleep or stream are bounded so a typo in a test cannot hang a run.
MAX_WAIT_SECONDS = 600.0
MAX_HUGE_MB = 512.0
MAX_BOMB_MB = 4096.0
_CHUNK = 64 * 1024

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


@dataclass
class RequestRecord:
    """One request as the server saw it; ``status`` is None while in progress, 0 if dropped."""

    method: str
    path: str
    headers: dict[str, str]
    status: int | None = None


@dataclass
class _Route:
    status: int
    body: bytes | None
    headers: dict[str, str]
    last_modified: float


@dataclass
class _Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class SiteServer:
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
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._routes: dict[str, _Route] = {}
        self._generated: list[tuple[str, GeneratedHandler]] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._header_rules = self._load_header_rules()
        self._bomb_cache: dict[float, bytes] = {}
        self._last_route_time = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SiteServer:
        """Bind and serve in a daemon thread; returns self with :attr:`base_url` set."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self.port), _Handler)
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
        """Stop serving; stalled and slow responses end at once. The port may be reused by start()."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def hits(self, path_prefix: str, status: int | None = None) -> int:
        """Number of requests whose path (with query) starts with the prefix, optionally of one status."""
        with self._lock:
            return sum(
                1 for r in self.requests if r.path.startswith(path_prefix) and (status is None or r.status == status)
            )

    def clear_log(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.requests.clear()

    def set_route(
        self, path: str, *, status: int = 200, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """Override one path (exact, with or without query) until :meth:`clear_routes`.

        ``body=None`` with status 200 serves the file at that path with the given headers;
        otherwise the body is served (``__BASE__`` substituted) with ETag/Last-Modified.
        """
        with self._lock:
            # Strictly increasing, so a route changed within one second still looks newer.
            now = max(float(int(time.time())), self._last_route_time + 1)
            self._last_route_time = now
            self._routes[path] = _Route(status, body, dict(headers or {}), now)

    def clear_routes(self) -> None:
        """Remove every override set with :meth:`set_route`."""
        with self._lock:
            self._routes.clear()

    def add_generated(self, prefix: str, handler: GeneratedHandler) -> None:
        """Serve every path under ``prefix`` from ``handler(path_with_query) -> (status, headers, body)``."""
        with self._lock:
            self._generated.append((prefix, handler))

    # -- internals used by the handler -----------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _route_for(self, path: str, raw: str) -> _Route | None:
        with self._lock:
            return self._routes.get(raw) or self._routes.get(path)

    def _generated_for(self, path: str) -> GeneratedHandler | None:
        with self._lock:
            for prefix, handler in reversed(self._generated):
                if path.startswith(prefix):
                    return handler
        return None

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

    def _bomb(self, mb: float) -> bytes:
        with self._lock:
            cached = self._bomb_cache.get(mb)
        if cached is not None:
            return cached
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
        parts = [comp.compress(b"<!DOCTYPE html><html><head><title>bomb</title></head><body><p>")]
        block = b" " * (1 << 20)
        for _ in range(int(mb)):
            parts.append(comp.compress(block))
        parts.append(comp.compress(b" " * int((mb - int(mb)) * (1 << 20))))
        parts.append(comp.compress(b"</p></body></html>"))
        parts.append(comp.flush())
        data = b"".join(parts)
        with self._lock:
            self._bomb_cache[mb] = data
        return data


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    site: SiteServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, object]:
        conn, addr = super().get_request()
        with self._conn_lock:
            self.open_connections.add(conn)
        return conn, addr

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


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _mime(path: PurePosixPath, body: bytes) -> str:
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


def _flag(query: dict[str, list[str]], name: str) -> bool | None:
    if name not in query:
        return None
    return query[name][-1].lower() not in ("0", "false", "no", "")


def _number(query: dict[str, list[str]], name: str, default: float, limit: float) -> float:
    try:
        value = float(query[name][-1]) if name in query else default
    except ValueError:
        value = default
    return max(0.0, min(value, limit))


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "newswatch-sitesrv/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections do not pin handler threads forever
    _record: RequestRecord | None = None

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log is self.site.requests; stderr noise would drown test output

    @property
    def site(self) -> SiteServer:
        return self.server.site

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._record is not None:
            self._record.status = code
        super().send_response(code, message)

    # -- dispatch --------------------------------------------------------------------------

    def _handle(self) -> None:
        self._record: RequestRecord | None = RequestRecord(self.command, self.path, dict(self.headers.items()))
        self.site._record(self._record)
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            route = self.site._route_for(path, self.path)
            if route is not None:
                self._serve_route(route, path, query)
                return
            generated = self.site._generated_for(path)
            if generated is not None:
                status, headers, body = generated(self.path)
                self._send(_Response(status, dict(headers), body), conditional=status == 200)
                return
            if path.startswith("/_fault/"):
                self._fault(path[len("/_fault/") :], query)
                return
            self._serve_file(path, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _serve_route(self, route: _Route, path: str, query: dict[str, list[str]]) -> None:
        if route.body is None and route.status == 200:
            self._serve_file(path, query, extra=route.headers)
            return
        body = self.site._substitute(route.body or b"")
        headers = {"Content-Type": _mime(PurePosixPath(path), body), "Last-Modified": _http_date(route.last_modified)}
        headers.update(route.headers)
        self._send(_Response(route.status, headers, body), conditional=route.status == 200)

    def _serve_file(self, path: str, query: dict[str, list[str]], extra: dict[str, str] | None = None) -> None:
        file = self._resolve(path)
        if file is None:
            self._send(_page(404, "Not Found", "The page you requested does not exist."))
            return
        rel = PurePosixPath(path)
        if file.name == "index.html" and not path.endswith(".html"):
            rel = rel / "index.html"
        body = self.site._substitute(file.read_bytes())
        headers: dict[str, str] = {
            "Content-Type": _mime(rel, body),
            "Last-Modified": _http_date(float(int(file.stat().st_mtime))),
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
        gz = _flag(query, "gz")
        wants_gzip = gz if gz is not None else rel.suffix.lower() == ".xml"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "").lower()
        if not pre_encoded and wants_gzip and accepts:
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
            body = gzip.compress(body, mtime=0)
        self._send(_Response(200, headers, body), conditional=True)

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

    # -- sending ---------------------------------------------------------------------------

    def _send(self, response: _Response, *, conditional: bool = False) -> None:
        headers = dict(response.headers)
        body = response.body
        if conditional:
            headers.setdefault("ETag", _etag(body))
            if self._not_modified(headers):
                keep = {
                    k: v for k, v in headers.items() if k.lower() in ("etag", "last-modified", "vary", "cache-control")
                }
                self._send(_Response(304, keep, b""))
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
        etag = headers.get("ETag", "")
        if inm is not None:
            if inm.strip() == "*":
                return True
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return etag.removeprefix("W/") in tags
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

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the server is stopping."""
        return not self.site._stopping.wait(seconds)

    # -- faults ----------------------------------------------------------------------------

    def _fault(self, name: str, query: dict[str, list[str]]) -> None:
        """Dispatch ``/_fault/<name>``.

        - ``status/<code>[?retry_after=N]``: that status with a small page; Retry-After if asked.
        - ``slow?seconds=N``: waits N seconds (default 1), then a small page.
        - ``stall?seconds=N[&headers=1]``: sends nothing for N seconds (default 60), then a small
          page; with ``headers=1`` sends the headers and half the body first. Ends when the server stops.
        - ``huge?mb=N[&length=1]``: a valid HTML page of N MB (default 20) streamed without
          Content-Length (the connection closes at the end); ``length=1`` sends Content-Length.
        - ``gzipbomb?mb=N``: a small gzip body that decompresses to N MB (default 100) of HTML.
        - ``redirect/<code>?to=<path or URL>``: a redirect (301, 302, 303, 307, 308).
        - ``redirect-loop``: two URLs redirecting (302) to each other forever.
        - ``drop``: closes the connection without any response.
        - ``text?body=..&type=..&charset=..&status=..``: the body encoded in ``charset``
          (default utf-8) with the given Content-Type (default text/html; charset=<charset>).
        - ``headers``: the request headers as JSON (what a client sent: user agent, validators).
        """
        first, _, rest = name.partition("/")
        if first == "status":
            self._fault_status(rest, query)
        elif first == "slow":
            seconds = _number(query, "seconds", 1.0, MAX_WAIT_SECONDS)
            if self._wait(seconds):
                self._send(_page(200, "Slow page", f"This page took {seconds:g} seconds."), conditional=True)
            else:
                self._drop()
        elif first == "stall":
            self._fault_stall(query)
        elif first == "huge":
            self._fault_huge(query)
        elif first == "gzipbomb":
            mb = _number(query, "mb", 100.0, MAX_BOMB_MB)
            self._send(
                _Response(
                    200, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}, self.site._bomb(mb)
                )
            )
        elif first == "redirect":
            self._fault_redirect(rest, query)
        elif first == "redirect-loop":
            step = query.get("step", ["a"])[-1]
            target = "/_fault/redirect-loop?step=b" if step == "a" else "/_fault/redirect-loop"
            self._send(
                _Response(
                    302,
                    {"Location": self.site.base_url + target, "Content-Type": "text/plain; charset=utf-8"},
                    b"loop\n",
                )
            )
        elif first == "drop":
            self._drop()
        elif first == "text":
            self._fault_text(query)
        elif first == "headers":
            body = json.dumps(dict(self.headers.items()), ensure_ascii=False, indent=1).encode("utf-8")
            self._send(_Response(200, {"Content-Type": "application/json"}, body))
        else:
            self._send(_page(404, "Unknown fault", f"No fault named {first!r}."))

    def _fault_status(self, rest: str, query: dict[str, list[str]]) -> None:
        try:
            code = int(rest.strip("/"))
            if not 100 <= code <= 599:
                raise ValueError
        except ValueError:
            self._send(_page(400, "Bad fault", f"status/{rest}: not an HTTP status code"))
            return
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = "Status"
        response = _page(code, f"{code} {reason}", f"The server answered {code} {reason}.")
        if "retry_after" in query:
            response.headers["Retry-After"] = query["retry_after"][-1]
        self._send(response)

    def _fault_stall(self, query: dict[str, list[str]]) -> None:
        seconds = _number(query, "seconds", DEFAULT_STALL_SECONDS, MAX_WAIT_SECONDS)
        page = _page(200, "Stalled page", "This page stalled before it was sent. " * 20)
        if _flag(query, "headers"):
            self.send_response(200)
            self.send_header("Content-Type", page.headers["Content-Type"])
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body[: len(page.body) // 2])
            self.wfile.flush()
            if self._wait(seconds) and self.command != "HEAD":
                self.wfile.write(page.body[len(page.body) // 2 :])
            else:
                self._drop()
            return
        if self._wait(seconds):
            self._send(page)
        else:
            self._drop()

    def _fault_huge(self, query: dict[str, list[str]]) -> None:
        mb = _number(query, "mb", 20.0, MAX_HUGE_MB)
        total = int(mb * 1_000_000)
        head = b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Huge page</title></head><body>\n'
        tail = b"</body></html>\n"
        with_length = bool(_flag(query, "length"))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if with_length:
            self.send_header("Content-Length", str(max(total, len(head) + len(tail))))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.write(head)
        remaining = total - len(head) - len(tail)
        n = 0
        while remaining > 0:
            if self.site._stopping.is_set():
                self._drop()
                return
            # Varied paragraphs: a page that repeats one block is not what real huge pages look like.
            chunk = b"".join(
                b"<p>Paragraph %d of a very long page about nothing in particular, line %d.</p>\n" % (n + i, i)
                for i in range(800)
            )
            n += 800
            chunk = chunk[:remaining]
            self.wfile.write(chunk)
            remaining -= len(chunk)
        self.wfile.write(tail)

    def _fault_redirect(self, rest: str, query: dict[str, list[str]]) -> None:
        try:
            code = int(rest.strip("/") or "302")
        except ValueError:
            code = 0
        if code not in (301, 302, 303, 307, 308):
            self._send(_page(400, "Bad fault", f"redirect/{rest}: use 301, 302, 303, 307 or 308"))
            return
        target = query.get("to", ["/"])[-1]
        location = self.site.base_url + target if target.startswith("/") else target
        self._send(
            _Response(
                code,
                {"Location": location, "Content-Type": "text/html; charset=utf-8"},
                b'<html><body><a href="' + location.encode() + b'">moved</a></body></html>',
            )
        )

    def _fault_text(self, query: dict[str, list[str]]) -> None:
        charset = query.get("charset", ["utf-8"])[-1]
        text = query.get("body", [""])[-1]
        try:
            body = text.encode(charset)
        except (LookupError, UnicodeEncodeError):
            self._send(_page(400, "Bad fault", f"text: cannot encode the body as {charset!r}"))
            return
        content_type = query.get("type", [f"text/html; charset={charset}"])[-1]
        try:
            status = int(query.get("status", ["200"])[-1])
        except ValueError:
            status = 200
        headers = {"Content-Type": content_type} if content_type else {}
        self._send(_Response(status, headers, self.site._substitute(body)), conditional=status == 200)

    def _drop(self) -> None:
        """Close the connection without (further) response bytes."""
        if self._record is not None and self._record.status is None:
            self._record.status = 0
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            # SO_LINGER 0: closing sends a reset, so the client sees the connection die.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


def _page(status: int, title: str, text: str) -> _Response:
    body = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>\n"
    ).encode()
    return _Response(status, {"Content-Type": "text/html; charset=utf-8"}, body)
