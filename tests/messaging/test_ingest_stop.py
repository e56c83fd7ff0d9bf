"""A worker's stop waits for its background tasks to end, and ends them even when one of them
swallowed its cancel: on Python 3.11 `asyncio.wait_for` (nats-py's requests use it) returns
normally when a cancel lands as the future it waits for completes, and the task goes on. CI
once waited five minutes for a stream trimmer back in its loop."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from ctxstore.infrastructure.messaging.ingest import cancelled


async def test_a_task_that_swallowed_its_cancel_is_cancelled_again() -> None:
    waited: list[asyncio.Future[Any]] = []

    async def requests_in_a_loop() -> None:  # as the trimmer's purge requests, every tick
        while True:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            waited.append(future)
            await asyncio.wait_for(future, 60)

    task = asyncio.create_task(requests_in_a_loop())
    await asyncio.sleep(0)
    waited[-1].set_result(None)  # the answer lands as the stop's cancel does
    await asyncio.wait_for(cancelled([task], again_after=0.05), timeout=30)
    assert task.cancelled()
    if sys.version_info < (3, 12):
        assert len(waited) >= 2  # the first cancel was swallowed: the loop went on

async def test_what_a_task_raised_is_raised_once_all_have_ended() -> None:
    async def fails() -> None:
        raise RuntimeError("broken")

    async def sleeps() -> None:
        await asyncio.sleep(60)

    failing, sleeping = asyncio.create_task(fails()), asyncio.create_task(sleeps())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="broken"):
        await asyncio.wait_for(cancelled([failing, sleeping]), timeout=30)
    assert sleeping.cancelled()
