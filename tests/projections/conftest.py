"""Fixtures of the projection tests: an isolated store with its views, on SQLite and real
PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from projection_support import Kit
from support import make_settings

from ctxstore.infrastructure.bootstrap import bootstrap, build_store, build_views


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def kit(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Kit]:
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    settings = make_settings(backend, tmp_path, dsn, max_checkpoints_per_agent=2,
                             snapshot_interval=25)
    store = build_store(settings)
    kit = Kit(settings, store, build_views(settings), bootstrap(settings, store=store))
    yield kit
    store.close()
