"""The request size limit, enforced before a body is buffered (413 with a clear message).

Checked on the declared Content-Length and again on the bytes actually received, so a chunked
upload without a length cannot get past it either.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body reading re-raises it as it is (not as a 400)."""

    def __init__(self, limit: int | None = None, message: str | None = None):
        super().__init__(413, message or too_large_message(limit or 0))


def too_large_message(limit: int) -> str:
    return (f"request body is over the limit of {limit} bytes (CONTEXT_HTTP_MAX_BODY_BYTES; "
            "send events in smaller batches)")


class BodySizeLimit:
    """ASGI middleware; `limit_for(path)` gives a route its own limit (e.g. package import)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]):
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(send, limit)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, limit)

    @staticmethod
    async def _reject(send: Send, limit: int) -> None:
        body = json.dumps({"detail": too_large_message(limit),
                           "errors": [{"field": "(body)", "message": too_large_message(limit),
                                       "index": None}]}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
