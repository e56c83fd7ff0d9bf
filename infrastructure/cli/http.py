"""`ctxstore serve`: the HTTP API, WebSocket and web page under uvicorn, in one process or in
several workers.

Several workers stay correct because nothing they must agree on lives in one of them: the
automatic checkpoint rounds are claimed in the database (application.schedule_port: each round
runs once whichever worker's runner sees it due), live followers poll the agent catalogue
besides this process's own wake-ups (http.hub), so a follower on one worker sees what another
recorded, and metrics go through prometheus-client's multiprocess files (http.metrics), so
`/metrics` from any worker counts them all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from ctxstore.infrastructure.bootstrap import build_http_app
from ctxstore.infrastructure.cli.errors import err_console, fail, friendly_errors
from ctxstore.infrastructure.process_tuning import tune_process
from ctxstore.infrastructure.settings import load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client when it is imported


def worker_app() -> FastAPI:
    """One worker's app (uvicorn's factory, called in each worker process): the settings come
    from the environment the workers inherit."""
    settings = load_settings()
    app = build_http_app(settings)
    tune_process(settings)
    return app


@contextmanager
def shared_metrics_dir() -> Iterator[str]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this server's workers (removed when it stops), or
    the one the environment names (its owner clears it between runs)."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        os.makedirs(given, exist_ok=True)
        yield given
        return
    made = tempfile.mkdtemp(prefix="ctxstore-metrics-")
    os.environ[MULTIPROC_DIR] = made
    try:
        yield made
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(made, ignore_errors=True)


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[int, typer.Option(
        help="Worker processes (uvicorn's). On two cores one gives the lower p99 (each "
             "worker reads and caches a new version itself) and two more cached answers a "
             "second (bench/http.py). Metrics, checkpoint rounds and live follow stay right "
             "with several.", min=1, max=64)] = 1,
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
    if workers == 1:
        app = build_http_app(settings)
        tune_process(settings)
        uvicorn.run(app, host=host, port=port, log_level=log_level, ws="websockets-sansio")
        return
    with shared_metrics_dir():  # set before uvicorn spawns the workers, which inherit it
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers, host=host,
                    port=port, log_level=log_level, ws="websockets-sansio")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
