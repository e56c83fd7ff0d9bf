"""`connect_once`: a refused NATS is an error at once, whatever the timeout, and a NATS that
answers is connected to."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import NoServersError

from ctxstore.infrastructure.messaging.probe import connect_once
from devtools.services import free_port


async def test_a_refused_server_is_an_error_before_any_timeout() -> None:
    attempts: list[Exception] = []

    async def seen(error: Exception) -> None:
        attempts.append(error)

    # The deadline is far beyond anything the attempts need: nats-py's own settings for "no
    # retries" kept retrying until it.
    with pytest.raises(NoServersError):
        await asyncio.wait_for(connect_once(f"nats://127.0.0.1:{free_port()}", 60.0, seen),
                               timeout=120)
    assert len(attempts) == 2  # each server at once and once more


async def test_an_answering_server_is_connected(nats_url: str) -> None:
    nc = await connect_once(nats_url, 5.0)
    try:
        assert nc.is_connected
    finally:
        await nc.close()
