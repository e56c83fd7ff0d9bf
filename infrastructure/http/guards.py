"""Guards against other web pages, checked before any route runs (one ASGI middleware).

Without API keys anything that reaches the server may read and rewind agents, and a web page the
user visits can reach a server on the user's machine in three ways; each has its guard:

- **DNS rebinding**: a page of `evil.example` re-points its name at 127.0.0.1, and is then
  same-origin with the server. Its requests carry `Host: evil.example`, so the `Host` must be a
  loopback name or address, the address the request arrived at (an IP literal: only pages of
  the server itself use it), or one of `CONTEXT_HTTP_ALLOWED_HOSTS`. With keys this check runs
  only when that setting is given: a rebound page has no key, and a keyed server is usually
  reached under names it cannot know (a proxy, a container's service name).
- **Cross-site requests**: a page may open a WebSocket to any address and POST to it without a
  CORS preflight. The browser names the page in `Origin`; on the WebSocket and every
  state-changing method it must be the server's own (the web page) or one of
  `CONTEXT_HTTP_ALLOWED_ORIGINS`. A request without `Origin` is not a browser's cross-site
  request and passes. This applies with keys too: it costs nothing (the HTTP API sends no CORS
  headers, so other pages cannot use it anyway) and keeps one rule for browsers.
- **Simple requests**: `text/plain`, form and multipart bodies need no preflight, so a
  state-changing request with a body must say `application/json` (the `.ctxpkg` types on
  package import); else 415. An empty body passes: the seed's routes carry their parameters in
  the query string.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = ("application/json",)
CTXPKG = "application/vnd.ctxstore.ctxpkg"
PACKAGE_TYPES = (CTXPKG, "application/octet-stream")
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def split_list(text: str | None) -> list[str]:
    """A comma-separated setting as its non-empty, stripped entries."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def host_name(host: str) -> str:
    """The name or address of a `Host` value, without port or IPv6 brackets, lowercased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback(name: str) -> bool:
    """`localhost` (and its subdomains, which browsers resolve to loopback) or a loopback IP."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normal_origin(origin: str) -> str | None:
    """`scheme://host[:port]`, lowercased and without the scheme's default port; None when it
    is not an origin (e.g. `null`, sent by sandboxed frames and local files)."""
    parts = urlsplit(origin.strip().lower())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{_without_default_port(parts.netloc, parts.scheme)}"


def _without_default_port(netloc: str, scheme: str) -> str:
    port = DEFAULT_PORTS.get(scheme)
    if port and netloc.endswith(f":{port}") and not netloc.endswith("]"):
        return netloc[: -len(port) - 1]
    return netloc


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class GuardPolicy:
    """What the guards allow; `body_types(path)` gives a route's accepted body media types."""

    check_host: bool
    allowed_hosts: frozenset[str]
    allowed_origins: frozenset[str]
    body_types: Callable[[str], tuple[str, ...]]

    @classmethod
    def build(cls, *, keyed: bool, allowed_hosts: str, allowed_origins: str,
              body_types: Callable[[str], tuple[str, ...]]) -> GuardPolicy:
        hosts = frozenset(h if h == "*" else host_name(h) for h in split_list(allowed_hosts))
        origins: set[str] = set()
        for entry in split_list(allowed_origins):
            found = "*" if entry == "*" else normal_origin(entry)
            if found is None:
                raise ValueError(f"CONTEXT_HTTP_ALLOWED_ORIGINS: {entry!r} is not an origin "
                                 "(scheme://host[:port])")
            origins.add(found)
        return cls(check_host=not keyed or bool(hosts), allowed_hosts=hosts,
                   allowed_origins=frozenset(origins), body_types=body_types)

    def host_refusal(self, host: str | None, local_address: str | None) -> str | None:
        """Why this `Host` is refused, or None. No `Host` at all is no browser's request."""
        if not self.check_host or host is None or "*" in self.allowed_hosts:
            return None
        name = host_name(host)
        if is_loopback(name) or name in self.allowed_hosts or (
                local_address is not None and name == local_address.lower()):
            return None
        return (f"Host {host!r} is not one this server answers to (a loopback name, its own "
                "address, or CONTEXT_HTTP_ALLOWED_HOSTS); a page that re-points its DNS name "
                "at this server is refused")

    def origin_refusal(self, origin: str | None, host: str | None) -> str | None:
        """Why this `Origin` is refused, or None: the page's own origin and listed ones pass."""
        if origin is None or "*" in self.allowed_origins:
            return None
        found = normal_origin(origin)
        if found is not None:
            if found in self.allowed_origins:
                return None
            origin_scheme, netloc = found.split("://", 1)
            if host is not None and netloc == _without_default_port(host.strip().lower(),
                                                                     origin_scheme):
                return None
        return (f"Origin {origin!r} is another site: cross-site requests may not change state "
                "or open the WebSocket (list trusted origins in CONTEXT_HTTP_ALLOWED_ORIGINS)")


class BrowserGuards:
    """ASGI middleware applying a GuardPolicy to HTTP requests and WebSocket handshakes."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope["headers"])
        server = scope.get("server")
        hosts, host = headers.get("host", []), _first(headers, "host")
        for refusal in (self.policy.host_refusal(h, server[0] if server else None)
                        for h in hosts):
            if refusal is not None:
                await refuse(scope, receive, send, 400, "header.host", refusal)
                return
        changes_state = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        if changes_state:
            for refusal in (self.policy.origin_refusal(o, host)
                            for o in headers.get("origin", [])):
                if refusal is not None:
                    await refuse(scope, receive, send, 403, "header.origin", refusal)
                    return
        if scope["type"] == "http" and changes_state:
            accepted = self.policy.body_types(scope["path"])
            declared = _first(headers, "content-type")
            if declared is None or media_type(declared) not in accepted:
                replay = await self._only_empty_body(scope, receive, send, headers, accepted)
                if replay is None:
                    return
                receive = replay
        await self.app(scope, receive, send)

    async def _only_empty_body(self, scope: Scope, receive: Receive, send: Send,
                               headers: dict[str, list[str]], accepted: tuple[str, ...]
                               ) -> Receive | None:
        """A body of another type is refused (415, None returned); an empty one passes, and the
        returned `receive` replays what was read to find out."""
        declared = _first(headers, "content-type")
        wanted = " or ".join(accepted)
        message = (f"Content-Type must be {wanted} for a request with a body (got {declared!r})"
                   if declared else
                   f"Content-Type is missing: a request with a body must be {wanted}")
        length = _first(headers, "content-length")
        if length is not None and length.strip().isdigit():
            if int(length) > 0:
                await refuse(scope, receive, send, 415, "header.content-type", message)
                return None
            return receive
        read: list[Message] = []
        while True:
            item = await receive()
            read.append(item)
            if item["type"] != "http.request":
                break
            if item.get("body"):
                await refuse(scope, receive, send, 415, "header.content-type", message)
                return None
            if not item.get("more_body", False):
                break

        async def replay() -> Message:
            return read.pop(0) if read else await receive()

        return replay


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    """Every value of each header, by lowercase name: a request naming two hosts or two
    origins must pass the check with each."""
    found: dict[str, list[str]] = {}
    for name, value in raw:
        found.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return found


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, field: str,
                  message: str) -> None:
    """The error as every route gives it (`{detail, errors}`); a WebSocket handshake is
    answered with that HTTP response where the server can, else closed before it opens."""
    body = json.dumps({"detail": message, "errors": [
        {"field": field, "message": message, "index": None}]}).encode()
    start = {"status": status, "headers": [(b"content-type", b"application/json"),
                                           (b"content-length", str(len(body)).encode())]}
    if scope["type"] == "http":
        await send({"type": "http.response.start", **start})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", **start})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})


def bind_refusal(host: str, *, keyed: bool, allow_unauthenticated_remote: bool) -> str | None:
    """Why `ctxstore serve` must not listen on `host`, or None: without keys, anyone who can
    reach a non-loopback address could read and rewind every agent."""
    if keyed or allow_unauthenticated_remote or is_loopback(host_name(host)):
        return None
    return (f"refusing to serve on {host} without API keys: anyone who can reach it could read "
            "and rewind every agent; set CONTEXT_API_KEYS, or pass "
            "--allow-unauthenticated-remote (CONTEXT_HTTP_ALLOW_UNAUTHENTICATED_REMOTE=true) "
            "on a network you trust")
