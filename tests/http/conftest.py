"""A real uvicorn server on a free loopback port, over a store in a fresh PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from http_support import LiveServer, serve
from support import make_settings

KEYS = "key-a:tenant-a,key-b:tenant-b,key-c:tenant-c"


@pytest.fixture(scope="module")
def server(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No API keys: the embedded default, one local tenant."""
    tmp: Path = tmp_path_factory.mktemp("http")
    yield from serve(make_settings("postgres", tmp, postgres_dsn, http_max_body_bytes=64 * 1024,
                                   http_max_batch_events=50, max_event_bytes=8 * 1024))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def keyed_server(request: pytest.FixtureRequest, postgres_dsn: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Three tenants, each with its key, on each backend."""
    tmp: Path = tmp_path_factory.mktemp("http-keys")
    yield from serve(make_settings(request.param, tmp, postgres_dsn, api_keys=KEYS))
