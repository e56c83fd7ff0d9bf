"""One ack per consumer and batch (AckPolicy.ALL): everything committed ends acknowledged, and a
consumer made by an older version (explicit acks) is recreated where delivery stood."""

from __future__ import annotations

from collections.abc import Callable

import nats
from nats.js.api import AckPolicy
from nats_helpers import running_app, subjects_of, wait_until

from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.messaging.streams import consumer_config, ensure_streams
from ctxstore.infrastructure.settings import Settings


async def test_batches_end_fully_acknowledged_and_old_consumers_are_migrated(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=1)
    subjects = subjects_of(settings)
    durable = subjects.durable(0)
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(nc, subjects)
    # What an older version made: explicit acks, two of three messages acknowledged.
    old = consumer_config(durable, subjects.partition_filter(0))
    old.ack_policy = AckPolicy.EXPLICIT
    await js.add_consumer(subjects.events_stream, old)
    publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
    first = [new_event("ack-agent", "message", {"role": "user", "content": str(i)})
             for i in range(3)]
    await publisher.publish_many(first)
    sub = await js.pull_subscribe_bind(durable=durable, stream=subjects.events_stream)
    pulled = await sub.fetch(3, timeout=30)  # a generous deadline
    assert len(pulled) == 3
    for msg in pulled[:2]:
        await msg.ack_sync()
    await sub.unsubscribe()

    async with running_app(settings) as runtime:
        info = await js.consumer_info(subjects.events_stream, durable)
        assert info.config.ack_policy == AckPolicy.ALL
        more = [new_event("ack-agent", "message", {"role": "user", "content": f"more {i}"})
                for i in range(40)]
        await publisher.publish_many(more)
        store = runtime.get_store()
        # The third message was never acknowledged: the new consumer starts there, so it is
        # recorded (the first two were committed by nobody here: acked, they are not redone).
        await wait_until(lambda: any(a.version == 41 for a in store.agents()),
                         what="41 events recorded")
        assert runtime.worker is not None
        await runtime.worker.wait_idle()
        history = [h.event_id for h in store.history("ack-agent", limit=100)]
        assert history == [e.event_id for e in first[2:] + more]

        async def all_acked() -> bool:
            info = await js.consumer_info(subjects.events_stream, durable)
            return info.num_ack_pending == 0 and info.num_pending == 0

        await wait_until(all_acked, what="every delivered message acknowledged")
    await publisher.close()
    await nc.close()
