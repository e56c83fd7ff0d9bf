"""Connections the server ended are replaced before anyone uses them, all at once
(infrastructure.persistence.pool_check): psycopg_pool alone waited 1, 2, 4 s between failed
checks, 10.5 s for a pool of five."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool.pool
import pytest
from support import make_settings

from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store
from devtools.services import libpq_dsn


def message(agent: str, i: int) -> Any:
    return make_envelope(agent, "message", {"role": "user", "content": f"hello {i}"},
                         event_id=str(uuid.uuid4()))


def test_connections_the_server_ended_are_replaced_unseen(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
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
        # The first statement after finds its connection ended and has the pool check the
        # other idle ones at once: psycopg_pool backs off once, not once per ended connection.
        backoffs: list[float] = []
        real_sleep = psycopg_pool.pool.sleep

        def counted_sleep(seconds: float) -> None:
            backoffs.append(seconds)
            real_sleep(seconds)

        monkeypatch.setattr(psycopg_pool.pool, "sleep", counted_sleep)
        store.record([message(agent, 5)])
        assert len(backoffs) <= 1, backoffs
        for i in range(6, 25):
            store.record([message(agent, i)])
            assert store.context(agent)["version"] == i + 1
        assert full_checks, "the ended connections were not checked"
    finally:
        store.close()
