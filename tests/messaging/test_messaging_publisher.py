"""The agents' publisher against real JetStream: order per agent under faults, clear failures."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import nats
from nats_helpers import running_app, subjects_of, wait_until

from ctxstore.infrastructure.messaging.publisher import (
    ContextPublisher,
    HeldBack,
    PublishFailed,
    SyncContextPublisher,
    encode,
    new_event,
)
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.settings import Settings
from devtools.tcp_proxy import TcpProxy


async def test_publisher_keeps_each_agents_order_across_connection_cuts(
        settings_factory: Callable[..., Settings]) -> None:
    """Bytes lost on the wire while later ones go out after the reconnect: order still holds."""
    settings = settings_factory(nats_partitions=2)
    host, port = settings.nats_url.removeprefix("nats://").rsplit(":", 1)
    proxy = await TcpProxy(host, int(port)).start()
    agents, per_agent = 20, 150
    run = uuid.uuid4().hex[:6]
    events = [new_event(f"cut-{a}", "message",
                        {"role": "user", "content": str(i), "message_id": f"{run}-{a}-{i}"})
              for i in range(per_agent) for a in range(agents)]
    # Every event's body crosses the proxy at least once before it is acknowledged. Each cut
    # comes after another tenth of that has gone through, so all three fall while publishing is
    # still under way, however fast or slow the machine is.
    window = sum(len(encode(e)[2]) for e in events) // 10
    async with running_app(settings) as runtime:
        nc = await nats.connect(proxy.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
        publisher = ContextPublisher(nc, subjects_of(settings), ack_timeout=1.0, attempts=10)
        publishing = asyncio.create_task(publisher.publish_many(events))
        for _ in range(3):
            proxy.hold_after(window)
            await wait_until(lambda: proxy.held_bytes > 0, timeout=60,
                             what="bytes held in flight")
            assert not publishing.done()
            proxy.cut()
        acks = await publishing
        await nc.close()
        await proxy.stop()
        assert proxy.dropped_bytes > 0, "the cuts lost nothing: the test proves nothing"
        assert len(acks) == len(events)
        store = runtime.get_store()
        await wait_until(lambda: sum(a.version for a in store.agents()) == len(events),
                         what="all events recorded")
        for a in range(agents):
            contents = [h.data["content"] for h in store.iter_history(f"cut-{a}")]
            assert contents == [str(i) for i in range(per_agent)], f"agent cut-{a}"



async def test_an_agents_events_behind_a_failed_one_are_held_back(js_url: str, prefix: str
                                                                  ) -> None:
    """No stream answers: the first event fails, its agent's next is not sent after it."""
    nc = await nats.connect(js_url)
    publisher = ContextPublisher(nc, Subjects(prefix=prefix), ack_timeout=0.2, attempts=2)
    a1, a2, b1 = (new_event(agent, "message", {"role": "user", "content": "hi"})
                  for agent in ("held-a", "held-a", "held-b"))
    results = await asyncio.gather(publisher.publish(a1), publisher.publish(a2),
                                   publisher.publish(b1), return_exceptions=True)
    await nc.close()
    first, second, other = results
    assert isinstance(first, PublishFailed) and not isinstance(first, HeldBack)
    assert first.event_id == a1.event_id and "not acknowledged after 2 attempts" in str(first)
    assert isinstance(second, HeldBack) and second.failed_event_id == a1.event_id
    assert isinstance(other, PublishFailed) and not isinstance(other, HeldBack)
    assert not publisher._lanes  # nothing left behind


async def test_the_example_agent_runs_against_a_worker(
        settings_factory: Callable[..., Settings]) -> None:
    """examples/publish_agent.py, as the README tells: publish, follow, ask, sync publish."""
    settings = settings_factory(nats_partitions=2)
    example = Path(__file__).resolve().parents[2] / "examples" / "publish_agent.py"
    async with running_app(settings):
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, str(example), "--url", settings.nats_url,
                             "--prefix", settings.nats_prefix, "--agent", "example-agent"],
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("published 6 events")
    assert lines[1:3] == ["republished the first event: duplicate=True",
                          "recorded: example-agent version 6"]
    assert lines[3].startswith("example-agent is at version 6 with 2 messages; hash ")
    assert lines[4].startswith("sync publisher: stored at stream seq ")


async def test_sync_publisher_waits_for_a_long_batch_beyond_its_connect_timeout(
        settings_factory: Callable[..., Settings]) -> None:
    """One agent's events go one at a time: a big batch outlasts `timeout`, and must not fail.

    The batch is slow on purpose: the proxy holds each of the server's replies back for
    `reply_delay`, and every event waits for its own acknowledgement, so the batch takes at
    least len(events) × reply_delay, well beyond `timeout`, on any machine.
    """
    settings = settings_factory(nats_partitions=2)
    timeout, reply_delay = 2.0, 0.05
    events = [new_event("sync-long", "message", {"role": "user", "content": str(i)})
              for i in range(80)]
    assert len(events) * reply_delay >= 2 * timeout
    host, port = settings.nats_url.removeprefix("nats://").rsplit(":", 1)
    proxy = await TcpProxy(host, int(port)).start()

    def publish() -> int:
        with SyncContextPublisher(proxy.url, prefix=settings.nats_prefix,
                                  timeout=timeout) as publisher:
            proxy.reply_delay = reply_delay  # connected: from now on the network is slow
            try:
                return len(publisher.publish_many(events))
            finally:
                proxy.reply_delay = 0.0

    try:
        async with running_app(settings, ingest=False):
            count = await asyncio.to_thread(publish)
    finally:
        await proxy.stop()
    assert count == len(events)
    assert proxy.delayed_replies >= len(events), "the batch was not slowed down"
