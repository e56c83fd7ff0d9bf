"""A command's statements share one pooled connection, checked once
(infrastructure.persistence.connection_pin): nothing else about them changes. Real PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from support import make_settings

from ctxstore.application.commands import LOCAL, Restore
from ctxstore.application.connection_scope import WriteLock
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.persistence.connection_pin import ConnectionPin
from devtools.services import libpq_dsn


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


def test_a_restore_command_takes_one_connection(tmp_path: Path, fresh_pg_db: str,
                                                 full_checks: list[int]) -> None:
    services = bootstrap(make_settings("postgres", tmp_path, fresh_pg_db))
    try:
        agent = "pinned"
        services.store.record([make_envelope(agent, "message", {"role": "user",
                                                                "content": f"hello {i}"},
                                             event_id=str(uuid.uuid4())) for i in range(30)])
        pool = services.store.factory.datastore.pool
        full_checks.clear()
        for _ in range(2):
            with pool.connection() as conn:
                conn.execute("SELECT 1")
        assert len(full_checks) == 2  # outside a command: a check per statement, as before
        full_checks.clear()
        taken = pool.get_stats().get("requests_num", 0)
        result = services.commands.restore(LOCAL, Restore(source_agent_id=agent, version=10,
                                                          target_agent_id="pinned-fork"))
        assert result.target_version == 1
        # Some ten statements on one connection, taken once, and without the check: the
        # first statement is an index read (the agents' rows), run again if it finds the
        # connection broken (pool_check).
        assert pool.get_stats().get("requests_num", 0) - taken == 1
        assert full_checks == []
        assert services.store.context("pinned-fork")["content_hash"] == result.content_hash
    finally:
        services.close()


def test_an_automatic_round_takes_one_connection_a_capture(tmp_path: Path,
                                                          fresh_pg_db: str) -> None:
    """A round of automatic checkpoints runs outside any command: each capture's statements
    (the agent's rows, the packages held, the event, the package rows, the operation row)
    share one connection all the same, checked once when the pool hands it out."""
    services = bootstrap(make_settings("postgres", tmp_path, fresh_pg_db))
    try:
        agents = ["auto-1", "auto-2"]
        services.store.record([make_envelope(agent, "message", {"role": "user",
                                                                "content": f"hello {i}"},
                                             event_id=str(uuid.uuid4()))
                               for agent in agents for i in range(12)])
        pool = services.store.factory.datastore.pool
        taken = pool.get_stats().get("requests_num", 0)
        report = services.checkpoints.capture_changed()
        assert sorted(c.agent_id for c in report.captured) == agents, report
        # One for the round's questions (retention, which agents changed), one a capture.
        requests = pool.get_stats().get("requests_num", 0) - taken
        assert requests == 1 + len(agents)
        # An agent's own schedule: its round (retention, the checks, the capture, the round's
        # row) on one connection too, after the claim of the round.
        auto = services.commands.use_cases.auto
        start = datetime(2030, 1, 1, tzinfo=UTC)
        auto.start(agents[0], LOCAL_TENANT, interval_minutes=1, max_checkpoints=3, now=start)
        services.store.record([make_envelope(agents[0], "message",
                                             {"role": "user", "content": "again"},
                                             event_id=str(uuid.uuid4()))])
        before = pool.get_stats().get("requests_num", 0)
        due = auto.run_due(start + timedelta(minutes=2), default=False)
        assert due.agent_rounds.get(agents[0]), due
        # The due schedules' question and the claim each take one, the round one.
        assert pool.get_stats().get("requests_num", 0) - before == 3
    finally:
        services.close()


def test_statements_in_turn_share_the_connection_and_nested_ones_do_not(
        pinned_pool: Any) -> None:
    pool, pin = pinned_pool
    with pin.scope():
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
    with pin.scope():
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


def test_a_thread_about_to_wait_gives_its_connection_to_the_pool(fresh_pg_db: str) -> None:
    """With every connection pinned by threads waiting for the store's write lock, its holder
    would wait for a connection: a thread lets go of its own before it waits."""
    pool: ConnectionPool[Any] = ConnectionPool(
        libpq_dsn(fresh_pg_db), min_size=1, max_size=1, open=False, timeout=60,
        kwargs={"autocommit": True}, check=ConnectionPool.check_connection)
    pin = ConnectionPin(pool)
    pool.open(wait=True)
    try:
        got: list[int] = []
        with pin.scope():
            first = backend(pool)  # the pool's only connection, pinned
            other = threading.Thread(target=lambda: got.append(backend(pool)))
            other.start()
            deadline = time.monotonic() + 30
            while pool.get_stats().get("requests_waiting", 0) == 0:
                assert time.monotonic() < deadline, "the other thread never asked"
                time.sleep(0.01)
            pin.let_go()
            other.join(60)
            assert got == [first]
            assert backend(pool) == first  # the scope takes one again
    finally:
        pool.close()


def test_the_write_lock_lets_go_only_when_it_has_to_wait() -> None:
    waits: list[int] = []
    lock = WriteLock(lambda: waits.append(1))
    with lock, lock:  # free, then held by this thread already: no wait
        assert waits == []
        waiter = threading.Thread(target=lambda: lock.__enter__() or lock.__exit__(None, None,
                                                                                  None))
        waiter.start()
        deadline = time.monotonic() + 30
        while not waits:
            assert time.monotonic() < deadline, "the waiting thread did not let go first"
            time.sleep(0.01)
    waiter.join(30)
    assert waits == [1] and not waiter.is_alive()


def test_commands_waiting_for_the_write_lock_never_starve_its_holder(
        tmp_path: Path, fresh_pg_db: str) -> None:
    """More commands at once than the pool has connections: forks take a connection for
    their first statement, then wait for the store's write lock, while writers take theirs
    only once they hold it. Were the waiting forks to keep their connections, a writer holding
    the lock would wait for one until the pool gave up (without `let_go`: "couldn't get a
    connection after 10.00 sec", every run); they give theirs back while they wait."""
    services = bootstrap(make_settings("postgres", tmp_path, fresh_pg_db,
                                       database_pool_size=1))  # at most 11 connections
    try:
        agent = "contended"
        services.store.record([make_envelope(agent, "message", {"role": "user",
                                                                "content": f"hello {i}"},
                                             event_id=str(uuid.uuid4())) for i in range(30)])
        forks, writers = 20, 4
        start = threading.Barrier(forks + writers)
        done: list[int] = []
        failed: list[BaseException] = []

        def fork(n: int) -> None:
            start.wait()
            try:
                for k in range(3):
                    services.commands.restore(LOCAL, Restore(
                        source_agent_id=agent, version=10 + k,
                        target_agent_id=f"contended-{n}-{k}"))
                    done.append(1)
            except BaseException as e:  # noqa: BLE001 - reported below
                failed.append(e)

        def write(n: int) -> None:
            # The store's own scope: its first statement comes once it holds the lock.
            start.wait()
            try:
                for i in range(30):
                    services.store.record([make_envelope(
                        f"writer-{n}", "message", {"role": "user", "content": f"w{i}"},
                        event_id=str(uuid.uuid4()))])
                    done.append(1)
            except BaseException as e:  # noqa: BLE001 - reported below
                failed.append(e)

        workers = [threading.Thread(target=fork, args=(n,)) for n in range(forks)]
        workers += [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert not failed, failed[:3]
        assert len(done) == forks * 3 + writers * 30
    finally:
        services.close()
