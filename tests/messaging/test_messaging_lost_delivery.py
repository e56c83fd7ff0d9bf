"""Messages JetStream delivered to a worker that never arrived (its connection broke with them
on the wire, as when the NATS node it was connected to dies): a later batch's acknowledgement
(AckPolicy.ALL) must not cover them, and they must be recorded, in order, before what follows."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import nats
from nats_helpers import running_app, subjects_of, wait_drained, wait_until
from test_messaging_faults import assert_exactly_once_in_order, events_for, total
from test_messaging_lost_reply import first_third_recorded

from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.messaging.pull import consumer_sequence
from ctxstore.infrastructure.settings import Settings
from devtools.tcp_proxy import TcpProxy


async def test_deliveries_lost_on_a_broken_connection_are_not_acknowledged_unrecorded(
        settings_factory: Callable[..., Settings]) -> None:
    direct = settings_factory(nats_partitions=1)
    host, port = direct.nats_url.rsplit("/", 1)[-1].split(":")
    proxy = await TcpProxy(host, int(port)).start()
    settings = direct.model_copy(update={"nats_url": proxy.url})  # the worker's way only
    store = build_store(direct)
    agents, per_agent = 3, 30
    run = f"ld{uuid.uuid4().hex[:6]}"
    events = events_for(run, agents, per_agent)
    first, second = len(events) // 3, 2 * len(events) // 3
    subjects = subjects_of(direct)
    nc = await nats.connect(direct.nats_url)
    js = nc.jetstream()
    try:
        async with running_app(settings) as runtime:
            publisher = await first_third_recorded(direct, runtime, store, events[:first])

            proxy.lose_replies()  # what the server sends the worker now is lost on the wire
            await publisher.publish_many(events[first:second])  # type: ignore[arg-type]

            async def delivered_unacknowledged() -> bool:
                info = await js.consumer_info(subjects.events_stream, subjects.durable(0))
                return info.num_ack_pending >= second - first

            await wait_until(delivered_unacknowledged, timeout=30,
                             what="the middle third delivered into the void")
            proxy.heal()  # the connection breaks; the worker reconnects

            await publisher.publish_many(events[second:])  # type: ignore[arg-type]
            await publisher.close()
            await wait_until(lambda: total(store) >= len(events), timeout=120,
                             what="every event, the lost deliveries too")
            await wait_drained(direct)
            assert runtime.worker is not None
            assert runtime.worker.stats.rewinds >= 1  # it saw the gap, and went back for them
            assert total(store) == len(events)
            assert_exactly_once_in_order(store, agents, per_agent, run)
    finally:
        store.close()
        await nc.close()
        await proxy.stop()


def test_the_delivery_sequence_is_read_from_either_reply_format() -> None:
    assert consumer_sequence("$JS.ACK.S.C.1.10.7.1700000000000000000.3") == 7
    assert consumer_sequence("$JS.ACK.hub.ACCHASH.S.C.1.10.7.1700000000000000000.3") == 7
    assert consumer_sequence("$JS.ACK.hub.ACCHASH.S.C.1.10.7.1700000000000000000.3.x9") == 7
    assert consumer_sequence("_INBOX.abc") is None
    assert consumer_sequence(None) is None
