"""`ctxstore serve`: the HTTP API, WebSocket and web page under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from ctxstore.infrastructure.bootstrap import build_http_app
from ctxstore.infrastructure.cli.errors import err_console, fail, friendly_errors
from ctxstore.infrastructure.gc_tuning import tune_gc
from ctxstore.infrastructure.settings import load_settings


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    allow_unauthenticated_remote: Annotated[bool, typer.Option(
        "--allow-unauthenticated-remote",
        help="Listen on a non-loopback address without CONTEXT_API_KEYS (unsafe: anyone who "
             "can reach it reads and rewinds every agent). Also "
             "CONTEXT_HTTP_ALLOW_UNAUTHENTICATED_REMOTE.")] = False,
) -> None:
    """Serve the HTTP API (/api/v1), the WebSocket, the web page (/), /docs, /metrics and
    /healthz. Without API keys it listens on loopback only, unless told otherwise."""
    # The HTTP door and uvicorn are imported here: every other command would pay their
    # import time (FastAPI, Starlette, uvicorn: ~0.2 s) for nothing.
    import uvicorn

    from ctxstore.infrastructure.http.auth import parse_api_keys
    from ctxstore.infrastructure.http.guards import bind_refusal, host_name, is_loopback

    settings = load_settings()
    keyed = bool(parse_api_keys(settings.api_keys))
    allowed = allow_unauthenticated_remote or settings.http_allow_unauthenticated_remote
    refusal = bind_refusal(host, keyed=keyed, allow_unauthenticated_remote=allowed)
    if refusal is not None:
        fail(refusal, code=2)
    if not keyed and not is_loopback(host_name(host)):
        err_console.print(f"[bold yellow]warning:[/] serving on {host} without API keys: "
                          "every agent is open to anyone who can reach it", highlight=False,
                          soft_wrap=True)
    app = build_http_app(settings)
    tune_gc(settings.gc_young_threshold)
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws="websockets-sansio")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
