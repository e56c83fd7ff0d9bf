"""The pitfalls the ingest issue names, shown on real JetStream, and why the worker avoids them.

The ingest worker (infrastructure/messaging/ingest.py) drives its pull consumers itself rather
than through faststream's JetStream subscriber, and its tests run on real JetStream rather than
on TestNatsBroker. These tests keep those reasons honest: were a release of faststream to
redeliver after a raised handler, or TestNatsBroker to learn deduplication, they would fail and
the choice could be revisited. The third pitfall (nats-py 2.16's ``fetch`` raising a bare
``asyncio.TimeoutError`` that faststream's pull loop does not catch, so the loop dies with a
partial batch unacknowledged) depends on a race inside ``fetch`` and is shown by reading:
``_fetch_n`` raises ``asyncio.TimeoutError`` where the deadline runs out between its two pull
requests, and faststream's ``_consume_pull`` catches only ``nats.errors.TimeoutError``.
"""

from __future__ import annotations

import asyncio
import uuid

import nats
from faststream.nats import JStream, NatsBroker, PullSub, TestNatsBroker
from nats.js.api import ConsumerConfig, StreamConfig
from nats_helpers import wait_until


async def test_faststream_terminates_a_message_whose_handler_raised(js_url: str,
                                                                    prefix: str) -> None:
    """Default ack policy: a raised handler TERMs the message, so JetStream never redelivers
    it. An ingest built so would drop every event of a batch that met a database outage."""
    stream, subject = f"{prefix.upper()}_PIT", f"{prefix}.pit.a"
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.pit.>"]))
    calls: list[str] = []
    broker = NatsBroker(js_url)

    @broker.subscriber(subject, stream=JStream(stream, declare=False), durable="pit",
                       pull_sub=PullSub(batch_size=1, timeout=0.2),
                       config=ConsumerConfig(ack_wait=1.0))
    async def record(body: str) -> None:
        calls.append(body)
        raise RuntimeError("the database is down")

    try:
        await broker.start()
        await js.publish(subject, b"an event")
        await wait_until(lambda: len(calls) >= 1, timeout=10, what="the handler")
        await asyncio.sleep(3.0)  # three ack waits: a nak'ed or unacknowledged one comes back
        info = await js.consumer_info(stream, "pit")
        assert calls == ["an event"], "redelivered: faststream no longer terminates"
        assert info.num_ack_pending == 0 and info.num_redelivered == 0  # terminated
    finally:
        await broker.stop()
        await js.delete_stream(stream)
        await nc.close()


async def test_test_nats_broker_has_no_jetstream_deduplication(js_url: str, prefix: str
                                                               ) -> None:
    """The same Nats-Msg-Id twice: real JetStream stores it once, TestNatsBroker delivers it
    twice. Exactly-once ingest can only be tested against a real server."""
    stream, subject = f"{prefix.upper()}_DEDUP", f"{prefix}.dedup.a"
    msg_id = {"Nats-Msg-Id": uuid.uuid4().hex}

    nc = await nats.connect(js_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.dedup.>"]))
    try:
        acks = [await js.publish(subject, b"an event", headers=msg_id) for _ in range(2)]
        assert [a.duplicate for a in acks] == [None, True]
        assert (await js.stream_info(stream)).state.messages == 1
    finally:
        await js.delete_stream(stream)
        await nc.close()

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
