"""The web page and the API docs (`/docs`, `/redoc`), served from this package's files and the
Swagger UI / ReDoc assets that `fastapi-offline` ships, so they work without a network; and the
headers that keep other sites from framing them or running scripts in them.

Every HTTP response gets `X-Content-Type-Options: nosniff`, a Content-Security-Policy with
`frame-ancestors 'none'` (and `X-Frame-Options: DENY` for old browsers) and no referrer. The
policy allows scripts, styles and connections from this server only; the pages carry no inline
script. ReDoc alone injects `<style>` elements and builds a search worker from a blob, so
`/redoc` widens `style-src` and `worker-src` for itself.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
REDOC_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + (
    "; worker-src 'self' blob:")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware: adds SECURITY_HEADERS to every HTTP response that has not set them."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in self.extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def install_pages(app: FastAPI) -> None:
    """`/` (the web page), `/static`, `/docs`, `/redoc` and their assets under `/docs-assets`.
    The app must be made with `docs_url=None, redoc_url=None` (FastAPI's own load a CDN)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> FileResponse:
        return FileResponse(STATIC / "redoc.html",
                            headers={"Content-Security-Policy": REDOC_CSP})
