"""A real uvicorn server on a free loopback port (helpers the HTTP tests import by name)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.settings import Settings
from devtools.services import free_port


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: Any

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws"

    def client(self, key: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)


def serve(settings: Settings, **app_options: Any) -> Iterator[LiveServer]:
    """`app_options`: create_app's keywords."""
    app = create_app(bootstrap(settings), **app_options)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ws="websockets-sansio", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def serve_two(first: Settings, second: Settings, **second_options: Any
              ) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers at once (often over one store, to compare their answers); `second_options`:
    the second's create_app keywords."""
    one, two = serve(first), serve(second, **second_options)
    try:
        yield next(one), next(two)
    finally:
        one.close()
        two.close()
