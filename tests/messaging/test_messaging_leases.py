"""Partition leases on real JetStream: one worker per partition, standbys, expiry, loss."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import nats
import pytest
from nats.js.errors import KeyNotFoundError
from nats_helpers import running_app, subjects_of, wait_until
from test_messaging_faults import REPO, worker_env

from ctxstore.domain.events import AnyEnvelope
from ctxstore.infrastructure.bootstrap import build_messaging_app
from ctxstore.infrastructure.messaging.ingest import IngestOptions
from ctxstore.infrastructure.messaging.leases import LeaseLost, PartitionLeases
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.settings import Settings
from devtools.tcp_proxy import TcpProxy


def messages(agent: str, start: int, count: int) -> list[AnyEnvelope]:
    run = uuid.uuid4().hex[:6]
    return [new_event(agent, "message", {"role": "user", "content": str(i),
                                         "message_id": f"{run}-{i}"})
            for i in range(start, start + count)]


async def test_a_second_worker_waits_as_a_standby_and_takes_over_when_the_first_stops(
        settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ctxstore.infrastructure.messaging.leases")
    settings = settings_factory(nats_partitions=2)
    options = IngestOptions(max_event_bytes=settings.max_event_bytes, lease_seconds=3)
    first_app, first = build_messaging_app(settings, options=options)
    second_app, second = build_messaging_app(settings, options=options)
    publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
    await first_app.start()
    await first.wait_started()
    await second_app.start()  # its worker waits for the leases in the background
    try:
        await publisher.publish_many(messages("standby-a", 0, 50)
                                     + messages("standby-b", 0, 50))
        store = first.get_store()
        await wait_until(lambda: len(store.history("standby-a")) == 50
                         and len(store.history("standby-b")) == 50, what="first worker records")
        assert second.starting is not None and not second.starting.done()
        assert second.worker is not None and second.worker.stats.recorded == 0
        assert "is consumed by" in caplog.text

        await first_app.stop()  # releases its leases: the standby starts at once
        await asyncio.wait_for(second.wait_started(), 10)
        store = second.get_store()
        await publisher.publish_many(messages("standby-a", 50, 50))
        await wait_until(lambda: len(store.history("standby-a")) == 100,
                         what="the standby records")
        await second.worker.wait_idle()  # its stats count a batch once acknowledged
        assert second.worker.stats.recorded == 50
        contents = [h.data["content"] for h in store.iter_history("standby-a")]
        assert contents == [str(i) for i in range(100)]
    finally:
        await publisher.close()
        await first_app.stop()
        await second_app.stop()


async def test_a_worker_pulls_each_partition_it_holds_while_waiting_for_the_others(
        settings_factory: Callable[..., Settings]) -> None:
    """Overlapping shares (0,1 and 1,2,3): the second pulls 2 and 3 at once, 1 once it is free."""
    settings = settings_factory(nats_partitions=4)
    options = IngestOptions(max_event_bytes=settings.max_event_bytes, lease_seconds=3)
    first_app, first = build_messaging_app(settings, partitions=[0, 1], options=options)
    second_app, second = build_messaging_app(settings, partitions=[1, 2, 3], options=options)
    publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
    await first_app.start()
    await first.wait_started()
    await second_app.start()
    try:
        agents = [f"overlap-{a}" for a in range(40)]
        await publisher.publish_many([e for a in agents
                                      for e in messages(a, 0, 5)])
        store = first.get_store()
        await wait_until(lambda: sum(a.version for a in store.agents()) == 200,
                         what="every event recorded by one worker or the other")
        assert first.worker is not None and second.worker is not None
        # A worker counts a batch once it is acknowledged, a moment after the commit.
        await first.worker.wait_idle()
        await second.worker.wait_idle()
        assert first.worker.stats.recorded > 0 and second.worker.stats.recorded > 0
        assert first.worker.stats.recorded + second.worker.stats.recorded == 200
        assert second.starting is not None and not second.starting.done()  # 1 is not free

        await first_app.stop()
        await asyncio.wait_for(second.wait_started(), 10)
        assert sorted(second.worker.leases._revisions) == [
            "partition-1", "partition-2", "partition-3"]
    finally:
        await publisher.close()
        await first_app.stop()
        await second_app.stop()


async def test_leases_expire_after_their_holder_dies_and_its_namesake_takes_them_back(
        js_url: str, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    bucket = f"{prefix.upper()}_LEASES"
    try:
        dead = PartitionLeases(js, bucket, [0, 1], holder="host:1:worker-0", ttl=2)
        for partition in (0, 1):  # then never renewed nor released: its process "died"
            await dead.acquire(partition)
        standby = PartitionLeases(js, bucket, [1], holder="host:2:other", ttl=2, poll=0.1)
        caplog.set_level(logging.WARNING, "ctxstore.infrastructure.messaging.leases")
        waiting = asyncio.create_task(standby.acquire(1))
        # The standby says so once it has found the lease held: from then on it waits.
        await wait_until(lambda: waiting.done() or "partition-1 is consumed by host:1:worker-0"
                         in caplog.text, timeout=60, what="the standby finding the lease held")
        assert not waiting.done(), "took a lease its holder still had"
        await asyncio.wait_for(waiting, 15)  # expired

        # A supervisor's replacement for the dead worker presents the same name.
        namesake = PartitionLeases(js, bucket, [0], holder="host:1:worker-0", ttl=2)
        await namesake.acquire(0)
        assert set(namesake._revisions) == {"partition-0"}

        # The dead one, were it only frozen, finds out at its next renewal: partition 1 went to
        # another worker. (Partition 0 went to its namesake, which only a supervisor starts,
        # once the worker of that name has exited.)
        with pytest.raises(LeaseLost, match="partition-1: lease taken by another worker"):
            await dead.renew()

        # A renewal that went through but whose answer was lost is no loss.
        lost_answer = PartitionLeases(js, bucket, [3], holder="host:3:w", ttl=2)
        await lost_answer.acquire(3)
        await PartitionLeases(js, bucket, [3], holder="host:3:w", ttl=2).acquire(3)  # moves on
        await lost_answer.renew()
        assert "partition-3" in lost_answer._revisions

        # The bucket's TTL holds for every worker, whatever one asks for.
        other = PartitionLeases(js, bucket, [2], ttl=30)
        await other.acquire(2)
        assert other.ttl == 2
    finally:
        await js.delete_key_value(bucket)
        await nc.close()


async def test_release_frees_every_lease_at_once_and_is_bounded_without_answers(
        js_url: str, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    target = urlparse(js_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 4222).start()
    nc = await nats.connect(proxy.url, max_reconnect_attempts=-1)
    observer = await nats.connect(js_url)
    bucket = f"{prefix.upper()}_LEASES"
    try:
        leases = PartitionLeases(nc.jetstream(), bucket, range(6), ttl=30)
        for partition in range(6):
            await leases.acquire(partition)
        await leases.release()
        kv = await observer.jetstream().key_value(bucket)
        for partition in range(6):  # a standby may take each at once
            with pytest.raises(KeyNotFoundError):
                await kv.get(f"partition-{partition}")

        for partition in range(6):
            await leases.acquire(partition)
        proxy.hold()  # the server no longer hears this worker
        started = asyncio.get_running_loop().time()
        with caplog.at_level(logging.WARNING, "ctxstore.infrastructure.messaging.leases"):
            await leases.release(timeout=1.0)
        assert asyncio.get_running_loop().time() - started < 2.5  # not 6 x nats-py's timeout
        assert "leases not released: partition-0 (no answer)" in caplog.text
        assert "they expire in 30s" in caplog.text
        assert leases._revisions == {}
    finally:
        await observer.jetstream().delete_key_value(bucket)
        await observer.close()
        await proxy.stop()
        await nc.close()


async def test_a_worker_that_loses_its_lease_stops_pulling_and_says_why(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=1)
    options = IngestOptions(max_event_bytes=settings.max_event_bytes, lease_seconds=2)
    app, runtime = build_messaging_app(settings, options=options)
    await app.start()
    await runtime.wait_started()
    nc = await nats.connect(settings.nats_url)
    publisher = ContextPublisher(nc, subjects_of(settings))
    try:
        # Another worker takes the partition (as if this one had been frozen past the TTL).
        kv = await nc.jetstream().key_value(subjects_of(settings).leases_bucket)
        await kv.purge("partition-0")
        await kv.create("partition-0", b'{"holder": "elsewhere"}')
        worker = runtime.worker
        assert worker is not None
        await wait_until(lambda: runtime.failure is not None, timeout=10, what="lease lost")
        assert isinstance(worker.lost, LeaseLost) and "partition-0" in str(worker.lost)
        await publisher.publish_many(messages("after-loss", 0, 5))
        await asyncio.sleep(1.0)
        assert worker.stats.recorded == 0  # no longer pulling
    finally:
        await nc.close()
        await app.stop()


async def test_the_ingest_command_exits_with_an_error_when_its_lease_is_taken(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    """Non-zero, so that a supervisor restarts it as a standby."""
    settings = settings_factory(nats_partitions=1)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--no-rpc",
             "--lease-seconds", "1"], env=worker_env(settings), cwd=REPO, stdout=out,
            stderr=subprocess.STDOUT)
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        bucket = subjects_of(settings).leases_bucket

        async def held() -> bool:
            try:
                await (await js.key_value(bucket)).get("partition-0")
                return True
            except Exception:
                return False

        await wait_until(held, timeout=30, what="the worker's lease")
        kv = await js.key_value(bucket)
        await kv.purge("partition-0")
        await kv.create("partition-0", b'{"holder": "elsewhere"}')
        assert await asyncio.to_thread(worker.wait, 20) == 1
        assert "error: ingest stopped: partition-0: lease taken by another worker" in \
            " ".join(log.read_text().split())
    finally:
        if worker.poll() is None:
            worker.kill()
        await nc.close()


async def test_partitions_command_shows_holders_and_backlog(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2)

    def partitions(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ctxstore", "partitions",
                               *args], env=worker_env(settings), cwd=REPO,
                              capture_output=True, text=True, timeout=60)

    async with running_app(settings) as runtime:
        worker = runtime.worker
        assert worker is not None
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        await publisher.publish_many([e for a in range(6) for e in messages(f"status-{a}", 0, 5)])
        await publisher.close()
        await wait_until(lambda: worker.stats.recorded == 30, what="30 recorded")
        await worker.wait_idle()
        done = await asyncio.to_thread(partitions, "--json")
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in done.stdout.splitlines()]
        # Beside the partitions: the consumers of malformed subjects and of other tenants.
        assert [r["partition"] for r in rows] == [0, 1, None, None]
        assert [r["consumer"].rsplit("-", 1)[1] for r in rows[2:]] == ["stray", "tenants"]
        assert {r["holder"] for r in rows} == {worker.leases.holder}
        assert all(r["waiting"] == 0 and r["unacknowledged"] == 0 for r in rows)
        assert sum(r["acknowledged_through"] or 0 for r in rows[:2]) > 0
    done = await asyncio.to_thread(partitions)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split("\t")[-1] == "(none)"
    assert "no worker holds partition(s) 0, 1" in done.stderr

