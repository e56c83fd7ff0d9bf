"""BatchPuller on a real JetStream: every message once and in order across request boundaries,
pull requests renewed after they expire (408) and after the consumer is deleted (409)."""

from __future__ import annotations

import asyncio
import logging
import time

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from ctxstore.infrastructure.messaging.pull import BatchPuller


async def _take_until(puller: BatchPuller, count: int, timeout: float = 10.0) -> list[Msg]:
    got: list[Msg] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += await puller.take(wait=0.5)
    return got


async def _ack_state(js: JetStreamContext, stream: str, consumer: str,
                     until: tuple[int, int], timeout: float = 10.0) -> tuple[int, int]:
    """(messages awaiting acknowledgement, ack floor's stream sequence), once it is `until`
    or when `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        info = await js.consumer_info(stream, consumer)
        state = (info.num_ack_pending or 0, info.ack_floor.stream_seq if info.ack_floor else 0)
        if state == until or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.05)


async def test_batches_in_order_and_requests_renewed(js_url: str, prefix: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ctxstore.infrastructure.messaging.pull")
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    stream, subject = f"{prefix.upper()}_PULL", f"{prefix}.pull"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject]))
    consumer = ConsumerConfig(durable_name="w", ack_policy=AckPolicy.ALL)
    try:
        await js.add_consumer(stream, consumer)
        for i in range(25):
            await js.publish(subject, str(i).encode())
        puller = BatchPuller(nc, stream, "w", batch=4, expires=0.3)
        await puller.start()
        got = await _take_until(puller, 25)
        assert [m.data for m in got] == [str(i).encode() for i in range(25)]
        assert all(m.headers is None or "Status" not in m.headers for m in got)

        # Idle: requests expire (408) and are renewed; what comes later still arrives.
        assert await puller.take(wait=1.0) == []
        await js.publish(subject, b"late")
        late = await _take_until(puller, 1)
        assert [m.data for m in late] == [b"late"]

        # Acknowledging the last message acknowledges all of them (AckPolicy.ALL).
        # The server applies an acknowledgement after it answered it, and consumer_info is
        # another request: wait for the state instead of reading it once.
        await late[-1].ack_sync()
        assert await _ack_state(js, stream, "w", until=(0, 26)) == (0, 26)

        # The consumer is deleted under an open request (409) and made again: pulling resumes.
        await js.delete_consumer(stream, "w")
        await js.add_consumer(stream, ConsumerConfig(durable_name="w", ack_policy=AckPolicy.ALL,
                                                     opt_start_seq=27,
                                                     deliver_policy=DeliverPolicy.BY_START_SEQUENCE))
        await js.publish(subject, b"after")
        assert [m.data for m in await _take_until(puller, 1)] == [b"after"]
        assert "status 409" in caplog.text
        await puller.close()
    finally:
        await js.delete_stream(stream)
        await nc.close()

