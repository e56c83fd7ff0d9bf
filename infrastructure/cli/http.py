"""`ctxstore serve`: the HTTP API, WebSocket and web page under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from infrastructure.cli.errors import friendly_errors


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (/api/v1), the WebSocket, the web page (/), /metrics and /healthz."""
    import uvicorn

    from infrastructure.bootstrap import build_http_app
    from infrastructure.gc_tuning import tune_gc
    from infrastructure.settings import Settings

    settings = Settings()
    app = build_http_app(settings)
    tune_gc(settings.gc_young_threshold)
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws="websockets-sansio")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
