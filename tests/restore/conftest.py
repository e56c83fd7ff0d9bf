"""Fixtures of the restore tests: isolated stores with the restore use cases, on SQLite and
real PostgreSQL (a fresh schema per store)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from restore_support import Kit
from support import make_settings

from ctxstore.infrastructure.bootstrap import bootstrap, build_store


# Every storage backend by its own name; `hybrid` keeps checkpoint bodies as files.
@pytest.fixture(params=["sqlite", "postgres", "hybrid"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_kit(backend: str, tmp_path: Path, request: pytest.FixtureRequest
             ) -> Iterator[Callable[..., Kit]]:
    """Build isolated stores (each with its own file or schema) on the test's backend."""
    kits: list[Kit] = []

    def make(name: str = "one", **overrides: Any) -> Kit:
        dsn = request.getfixturevalue("postgres_dsn") if backend != "sqlite" else None
        overrides.setdefault("snapshot_interval", 5)
        settings = make_settings(backend, tmp_path / name, dsn, **overrides)
        store = build_store(settings)
        kit = Kit(settings, store, bootstrap(settings, store=store))
        kits.append(kit)
        return kit

    yield make
    for kit in kits:
        kit.store.close()


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    return make_kit()
