"""The pitfalls the ingest issue names, shown on real JetStream, and why the worker avoids them.

The ingest worker (infrastructure/messaging/ingest.py) drives its pull consumers itself rather
than through faststream's JetStream subscriber, and its tests run on real JetStream rather than
on TestNatsBroker. These tests keep those reasons honest: were a release of faststream to
redeliver after a raised handler, or TestNatsBroker to learn deduplication, they would fail and
the choice could be revisited.

The third pitfall is nats-py 2.16's ``fetch`` raising a bare ``asyncio.TimeoutError`` (where its
deadline runs out between its two pull requests) that faststream's pull loop, which catches only
``nats.errors.TimeoutError``, does not survive: the loop task dies (faststream starts another)
and the messages it had collected for a batch stay unacknowledged while later ones are handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import nats
import nats.errors
from faststream.nats import JStream, NatsBroker, PullSub, TestNatsBroker
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig
from nats_helpers import wait_until


@contextlib.asynccontextmanager
async def scratch_stream(js_url: str, prefix: str, name: str
                         ) -> AsyncIterator[tuple[JetStreamContext, str, str]]:
    """A stream of its own on <prefix>.<name>.>: (JetStream, stream name, one subject)."""
    stream = f"{prefix.upper()}_{name.upper()}"
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.{name}.>"]))
    try:
        yield js, stream, f"{prefix}.{name}.a"
    finally:
        await js.delete_stream(stream)
        await nc.close()


async def test_faststream_terminates_a_message_whose_handler_raised(js_url: str,
                                                                    prefix: str) -> None:
    """Default ack policy: a raised handler TERMs the message, so JetStream never redelivers
    it. An ingest built so would drop every event of a batch that met a database outage."""
    calls: list[str] = []
    broker = NatsBroker(js_url)
    async with scratch_stream(js_url, prefix, "pit") as (js, stream, subject):

        @broker.subscriber(subject, stream=JStream(stream, declare=False), durable="pit",
                           pull_sub=PullSub(batch_size=1, timeout=0.2),
                           config=ConsumerConfig(ack_wait=1.0))
        async def record(body: str) -> None:
            calls.append(body)
            raise RuntimeError("the database is down")

        await broker.start()
        try:
            await js.publish(subject, b"an event")
            await wait_until(lambda: len(calls) >= 1, timeout=10, what="the handler")
            await asyncio.sleep(3.0)  # three ack waits: a nak'ed or unacknowledged one is back
            info = await js.consumer_info(stream, "pit")
        finally:
            await broker.stop()
    assert calls == ["an event"], "redelivered: faststream no longer terminates"
    assert info.num_ack_pending == 0 and info.num_redelivered == 0  # terminated


async def test_test_nats_broker_has_no_jetstream_deduplication(js_url: str, prefix: str
                                                               ) -> None:
    """The same Nats-Msg-Id twice: real JetStream stores it once, TestNatsBroker delivers it
    twice. Exactly-once ingest can only be tested against a real server."""
    msg_id = {"Nats-Msg-Id": uuid.uuid4().hex}
    async with scratch_stream(js_url, prefix, "dedup") as (js, stream, subject):
        acks = [await js.publish(subject, b"an event", headers=msg_id) for _ in range(2)]
        assert [a.duplicate for a in acks] == [None, True]
        assert (await js.stream_info(stream)).state.messages == 1

    broker = NatsBroker(js_url)
    received: list[str] = []

    @broker.subscriber(subject, stream=JStream(stream, declare=False), durable="dedup",
                       pull_sub=PullSub(batch_size=1))
    async def record(body: str) -> None:
        received.append(body)

    async with TestNatsBroker(broker) as test_broker:
        for _ in range(2):
            await test_broker.publish("an event", subject, stream=stream, headers=msg_id)
    assert received == ["an event", "an event"], "TestNatsBroker now deduplicates"


async def test_faststream_batch_pull_loop_dies_on_a_bare_timeout_and_drops_a_partial_batch(
        js_url: str, prefix: str) -> None:
    """A short batch timeout makes the race frequent; it is the same race at any timeout."""
    handled: list[int] = []
    broker = NatsBroker(js_url)
    async with scratch_stream(js_url, prefix, "fetch") as (js, stream, subject):

        @broker.subscriber(subject, stream=JStream(stream, declare=False), durable="fetch",
                           pull_sub=PullSub(batch_size=50, timeout=0.001, batch=True))
        async def record(bodies: list[str]) -> None:
            handled.append(len(bodies))

        await broker.start()
        try:
            subscriber = next(iter(broker.subscribers))
            published, dropped = 0, 0
            for _ in range(100):  # about 5 rounds in 20 showed it here; stop at the first
                for _ in range(3):
                    await js.publish(subject, b"an event")
                    published += 1
                await asyncio.sleep(0.2)
                info = await js.consumer_info(stream, "fetch")
                dropped = published - sum(handled)
                if dropped and info.num_ack_pending and not info.num_pending:
                    break
            died = [t.exception() for t in subscriber.tasks  # type: ignore[attr-defined]
                    if t.done() and not t.cancelled() and t.exception() is not None]
        finally:
            await broker.stop()
    assert any(isinstance(e, TimeoutError) and not isinstance(e, nats.errors.TimeoutError)
               for e in died), "the pull loop never died on a bare asyncio.TimeoutError"
    # Delivered, neither handled nor acknowledged, while later messages were handled: they come
    # back only after the ack wait, out of order.
    assert dropped > 0 and info.num_ack_pending == dropped and info.num_pending == 0
