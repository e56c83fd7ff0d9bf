"""Connections the server ended are replaced before anyone uses them, all at once
(infrastructure.persistence.pool_check): psycopg_pool alone waited 1, 2, 4 s between failed
checks, 10.5 s for a pool of five."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool.pool
import pytest
from support import end_backends, make_settings

from ctxstore.application.store import ContextStore
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


@contextmanager
def three_events_and_ended_connections(tmp_path: Path, dsn: str, agent: str
                                       ) -> Iterator[ContextStore]:
    """A store whose `agent` has three events, and whose pooled connections the server has
    all ended since (the pool does not know yet)."""
    store = build_store(make_settings("postgres", tmp_path, dsn))
    try:
        for i in range(3):
            store.record([message(agent, i)])
        end_backends(dsn)
        yield store
    finally:
        store.close()


def test_a_write_to_a_held_agent_and_reads_of_it_take_their_connection_unchecked(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int]) -> None:
    """A write's one statement (the record function) and a read's first statement, an index
    read (the agent's row, which every door's read asks first) or the library's select of
    events (a held agent's newer ones, a history), go without the pool's round trip."""
    store = build_store(make_settings("postgres", tmp_path, fresh_pg_db))
    try:
        store.record([message("held", 0)])
        full_checks.clear()
        for i in range(1, 6):
            (outcome,) = store.record([message("held", i)]).outcomes
            assert (outcome.status, outcome.version) == ("recorded", i + 1)
        assert full_checks == []
        with store.one_connection.scope():  # a door's read: the agent's row, then the read
            assert store.summary("held") is not None
            assert store.context("held", tail=2)["version"] == 6
        assert full_checks == []
        assert [h.version for h in store.history("held")] == [1, 2, 3, 4, 5, 6]
        assert store.context("held", tail=2)["version"] == 6  # held: asks for newer events
        assert full_checks == []
    finally:
        store.close()


def test_a_held_agents_read_on_an_ended_connection_is_answered(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int]) -> None:
    """A held agent's latest read asks for its newer events (the library's select) on a
    connection the server ended (it skipped the check): it runs again on a checked
    connection and answers, newer events from elsewhere included."""
    settings = make_settings("postgres", tmp_path, fresh_pg_db)
    store = build_store(settings)
    try:
        for i in range(3):
            store.record([message("held", i)])
        other = build_store(settings)
        try:
            other.record([message("held", 3)])  # another process's write
        finally:
            other.close()
        end_backends(fresh_pg_db)
        full_checks.clear()
        assert store.context("held", tail=10)["version"] == 4
        assert full_checks, "the second try did not take a checked connection"
        assert store.context("held")["version"] == 4
    finally:
        store.close()


def test_an_unchecked_index_read_on_an_ended_connection_is_answered(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int]) -> None:
    """The agent's row asked on a connection the server ended (it skipped the check): the
    read runs again on a checked connection and answers."""
    with three_events_and_ended_connections(tmp_path, fresh_pg_db, "read") as store:
        full_checks.clear()
        summary = store.summary("read")
        assert summary is not None and summary.version == 3
        assert full_checks, "the second try did not take a checked connection"
        assert store.context("read")["version"] == 3


def test_an_unchecked_write_on_an_ended_connection_is_recorded_once(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int]) -> None:
    """The record function finds its connection ended (it skipped the check): it runs again
    on a checked connection, and the event is recorded once, at the next version."""
    with three_events_and_ended_connections(tmp_path, fresh_pg_db, "ended") as store:
        full_checks.clear()
        event = message("ended", 3)
        (outcome,) = store.record([event]).outcomes
        assert (outcome.status, outcome.version) == ("recorded", 4)
        assert full_checks, "the second try did not take a checked connection"
        assert store.index.known_event_ids([event.event_id])[event.event_id][1] == 4
        history = store.history("ended")
        assert [h.version for h in history] == [1, 2, 3, 4]
        assert history[-1].event_id == event.event_id
