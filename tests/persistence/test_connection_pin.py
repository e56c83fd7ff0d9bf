"""A command's statements share one pooled connection, checked once
(infrastructure.persistence.connection_pin): nothing else about them changes. Real PostgreSQL."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from support import make_settings

from ctxstore.application.commands import LOCAL, Restore
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.persistence.connection_pin import ConnectionPin
from devtools.services import libpq_dsn


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each check the pools make before handing out a connection."""
    made: list[int] = []
    full = ConnectionPool.check_connection

    def counted(conn: Any) -> None:
        made.append(1)
        full(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return made


@pytest.fixture
def pinned_pool(fresh_pg_db: str) -> Any:
    pool: ConnectionPool[Any] = ConnectionPool(
        libpq_dsn(fresh_pg_db), min_size=2, max_size=4, open=False,
        kwargs={"autocommit": True}, check=ConnectionPool.check_connection)
    pin = ConnectionPin(pool)
    pool.open(wait=True)
    try:
        yield pool, pin
    finally:
        pool.close()


def backend(pool: ConnectionPool[Any]) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def test_a_restore_command_checks_one_connection(tmp_path: Path, fresh_pg_db: str,
                                                 checks: list[int]) -> None:
    services = bootstrap(make_settings("postgres", tmp_path, fresh_pg_db))
    try:
        agent = "pinned"
        services.store.record([make_envelope(agent, "message", {"role": "user",
                                                                "content": f"hello {i}"},
                                             event_id=str(uuid.uuid4())) for i in range(30)])
        checks.clear()
        services.store.summary(agent)
        services.store.summary(agent)
        assert len(checks) == 2  # outside a command: a check per statement, as before
        checks.clear()
        result = services.commands.restore(LOCAL, Restore(source_agent_id=agent, version=10,
                                                          target_agent_id="pinned-fork"))
        assert result.target_version == 1
        assert len(checks) == 1  # some ten statements, one connection checked once
        assert services.store.context("pinned-fork")["content_hash"] == result.content_hash
    finally:
        services.close()


def test_statements_in_turn_share_the_connection_and_nested_ones_do_not(
        pinned_pool: Any) -> None:
    pool, pin = pinned_pool
    with pin.pinned():
        first = backend(pool)
        assert backend(pool) == first
        with pool.connection() as conn, conn.transaction():
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (1)")
            # Inside that transaction: another connection, which does not see the row yet.
            with pool.connection() as other:
                assert other is not conn
                assert other.execute("SELECT to_regclass('kept')").fetchone() == (None,)
        assert backend(pool) == first
    assert pool.get_stats()["pool_available"] >= 2  # every connection given back


def test_a_pinned_connection_ended_is_let_go(pinned_pool: Any, fresh_pg_db: str) -> None:
    pool, pin = pinned_pool
    with pin.pinned():
        first = backend(pool)
        with psycopg.connect(libpq_dsn(fresh_pg_db), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            deadline = time.monotonic() + 30
            while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                (first,)).fetchone() != (0,):
                assert time.monotonic() < deadline, "the backend did not end"
                time.sleep(0.05)
        with pytest.raises(psycopg.OperationalError):
            backend(pool)
        # The same command goes on, on a connection checked afresh.
        assert backend(pool) != first
    assert backend(pool) != first
