"""The query string and path are UTF-8, checked strictly before any route runs.

Starlette percent-decodes them with `errors="replace"`: a client sending `?label=%ED%A0%80` or
`%FF` would get its bytes silently turned into U+FFFD and stored as such. Here the raw bytes
(`scope["query_string"]`, `scope["raw_path"]`) are percent-decoded strictly, once, for every
route and the WebSocket alike; invalid UTF-8 is a 422 naming `query.<name>` (or `path`), and
nothing runs.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from ctxstore.infrastructure.http.guards import refuse

NOT_UTF8 = "is not valid UTF-8 once percent-decoded (bytes that are not text were sent)"


def _decoded(raw: bytes) -> str | None:
    """`raw` percent-decoded as UTF-8, or None when its bytes are not UTF-8."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def query_refusal(query_string: bytes) -> tuple[str, str] | None:
    """(field, message) for the first query parameter whose name or value is not UTF-8."""
    for pair in query_string.split(b"&"):
        raw_name, _, raw_value = pair.replace(b"+", b" ").partition(b"=")
        name = _decoded(raw_name)
        if name is None:
            shown = unquote_to_bytes(raw_name).decode("utf-8", "backslashreplace")
            return f"query.{shown}", f"the parameter name {NOT_UTF8}"
        if _decoded(raw_value) is None:
            return f"query.{name}", f"the value {NOT_UTF8}"
    return None


class StrictUrlText:
    """ASGI middleware refusing a query string or path that is not UTF-8 (422)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refusal = query_refusal(scope.get("query_string", b""))
            raw_path = scope.get("raw_path")
            if refusal is None and raw_path is not None and _decoded(raw_path) is None:
                refusal = ("path", f"the path {NOT_UTF8}")
            if refusal is not None:
                await refuse(scope, receive, send, 422, *refusal)
                return
        await self.app(scope, receive, send)
