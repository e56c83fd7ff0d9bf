"""A pooled connection leaves the pool without a round trip while it is quiet, and one the
server gave up on is replaced before anyone uses it (infrastructure.persistence.pool_check)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from support import make_settings

from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store
from devtools.services import libpq_dsn


def message(agent: str, i: int) -> Any:
    return make_envelope(agent, "message", {"role": "user", "content": f"hello {i}"},
                         event_id=str(uuid.uuid4()))


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each full check (a round trip) the pools make."""
    made: list[int] = []
    full = ConnectionPool.check_connection

    def counted(conn: Any) -> None:
        made.append(1)
        full(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return made


def test_a_quiet_connection_leaves_the_pool_without_a_round_trip(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int]) -> None:
    store = build_store(make_settings("postgres", tmp_path, fresh_pg_db))
    try:
        agent = "quiet"
        for i in range(20):
            store.record([message(agent, i)])
            assert store.context(agent)["version"] == i + 1
        assert full_checks == []
    finally:
        store.close()


def test_connections_the_server_ended_are_replaced_unseen(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int]) -> None:
    store = build_store(make_settings("postgres", tmp_path, fresh_pg_db))
    dbname = fresh_pg_db.rsplit("/", 1)[1].split("?", 1)[0]
    try:
        agent = "ended"
        for i in range(5):
            store.record([message(agent, i)])
        with psycopg.connect(libpq_dsn(fresh_pg_db), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchall()
            assert ended
            deadline = time.monotonic() + 30
            while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                "AND pid <> pg_backend_pid()", (dbname,)).fetchone() != (0,):
                assert time.monotonic() < deadline, "the backends did not end"
                time.sleep(0.05)
        # Every pooled connection now has the server's last word on its socket.
        for i in range(5, 25):
            store.record([message(agent, i)])
            assert store.context(agent)["version"] == i + 1
        assert full_checks, "the ended connections were not checked"
    finally:
        store.close()
