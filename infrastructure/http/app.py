"""The FastAPI application factory: `create_app(services)` wires routes, auth, limits, metrics
over the services the composition root built.

Stores are blocking (psycopg, sqlite3): routes are plain `def` (FastAPI runs them in its
threadpool) or hand their work to `run_in_threadpool`, so the event loop never waits on I/O.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctxstore.domain.events import Envelope
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.http import ws
from ctxstore.infrastructure.http.auth import KeyRing, parse_api_keys
from ctxstore.infrastructure.http.cache import StateCache
from ctxstore.infrastructure.http.deps import Api
from ctxstore.infrastructure.http.errors import install_error_handlers
from ctxstore.infrastructure.http.fast_reads import FastContextReads, context_route
from ctxstore.infrastructure.http.guards import (
    JSON_TYPES,
    PACKAGE_TYPES,
    BrowserGuards,
    GuardPolicy,
)
from ctxstore.infrastructure.http.limits import BodySizeLimit
from ctxstore.infrastructure.http.log_redaction import install_log_redaction
from ctxstore.infrastructure.http.metrics import Metrics, instrument_store
from ctxstore.infrastructure.http.pages import SecurityHeaders, install_pages
from ctxstore.infrastructure.http.routes import (
    agents,
    auto_checkpoints,
    metrics_summary,
    ops,
    packages,
    search,
)
from ctxstore.infrastructure.http.url_text import StrictUrlText

API_PREFIX = "/api/v1"
#: The API's routers under API_PREFIX, in the order a path is matched (the embedded client,
#: client.embedded, matches calls against them too).
API_ROUTERS = (agents.router, packages.router, search.router, metrics_summary.router,
               auto_checkpoints.router, ws.router)
IMPORT_PATH = f"{API_PREFIX}/context/packages/import"
MIB = 1024 * 1024

DESCRIPTION = """Event-sourced context store for AI agents: record what happens to an agent,
read its context at any point, capture checkpoints, restore or fork them.

**Access.** When `CONTEXT_API_KEYS` is set (`key1:tenantA,key2:tenantB`) every `/api/v1` route,
the WebSocket and `/metrics` need a key (header `X-API-Key`, or `Authorization: Bearer <key>`;
a browser's WebSocket sends it as the subprotocol `ctxstore.key.<base64url of the key>` beside
`ctxstore`; a key in the URL is refused, since URLs are logged). Each tenant has its own agents,
event ids and checkpoint ids (two tenants may both have `support-bot-1`); another tenant's are
invisible (404). A `private` checkpoint is its tenant's alone, a `shared` one is also readable
by the tenants in its `shared_with`, a `public` one may be read and restored from by any
tenant. Without keys there is one local tenant.

**Other web pages** cannot use the API: an unknown `Host` is refused (400, without keys), a
cross-site `Origin` on the WebSocket or a state-changing request is refused (403) unless listed
in `CONTEXT_HTTP_ALLOWED_ORIGINS`, and a state-changing request with a body must be
`application/json` (a `.ctxpkg` type on package import), else 415.

**Errors** are JSON `{detail, errors: [{field, message, index}]}`; `field` is the path of the
offending value (e.g. `query.limit`, `data.role`).
"""


class RequestMetrics:
    """Counts requests and their durations by route template (not raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_seconds.labels(method, route).observe(
                time.perf_counter() - started)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the envelope models the events route validates by hand."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    envelope = TypeAdapter(Envelope).json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in envelope.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["Envelope"] = envelope
    app.openapi_schema = schema
    return schema


def create_app(services: Services, *, close_on_shutdown: bool = True,
               fast_reads: bool = True) -> FastAPI:
    """The API over the composition root's services (infrastructure/bootstrap.py): it starts
    their checkpoint runner for as long as it serves and, unless told otherwise, closes them on
    shutdown. `fast_reads`: GET context's fast path (http.fast_reads), off only to compare
    its answers with FastAPI's."""
    settings = services.settings
    keys = KeyRing(parse_api_keys(settings.api_keys))
    api = Api(services=services, keys=keys, states=StateCache(settings.http_state_cache_bytes),
              compress_min_bytes=(settings.http_compression_min_bytes
                                  if settings.http_compression else None))
    _ = services.views  # the views' tables exist before the first request reads them
    instrument_store(services.store, api.metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Automatic checkpoints (and retention) run for as long as the server does.
        runner = app.state.checkpoint_runner = services.runner
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                await run_in_threadpool(runner.stop_and_wait)  # a round in progress ends
            if close_on_shutdown:
                services.close()

    app = FastAPI(title="ctxstore", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.api = api
    install_error_handlers(app)

    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(ops.router)

    package_limit = int(settings.max_package_size_mb * MIB)

    def limit_for(path: str) -> int:
        if path.startswith(IMPORT_PATH):
            return package_limit
        return settings.http_max_body_bytes

    def body_types(path: str) -> tuple[str, ...]:
        if path.startswith(IMPORT_PATH):
            return PACKAGE_TYPES
        return JSON_TYPES

    # The last added runs first: security headers on every answer, metrics counting every
    # request, then the guards, then strict UTF-8 in the URL, then the size limit, then GET
    # context's fast path.
    if fast_reads:
        app.add_middleware(FastContextReads, api=api, route=context_route(agents.router.routes),
                           prefix=API_PREFIX)
    app.add_middleware(BodySizeLimit, limit_for=limit_for)
    app.add_middleware(StrictUrlText)

    app.add_middleware(BrowserGuards, policy=GuardPolicy.build(
        keyed=keys.enabled, allowed_hosts=settings.http_allowed_hosts,
        allowed_origins=settings.http_allowed_origins, body_types=body_types))
    app.add_middleware(RequestMetrics, metrics=api.metrics)
    app.add_middleware(SecurityHeaders)
    install_pages(app)
    install_log_redaction()
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
