"""Faults: the worker killed with SIGKILL mid-stream, PostgreSQL connections terminated, NATS
away."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest
from nats_helpers import running_app, subjects_of, wait_drained, wait_until

from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.bootstrap import build_messaging_app, build_store
from ctxstore.infrastructure.messaging.dlq import list_dead_letters
from ctxstore.infrastructure.messaging.ingest import IngestOptions
from ctxstore.infrastructure.messaging.leases import lease_holders
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.messaging.streams import ensure_streams
from ctxstore.infrastructure.settings import Settings
from devtools.services import ensure_nats, free_port, libpq_dsn
from devtools.tcp_proxy import TcpProxy

REPO = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CONTEXT_STORAGE_BACKEND": "postgres",
        "CONTEXT_DATABASE_URL": settings.database_url,
        "CONTEXT_DATABASE_SCHEMA": settings.database_schema,
        "CONTEXT_NATS_URL": settings.nats_url,
        "CONTEXT_NATS_PREFIX": settings.nats_prefix,
        "CONTEXT_NATS_PARTITIONS": str(settings.nats_partitions),
        "CONTEXT_STORAGE_PATH": str(settings.storage_path),
    }


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--batch-size", "100",
             "--fetch-size", "50", "--no-rpc", "--log-level", "WARNING",
             "--lease-seconds", "3"],
            env=worker_env(settings), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def total(store: ContextStore) -> int:
    return sum(a.version for a in store.agents())


def assert_exactly_once_in_order(store: ContextStore, agents: int, per_agent: int,
                                 run: str) -> None:
    for a in range(agents):
        items = list(store.iter_history(f"{run}-{a}"))
        assert [i.data["content"] for i in items] == [str(n) for n in range(per_agent)], a
        assert len({i.event_id for i in items}) == per_agent


def events_for(run: str, agents: int, per_agent: int) -> list[object]:
    return [new_event(f"{run}-{a}", "message", {"role": "user", "content": str(i)})
            for i in range(per_agent) for a in range(agents)]


def scenario(settings_factory: Callable[..., Settings], partitions: int, agents: int,
             per_agent: int) -> tuple[Settings, str, list[object], ContextStore]:
    """Settings, a run name, its events (agents interleaved) and the store, tables created
    before any worker starts."""
    settings = settings_factory(nats_partitions=partitions)
    run = f"r{uuid.uuid4().hex[:6]}"
    return settings, run, events_for(run, agents, per_agent), build_store(settings)


async def test_worker_killed_mid_stream_and_restarted_records_every_event_once(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    agents, per_agent = 20, 150
    settings, run, events, store = scenario(settings_factory, 2, agents, per_agent)
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log)
    try:
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        await ensure_streams(publisher.nc, subjects_of(settings))  # agents may come first

        async def publish(part: list[Any]) -> None:
            for start in range(0, len(part), 100):
                await publisher.publish_many(part[start:start + 100])
                await asyncio.sleep(0.01)

        # The kill falls while the first half is still coming in (or being recorded); the
        # second half is published only after it, so the kill is mid-stream on any machine.
        half = len(events) // 2
        publishing = asyncio.create_task(publish(events[:half]))
        await wait_until(lambda: total(store) >= 600, timeout=60, what="some events recorded")
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
        killed_at = total(store)
        assert killed_at <= half < len(events)
        await publishing
        await publish(events[half:])
        await publisher.close()

        worker = start_worker(settings, log)
        await wait_until(lambda: total(store) >= len(events), timeout=25,
                         what="every event after the restart")
        await wait_drained(settings)  # anything recorded twice would show up now
        assert total(store) == len(events)
        assert_exactly_once_in_order(store, agents, per_agent, run)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
        store.close()


async def test_postgres_connections_terminated_mid_ingest_lose_nothing(
        settings_factory: Callable[..., Settings], fresh_pg_db: str) -> None:
    settings = settings_factory(nats_partitions=2, database_url=fresh_pg_db)
    dbname = fresh_pg_db.rsplit("/", 1)[1]
    agents, per_agent = 10, 150
    run = f"pg{uuid.uuid4().hex[:6]}"
    events = events_for(run, agents, per_agent)
    terminated = 0
    async with running_app(settings) as runtime:
        store = runtime.get_store()
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        with psycopg.connect(libpq_dsn(fresh_pg_db), autocommit=True) as admin:
            for start in range(0, len(events), 150):
                await publisher.publish_many(events[start:start + 150])  # type: ignore[arg-type]
                await asyncio.sleep(0.05)
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchall()
                terminated += len(rows)
        await publisher.close()
        await wait_until(lambda: total(store) >= len(events), timeout=25,
                         what="every event despite the terminations")
        assert runtime.worker is not None
        await runtime.worker.wait_idle()
        assert total(store) == len(events)
        assert_exactly_once_in_order(store, agents, per_agent, run)
    assert terminated > 0


def dead_nats_url() -> str:
    """A port nothing listens on."""
    return f"nats://127.0.0.1:{free_port()}"


def test_nats_commands_say_in_one_line_when_nats_is_away(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2)
    dead = dead_nats_url()
    env = {**worker_env(settings), "CONTEXT_NATS_URL": dead}
    for command in (["partitions"], ["dlq", "list"]):
        done = subprocess.run([sys.executable, "-m", "ctxstore", *command],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "error: NoServersError: nats: no servers available for connection"], command


def test_ingest_waiting_for_nats_says_why_and_still_stops(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory(nats_partitions=2)
    dead = dead_nats_url()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--no-rpc"],
            env={**worker_env(settings), "CONTEXT_NATS_URL": dead}, cwd=REPO, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        # Our own line, whichever loop the worker runs on (nats-py's own report of the refused
        # connection words it as the loop does: asyncio "Connect call failed", uvloop not).
        said = "WARNING ctxstore.infrastructure.messaging.app: NATS: ConnectionRefusedError"
        deadline = time.monotonic() + 30
        while said not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()


async def test_stopping_while_a_batch_cannot_finish_is_bounded_and_loses_nothing(
        settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    """The dead-letter stream is gone, so a bad message's batch retries for ever: stopping
    gives up after stop_timeout, and the message comes again to the next worker."""
    settings = settings_factory(nats_partitions=1)
    subjects = subjects_of(settings)
    options = IngestOptions(max_event_bytes=settings.max_event_bytes, stop_timeout=2)
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    app, runtime = build_messaging_app(settings, options=options)
    await app.start()
    await runtime.wait_started()
    try:
        await js.delete_stream(subjects.dlq_stream)
        await js.publish(subjects.events("stuck"), b"{not json",
                         headers={"Nats-Msg-Id": "stuck-1"})
        await wait_until(lambda: "dead-lettering to" in caplog.text, what="a retried batch")
    finally:
        await asyncio.wait_for(app.stop(), 30)  # without the bound: for ever
    assert "stopping with 1 batch(es) unacknowledged" in caplog.text

    async with running_app(settings, options=options) as again:  # recreates the DLQ stream
        await wait_until(lambda: again.worker is not None
                         and again.worker.stats.dead_lettered == 1, what="the dead letter")
    letters = await list_dead_letters(js, subjects)
    assert [letter.original_msg_id for letter in letters] == ["stuck-1"]
    assert "invalid JSON" in letters[0].error
    await nc.close()


def test_ingest_stops_promptly_when_nats_went_away(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    """NATS dies under a running worker, then the worker is told to stop: it must not spend
    a NATS timeout on each lease it can no longer release (a supervisor would SIGKILL it),
    and it stops as it was asked to, without an error."""
    server = ensure_nats(f"nats://127.0.0.1:{free_port()}", base_dir=tmp_path)
    settings = settings_factory(nats_partitions=8).model_copy(update={"nats_url": server.url})
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(  # with ctx.rpc.* too, so its subscription closes as well
            [sys.executable, "-m", "ctxstore", "ingest"],
            env=worker_env(settings), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(asyncio.run(holders(server.url, settings))) < 8:
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
            time.sleep(0.2)
        server.stop()
        while "NATS:" not in log.read_text():  # the worker has seen the connection go
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        # A NATS timeout spent on each of the 8 leases would outlast this generous deadline.
        assert worker.wait(30) == 0, log.read_text()
        text = log.read_text()
        assert "error:" not in text, text
        assert "NATS is away: 8 partition leases are not released" in text, text
    finally:
        if worker.poll() is None:
            worker.kill()
        server.stop()


async def holders(url: str, settings: Settings) -> dict[int, str]:
    subjects = subjects_of(settings)
    nc = await nats.connect(url)
    try:
        return await lease_holders(nc.jetstream(), subjects.leases_bucket, subjects.partitions)
    finally:
        await nc.close()



async def test_an_ingest_process_whose_nats_connection_breaks_reconnects_and_loses_nothing(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    """`ctxstore ingest` as users run it (on uvloop: infrastructure.event_loop), its every
    connection to NATS cut mid-stream: it reconnects on its own, and every event, those
    published after the cut too, is recorded once, in order; then it stops cleanly."""
    agents, per_agent = 10, 80
    direct, run, events, store = scenario(settings_factory, 2, agents, per_agent)
    host, port = direct.nats_url.rsplit("/", 1)[-1].split(":")
    proxy = await TcpProxy(host, int(port)).start()  # the worker's only way to NATS
    log = tmp_path / "worker.log"
    worker = start_worker(direct.model_copy(update={"nats_url": proxy.url}), log)
    try:
        publisher = await ContextPublisher.connect(direct.nats_url, prefix=direct.nats_prefix)
        await ensure_streams(publisher.nc, subjects_of(direct))
        half = len(events) // 2
        await publisher.publish_many(events[:half])  # type: ignore[arg-type]
        await wait_until(lambda: total(store) >= half // 3, timeout=60,
                         what="some events recorded before the cut")
        proxy.cut()  # every connection through the proxy is aborted; new ones go through
        await publisher.publish_many(events[half:])  # type: ignore[arg-type]
        await publisher.close()
        await wait_until(lambda: total(store) >= len(events), timeout=120,
                         what="every event, through a new connection")
        await wait_drained(direct)  # anything recorded twice would show up now
        assert proxy.cuts >= 1 and worker.poll() is None, log.read_text()[-3000:]
        assert total(store) == len(events)
        assert_exactly_once_in_order(store, agents, per_agent, run)
        worker.send_signal(signal.SIGTERM)  # its stop needs NATS, through the proxy: the
        # loop must keep pumping meanwhile, so the wait is in a thread.
        assert await asyncio.to_thread(worker.wait, 30) == 0, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
        await proxy.stop()
        store.close()
