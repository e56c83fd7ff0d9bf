"""Helpers of the NATS tests: run the ingest app in-process, wait for a condition."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
from nats.js.errors import NotFoundError

from ctxstore.infrastructure.bootstrap import build_messaging_app
from ctxstore.infrastructure.messaging.app import Runtime
from ctxstore.infrastructure.messaging.ingest import IngestOptions
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.settings import Settings


def subjects_of(settings: Settings) -> Subjects:
    return Subjects(prefix=settings.nats_prefix, partitions=settings.nats_partitions)


@contextlib.asynccontextmanager
async def running_app(settings: Settings, partitions: list[int] | None = None,
                      options: IngestOptions | None = None, ingest: bool = True
                      ) -> AsyncIterator[Runtime]:
    options = options or IngestOptions(max_event_bytes=settings.max_event_bytes)
    app, runtime = build_messaging_app(settings, partitions=partitions, options=options,
                                       ingest=ingest)
    try:
        # Bounded: a worker waiting for NATS or its leases fails the test clearly.
        await asyncio.wait_for(app.start(), 60)
        await asyncio.wait_for(runtime.wait_started(), 60)
    except BaseException:
        await app.stop()
        raise
    try:
        yield runtime
    finally:
        await app.stop()


async def wait_until(predicate: Callable[[], Awaitable[bool] | bool], timeout: float = 20.0,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_drained(settings: Settings, timeout: float = 60.0) -> None:
    """Wait until every partition's consumer has delivered every message and had it
    acknowledged (a worker acknowledges only after the commit): nothing more can be recorded,
    so what the store holds now is final. A state to wait on instead of a pause."""
    subjects = subjects_of(settings)
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()

    async def drained() -> bool:
        for p in range(subjects.partitions):
            info = await js.consumer_info(subjects.events_stream, subjects.durable(p))
            if info.num_pending or info.num_ack_pending:
                return False
        try:  # other tenants' events (made with partition 0's consumers)
            info = await js.consumer_info(subjects.events_stream, subjects.tenants_durable)
        except NotFoundError:
            return True
        return not (info.num_pending or info.num_ack_pending)

    try:
        await wait_until(drained, timeout=timeout, what="every consumer drained")
    finally:
        await nc.close()
