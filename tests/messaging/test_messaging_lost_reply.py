"""A commit PostgreSQL makes whose answer never reaches the worker: the worker cannot know
whether its batch is in, so it must find out, and record each event once, in order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from nats_helpers import running_app, wait_drained, wait_until
from test_messaging_faults import assert_exactly_once_in_order, events_for, total

from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.messaging.app import Runtime
from ctxstore.infrastructure.messaging.publisher import ContextPublisher
from ctxstore.infrastructure.settings import Settings
from devtools.tcp_proxy import TcpProxy


async def first_third_recorded(settings: Settings, runtime: Runtime, store: ContextStore,
                               events: list[Any]) -> ContextPublisher:
    """A publisher, once `events` are recorded and the worker holds nothing more."""
    publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
    await publisher.publish_many(events)
    await wait_until(lambda: total(store) >= len(events), timeout=60, what="the first third")
    assert runtime.worker is not None
    await runtime.worker.wait_idle()
    return publisher


async def test_a_commit_whose_answer_is_lost_is_recorded_once_in_order(
        settings_factory: Callable[..., Settings], fresh_pg_db: str) -> None:
    server = urlsplit(fresh_pg_db)
    proxy = await TcpProxy(server.hostname or "127.0.0.1", server.port or 5432).start()
    proxied = fresh_pg_db.replace(f":{server.port}/", f":{proxy.port}/")
    direct_settings = settings_factory(nats_partitions=2, database_url=fresh_pg_db)
    direct = build_store(direct_settings)  # reads past the proxy (and makes the tables)
    settings = direct_settings.model_copy(update={"database_url": proxied})
    agents, per_agent = 6, 30
    run = f"lr{uuid.uuid4().hex[:6]}"
    events = events_for(run, agents, per_agent)
    first, second = len(events) // 3, 2 * len(events) // 3
    try:
        async with running_app(settings) as runtime:
            publisher = await first_third_recorded(settings, runtime, direct, events[:first])

            # A batch is one statement in its own transaction: lose the answer to the one that
            # carries the second third's first event id (its index row holds it in plain text).
            marker = str(events[first].event_id)  # type: ignore[attr-defined]
            proxy.lose_replies_after(marker.encode())
            try:
                await publisher.publish_many(events[first:second])  # type: ignore[arg-type]
                # That very batch in the database, while the worker still waits for the
                # commit's answer (the other partition's batches of the second third may
                # commit before it, their answers arriving: they are not the one lost).
                await wait_until(lambda: marker in direct.index.known_event_ids([marker]),
                                 timeout=60, what="a commit the worker has no answer for")
                assert proxy.replies_lost
            finally:
                # Whatever happened: the app's shutdown must not wait on answers lost.
                proxy.heal()

            await publisher.publish_many(events[second:])  # type: ignore[arg-type]
            await publisher.close()
            await wait_until(lambda: total(direct) >= len(events), timeout=120,
                             what="every event")
            await wait_drained(settings)  # anything recorded twice would show up now
            assert total(direct) == len(events)
            assert_exactly_once_in_order(direct, agents, per_agent, run)
    finally:
        direct.close()
        await proxy.stop()
