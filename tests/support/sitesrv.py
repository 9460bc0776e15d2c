"""The sample-site server for tests and benchmarks: the product's static server plus faults,
test routes and a request log.

``scheduler.staticsite.StaticSiteServer`` serves ``fixtures/site`` (static files, ``__BASE__``,
``_headers.json``, conditional GET, gzip). On top of it:

- A request log (:attr:`SiteServer.requests`, :meth:`SiteServer.hits`).
- Routes (:meth:`SiteServer.set_route`): one path answers with a given status, body and headers
  (Last-Modified is when the route was set), until :meth:`SiteServer.clear_routes`.
- Generated paths (:meth:`SiteServer.add_generated`): every path under a prefix from a function.
- Fault paths under ``/_fault/`` (see :meth:`_Handler._fault`): ``status/<code>``,
  ``slow``, ``stall``, ``huge``, ``gzipbomb``, ``redirect/<code>``, ``redirect-loop``,
  ``drop``, ``text``, ``headers``.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path, PurePosixPath

from scheduler.staticsite import (
    Query,
    Response,
    StaticHandler,
    StaticSiteServer,
    flag,
    http_date,
    mime_type,
    page,
)

__all__ = ["GeneratedHandler", "RequestRecord", "SiteServer"]

GeneratedHandler = Callable[[str], tuple[int, dict[str, str], bytes]]

DEFAULT_STALL_SECONDS = 60.0
# Faults that sleep or stream are bounded so a typo in a test cannot hang a run.
MAX_WAIT_SECONDS = 600.0
MAX_HUGE_MB = 512.0
MAX_BOMB_MB = 4096.0


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


class SiteServer(StaticSiteServer):
    """The static site server with a request log, routes, generated paths and faults."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(root, host, port)
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._active = 0  # requests being handled
        self._idle = threading.Condition(self._lock)
        self._routes: dict[str, _Route] = {}
        self._generated: list[tuple[str, GeneratedHandler, bool]] = []
        self._bomb_cache: dict[float, bytes] = {}
        self._last_route_time = 0.0

    def start(self) -> SiteServer:
        """Bind and serve in a daemon thread; returns self with :attr:`base_url` set."""
        self._stopping.clear()
        super().start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled and slow responses end at once, and their records are final when this
        returns (a request cut by the stop is logged as dropped, status 0). The port may be reused by start()."""
        self._stopping.set()
        super().stop()
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=10)

    def __enter__(self) -> SiteServer:
        return self.start()

    # -- test controls ---------------------------------------------------------------------

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

    def add_generated(self, prefix: str, handler: GeneratedHandler, *, conditional: bool = True) -> None:
        """Serve every path under ``prefix`` from ``handler(path_with_query) -> (status, headers, body)``;
        a 200 gets an ETag and answers a conditional GET, unless ``conditional`` is False (a server that sends
        no validators)."""
        with self._lock:
            self._generated.append((prefix, handler, conditional))

    # -- internals used by the handler -----------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)
            self._active += 1

    def _handled(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def _route_for(self, path: str, raw: str) -> _Route | None:
        with self._lock:
            return self._routes.get(raw) or self._routes.get(path)

    def _generated_for(self, path: str) -> tuple[GeneratedHandler, bool] | None:
        with self._lock:
            for prefix, handler, conditional in reversed(self._generated):
                if path.startswith(prefix):
                    return handler, conditional
        return None

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


def _number(query: Query, name: str, default: float, limit: float) -> float:
    try:
        value = float(query[name][-1]) if name in query else default
    except ValueError:
        value = default
    return max(0.0, min(value, limit))


class _Handler(StaticHandler):
    _record: RequestRecord | None = None

    @property
    def site(self) -> SiteServer:
        return self.server.site  # type: ignore[return-value]

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._record is not None:
            self._record.status = code
        super().send_response(code, message)

    def _handle(self) -> None:
        self._record = RequestRecord(self.command, self.path, dict(self.headers.items()))
        self.site._record(self._record)
        try:
            super()._handle()
        finally:
            self.site._handled()

    def dispatch(self, path: str, query: Query) -> None:
        route = self.site._route_for(path, self.path)
        if route is not None:
            self._serve_route(route, path, query)
            return
        generated = self.site._generated_for(path)
        if generated is not None:
            handler, conditional = generated
            status, headers, body = handler(self.path)
            self.send(Response(status, dict(headers), body), conditional=conditional and status == 200)
            return
        if path.startswith("/_fault/"):
            self._fault(path[len("/_fault/") :], query)
            return
        self.serve_file(path, query)

    def _serve_route(self, route: _Route, path: str, query: Query) -> None:
        if route.body is None and route.status == 200:
            self.serve_file(path, query, extra=route.headers)
            return
        body = self.site._substitute(route.body or b"")
        headers = {
            "Content-Type": mime_type(PurePosixPath(path), body),
            "Last-Modified": http_date(route.last_modified),
        }
        headers.update(route.headers)
        self.send(Response(route.status, headers, body), conditional=route.status == 200)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the server is stopping."""
        return not self.site._stopping.wait(seconds)

    # -- faults ----------------------------------------------------------------------------

    def _fault(self, name: str, query: Query) -> None:
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
                self.send(page(200, "Slow page", f"This page took {seconds:g} seconds."), conditional=True)
            else:
                self._drop()
        elif first == "stall":
            self._fault_stall(query)
        elif first == "huge":
            self._fault_huge(query)
        elif first == "gzipbomb":
            mb = _number(query, "mb", 100.0, MAX_BOMB_MB)
            self.send(
                Response(
                    200, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}, self.site._bomb(mb)
                )
            )
        elif first == "redirect":
            self._fault_redirect(rest, query)
        elif first == "redirect-loop":
            step = query.get("step", ["a"])[-1]
            target = "/_fault/redirect-loop?step=b" if step == "a" else "/_fault/redirect-loop"
            self.send(
                Response(
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
            self.send(Response(200, {"Content-Type": "application/json"}, body))
        else:
            self.send(page(404, "Unknown fault", f"No fault named {first!r}."))

    def _fault_status(self, rest: str, query: Query) -> None:
        try:
            code = int(rest.strip("/"))
            if not 100 <= code <= 599:
                raise ValueError
        except ValueError:
            self.send(page(400, "Bad fault", f"status/{rest}: not an HTTP status code"))
            return
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = "Status"
        response = page(code, f"{code} {reason}", f"The server answered {code} {reason}.")
        if "retry_after" in query:
            response.headers["Retry-After"] = query["retry_after"][-1]
        self.send(response)

    def _fault_stall(self, query: Query) -> None:
        seconds = _number(query, "seconds", DEFAULT_STALL_SECONDS, MAX_WAIT_SECONDS)
        stalled = page(200, "Stalled page", "This page stalled before it was sent. " * 20)
        if flag(query, "headers"):
            self.send_response(200)
            self.send_header("Content-Type", stalled.headers["Content-Type"])
            self.send_header("Content-Length", str(len(stalled.body)))
            self.end_headers()
            self.wfile.write(stalled.body[: len(stalled.body) // 2])
            self.wfile.flush()
            if self._wait(seconds) and self.command != "HEAD":
                self.wfile.write(stalled.body[len(stalled.body) // 2 :])
            else:
                self._drop()
            return
        if self._wait(seconds):
            self.send(stalled)
        else:
            self._drop()

    def _fault_huge(self, query: Query) -> None:
        mb = _number(query, "mb", 20.0, MAX_HUGE_MB)
        total = int(mb * 1_000_000)
        head = b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Huge page</title></head><body>\n'
        tail = b"</body></html>\n"
        with_length = bool(flag(query, "length"))
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

    def _fault_redirect(self, rest: str, query: Query) -> None:
        try:
            code = int(rest.strip("/") or "302")
        except ValueError:
            code = 0
        if code not in (301, 302, 303, 307, 308):
            self.send(page(400, "Bad fault", f"redirect/{rest}: use 301, 302, 303, 307 or 308"))
            return
        target = query.get("to", ["/"])[-1]
        location = self.site.base_url + target if target.startswith("/") else target
        self.send(
            Response(
                code,
                {"Location": location, "Content-Type": "text/html; charset=utf-8"},
                b'<html><body><a href="' + location.encode() + b'">moved</a></body></html>',
            )
        )

    def _fault_text(self, query: Query) -> None:
        charset = query.get("charset", ["utf-8"])[-1]
        text = query.get("body", [""])[-1]
        try:
            body = text.encode(charset)
        except (LookupError, UnicodeEncodeError):
            self.send(page(400, "Bad fault", f"text: cannot encode the body as {charset!r}"))
            return
        content_type = query.get("type", [f"text/html; charset={charset}"])[-1]
        try:
            status = int(query.get("status", ["200"])[-1])
        except ValueError:
            status = 200
        headers = {"Content-Type": content_type} if content_type else {}
        self.send(Response(status, headers, self.site._substitute(body)), conditional=status == 200)

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


SiteServer.handler_class = _Handler
