"""A real uvicorn server on a free loopback port, over a store in a fresh PostgreSQL schema."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from support import make_settings

from infrastructure.http.app import create_app
from infrastructure.settings import Settings

KEYS = "key-a:tenant-a,key-b:tenant-b"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings)
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


@pytest.fixture(scope="module")
def server(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No API keys: the embedded default, one local tenant."""
    tmp: Path = tmp_path_factory.mktemp("http")
    yield from serve(make_settings("postgres", tmp, postgres_dsn, http_max_body_bytes=64 * 1024,
                                   http_max_batch_events=50, max_event_bytes=8 * 1024))


@pytest.fixture(scope="module")
def keyed_server(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[LiveServer]:
    """Two tenants, each with its key."""
    tmp: Path = tmp_path_factory.mktemp("http-keys")
    yield from serve(make_settings("postgres", tmp, postgres_dsn, api_keys=KEYS))
