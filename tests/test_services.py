"""The test services: the shared fixtures, and starting real servers where none answers."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import nats
import psycopg
import pytest

from devtools.services import (
    ensure_nats,
    ensure_postgres,
    free_port,
    libpq_dsn,
    nats_info,
    postgres_answers,
    with_database,
)


async def _jetstream_round_trip(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        token = uuid.uuid4().hex[:12]
        stream = f"CTXTEST_{token}"
        subject = f"ctxtest.{token}.events"
        await js.add_stream(name=stream, subjects=[f"ctxtest.{token}.>"])
        try:
            ack = await js.publish(subject, b"hello", headers={"Nats-Msg-Id": token})
            assert ack.stream == stream
            assert ack.seq == 1
            duplicate = await js.publish(subject, b"hello", headers={"Nats-Msg-Id": token})
            assert duplicate.duplicate

            stored = await js.get_msg(stream, ack.seq)
            assert stored.data == b"hello"
            assert stored.subject == subject

            sub = await js.pull_subscribe(subject, durable=f"reader_{token}", stream=stream)
            (msg,) = await sub.fetch(1, timeout=30)  # a generous deadline
            assert msg.data == b"hello"
            await msg.ack()
        finally:
            await js.delete_stream(stream)
    finally:
        await nc.close()


def test_postgres_fixture_runs_a_query(postgres_dsn: str) -> None:
    with psycopg.connect(libpq_dsn(postgres_dsn)) as conn:
        row = conn.execute("SELECT 1 + 1, current_setting('server_version_num')::int").fetchone()
    assert row is not None
    assert row[0] == 2
    assert row[1] >= 130000  # DROP DATABASE ... WITH (FORCE) needs 13+


_dropped_check: dict[str, object] = {}


def test_fresh_pg_db_is_a_new_empty_database(fresh_pg_db: str) -> None:
    name = fresh_pg_db.rsplit("/", 1)[1].split("?")[0]
    assert name.startswith("ctx_test_") and len(name) == len("ctx_test_") + 12
    with psycopg.connect(libpq_dsn(fresh_pg_db)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    # a connection left open does not stop the fixture from dropping the database (WITH FORCE)
    lingering = psycopg.connect(libpq_dsn(fresh_pg_db))
    lingering.execute("SELECT 1")
    _dropped_check.update(name=name, connection=lingering)


def test_fresh_pg_db_is_dropped_afterwards(postgres_dsn: str) -> None:
    if not _dropped_check:
        pytest.skip("runs after test_fresh_pg_db_is_a_new_empty_database")
    lingering = _dropped_check.pop("connection")
    assert isinstance(lingering, psycopg.Connection)
    lingering.close()
    with psycopg.connect(libpq_dsn(postgres_dsn)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (_dropped_check["name"],)
        ).fetchone()
    assert row == (0,)


def test_sqlite_path_is_in_the_tests_tmp_dir(sqlite_path: Path, tmp_path: Path) -> None:
    assert sqlite_path == tmp_path / "ctx.sqlite"
    assert not sqlite_path.exists()


async def test_nats_fixture_has_jetstream(nats_url: str) -> None:
    info = nats_info(nats_url)
    assert info is not None and info["jetstream"] is True
    await _jetstream_round_trip(nats_url)


def test_ensure_on_answering_services_starts_nothing(postgres_dsn: str, nats_url: str) -> None:
    pg = ensure_postgres(postgres_dsn)
    assert not pg.started and pg.dsn == postgres_dsn
    pg.stop()  # a no-op for a server we did not start
    assert postgres_answers(postgres_dsn)

    ns = ensure_nats(nats_url)
    assert not ns.started and ns.url == nats_url
    ns.stop()
    assert nats_info(nats_url) is not None


async def test_ensure_nats_starts_a_server_where_none_listens(tmp_path: Path) -> None:
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    assert nats_info(url) is None

    handle = ensure_nats(url, base_dir=tmp_path)
    try:
        assert handle.started
        assert handle.url == url
        assert handle.pid is not None
        assert handle.data_dir is not None and handle.data_dir.is_relative_to(tmp_path)
        await _jetstream_round_trip(handle.url)
    finally:
        handle.stop()

    assert nats_info(url) is None
    assert handle.root_dir is not None and not handle.root_dir.exists()


@pytest.mark.timeout(180)
def test_ensure_postgres_starts_an_embedded_server_where_none_listens() -> None:
    port = free_port()
    dsn = f"postgresql://postgres@127.0.0.1:{port}/ctx_embedded"
    assert not postgres_answers(dsn)

    handle = ensure_postgres(dsn, timeout=120)
    try:
        assert handle.started
        assert handle.dsn == dsn
        assert handle.pid is not None
        with psycopg.connect(handle.dsn) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (41), (1)")
            assert conn.execute("SELECT sum(x), current_database() FROM t").fetchone() == (
                42,
                "ctx_embedded",
            )
        assert postgres_answers(with_database(handle.dsn, "postgres"))
    finally:
        handle.stop()

    assert not postgres_answers(dsn)
    assert handle.root_dir is not None and not handle.root_dir.exists()


def test_closing_the_services_closes_the_views_connections(
        tmp_path: Path, postgres_dsn: str) -> None:
    """A process that lives on after them (a test, an embedding application) gets every
    connection back, the views' pool too (a suite of served apps ran PostgreSQL out of
    connections before)."""
    from support import make_settings

    from ctxstore.infrastructure.bootstrap import bootstrap

    services = bootstrap(make_settings("postgres", tmp_path, postgres_dsn))
    pool = services.views.factory.datastore.pool  # type: ignore[attr-defined]
    assert not pool.closed
    services.close()
    assert pool.closed
    services.close()  # twice is harmless


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    """Servers are started on these later: a port the kernel may give to an outgoing
    connection meanwhile (its ephemeral range) could be taken before the server binds it."""
    low, high = (int(x) for x in
                 Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [free_port() for _ in range(60)]
    assert len(set(ports)) == len(ports)
    assert all(p < low for p in ports), [p for p in ports if p >= low]
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_or_handed_out_before_is_not_handed_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from devtools import services

    monkeypatch.setattr(services, "_handed_out", set())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        busy = held.getsockname()[1]
        candidates = [busy, free_port(), free_port()]
        monkeypatch.setattr(services, "_server_ports", lambda: candidates)
        monkeypatch.setattr(services, "_handed_out", set())
        first, second = free_port(), free_port()
        assert {first, second} == set(candidates[1:])
        third = free_port()  # every candidate is bound or given: the kernel's choice instead
        assert third not in candidates
