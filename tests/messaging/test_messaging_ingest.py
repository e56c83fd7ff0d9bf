"""Ingest over real NATS JetStream into real PostgreSQL: once, in order, nothing dropped."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace

import nats
import pytest
from nats.js.errors import NotFoundError
from nats_helpers import running_app, subjects_of, wait_until

from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.messaging.ingest import IngestOptions, IngestStats, ProgressReport
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.messaging.streams import dlq_stream_config, ensure_streams
from ctxstore.infrastructure.settings import Settings


def total_events(store: ContextStore) -> int:
    return sum(a.version for a in store.agents())


async def messages_on(settings: Settings, subject_filter: str) -> int:
    """Messages of the events stream stored on the subjects `subject_filter` matches."""
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(subjects_of(settings).events_stream,
                                                subjects_filter=subject_filter)
    finally:
        await nc.close()
    return sum((info.state.subjects or {}).values())


async def test_same_event_published_three_times_is_recorded_once(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2)
    subjects = subjects_of(settings)
    async with running_app(settings) as runtime:
        store = runtime.get_store()
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        event = new_event("dup-agent", "message", {"role": "user", "content": "hello"})
        acks = [await publisher.publish(event) for _ in range(3)]
        assert [a.duplicate for a in acks] == [None, True, True]  # JetStream's window
        # Past the window (a new message id, the same event id): the store's index stops it.
        await publisher.js.publish(subjects.events("dup-agent"),
                                   event.model_dump_json().encode(),
                                   headers={"Nats-Msg-Id": "another-id"})
        later = new_event("dup-agent", "message", {"role": "user", "content": "again"})
        await publisher.publish(later)
        await wait_until(lambda: runtime.worker is not None
                         and runtime.worker.stats.recorded + runtime.worker.stats.duplicates
                         >= 3, what="three messages handled")
        assert runtime.worker is not None
        await runtime.worker.wait_idle()
        history = store.history("dup-agent")
        assert [h.event_id for h in history] == [event.event_id, later.event_id]
        assert runtime.worker.stats.duplicates == 1
        await publisher.close()

    # Recorded messages have left the stream; the same events sent again later (new message
    # ids, past JetStream's window, as a replay from an archive would) record nothing new.
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    async with running_app(settings) as runtime:
        assert runtime.worker is not None
        for i, again in enumerate((event, later)):
            await js.publish(subjects.events("dup-agent"), again.model_dump_json().encode(),
                             headers={"Nats-Msg-Id": f"replay-{i}"})
        await wait_until(lambda: runtime.worker is not None
                         and runtime.worker.stats.duplicates >= 2, what="replay")
        await runtime.worker.wait_idle()
        assert runtime.worker.stats.recorded == 0
        assert len(runtime.get_store().history("dup-agent")) == 2
    await nc.close()


async def test_fifty_agents_interleaved_stay_in_order_with_two_workers(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=4)
    agents, per_agent = 50, 200
    run = uuid.uuid4().hex[:6]
    events = [
        new_event(f"order-{a}", "message",
                  {"role": "user", "content": str(i), "message_id": f"{run}-{a}-{i}"})
        for i in range(per_agent) for a in range(agents)
    ]
    async with running_app(settings, partitions=[0, 2]) as first, \
            running_app(settings, partitions=[1, 3]) as second:
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        for start in range(0, len(events), 2000):
            await publisher.publish_many(events[start:start + 2000])
        await publisher.close()
        store = first.get_store()
        await wait_until(lambda: total_events(store) == agents * per_agent, timeout=25,
                         what="all events recorded")
        assert first.worker is not None and second.worker is not None
        assert first.worker.stats.recorded > 0 and second.worker.stats.recorded > 0
        for a in range(agents):
            contents = [h.data["content"] for h in store.iter_history(f"order-{a}")]
            assert contents == [str(i) for i in range(per_agent)], f"agent order-{a}"


async def test_partitions_split_agents_between_workers_without_overlap(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2)
    async with running_app(settings, partitions=[0]) as only_zero:
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        await publisher.publish_many(
            [new_event(f"split-{a}", "message", {"role": "user", "content": "x"})
             for a in range(20)])
        await publisher.close()
        # How many of the 20 the server put on partition 0 (its hash decides): those, and
        # only those, are recorded by this worker. Counted on partition 1, which nobody
        # consumes yet: partition 0's recorded messages leave the stream.
        on_zero = 20 - await messages_on(settings, subjects_of(settings).partition_filter(1))
        assert 0 < on_zero < 20
        assert only_zero.worker is not None
        await wait_until(lambda: only_zero.worker is not None
                         and only_zero.worker.stats.recorded == on_zero, what="partition 0")
        await only_zero.worker.wait_idle()
        recorded_by_zero = only_zero.worker.stats.recorded
        assert recorded_by_zero == on_zero  # partition 1's agents wait for their worker
    async with running_app(settings, partitions=[1]) as only_one:
        store = only_one.get_store()
        await wait_until(lambda: total_events(store) == 20, what="partition 1's agents")
        assert only_one.worker is not None
        assert only_one.worker.stats.recorded == 20 - recorded_by_zero
        assert only_one.worker.stats.duplicates == 0


async def test_recorded_messages_leave_the_events_stream_and_dead_letters_age_out(
        settings_factory: Callable[..., Settings]) -> None:
    """What PostgreSQL holds does not stay in plain text in CTX_EVENTS; CTX_DLQ is bounded."""
    settings = settings_factory(nats_partitions=2, nats_dlq_max_age_days=2)
    subjects = subjects_of(settings)
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    try:
        async with running_app(settings) as runtime:
            publisher = await ContextPublisher.connect(settings.nats_url,
                                                       prefix=settings.nats_prefix)
            await publisher.publish_many([new_event(f"trim-{a}", "message",
                                                    {"role": "user", "content": f"secret {i}"})
                                          for a in range(6) for i in range(10)])
            await publisher.close()
            bad = await js.publish(subjects.events("trim-0"), b"not json",
                                   headers={"Nats-Msg-Id": "trim-bad"})
            store = runtime.get_store()
            await wait_until(lambda: total_events(store) == 60, what="60 recorded")
            dlq = await js.stream_info(subjects.dlq_stream)
            assert dlq.config.max_age == 2 * 24 * 3600

            async def emptied() -> bool:
                return (await js.stream_info(subjects.events_stream)).state.messages == 0

            await wait_until(emptied, timeout=60, what="the events stream emptied")
            info = await js.stream_info(subjects.events_stream)
            assert info.state.last_seq == bad.seq  # all 61 came, and all 61 went
            for seq in (1, bad.seq):
                with pytest.raises(NotFoundError):
                    await js.get_msg(subjects.events_stream, seq)
            assert (await js.stream_info(subjects.dlq_stream)).state.messages == 1
    finally:
        await nc.close()


@pytest.mark.parametrize("partitions", [1])
async def test_single_partition_needs_no_transform(
        settings_factory: Callable[..., Settings], partitions: int) -> None:
    settings = settings_factory(nats_partitions=partitions)
    async with running_app(settings) as runtime:
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        await publisher.publish_many(
            [new_event("solo", "message", {"role": "user", "content": str(i)}) for i in range(5)])
        await publisher.close()
        store = runtime.get_store()
        await wait_until(lambda: total_events(store) == 5, what="five events")
        assert [h.data["content"] for h in store.history("solo")] == [str(i) for i in range(5)]


async def test_progress_is_logged_while_events_come_and_a_summary_at_stop(
        settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    """Whichever ticks the 30 events fall into, a progress line reaches their total."""
    settings = settings_factory(nats_partitions=1)
    options = IngestOptions(max_event_bytes=settings.max_event_bytes, progress_every=0.2)
    caplog.set_level(logging.INFO, logger="ctxstore.infrastructure.messaging.ingest")

    def progress_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith("ingest:")]

    async with running_app(settings, options=options) as runtime:
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        await publisher.publish_many([new_event("progress-agent", "message",
                                                {"role": "user", "content": str(i)})
                                      for i in range(30)])
        await publisher.close()
        await wait_until(lambda: runtime.worker is not None
                         and runtime.worker.stats.recorded == 30, what="30 recorded")
        await wait_until(lambda: any("; 30 recorded, 0 duplicates" in line
                                     for line in progress_lines()),
                         timeout=60, what="a progress line with the total")
    counted = [int(line.split()[1]) for line in progress_lines()]
    assert sum(counted) == 30 and all(n >= 0 for n in counted), progress_lines()
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("ingest stopped: 30 recorded, 0 duplicates, 0 dead-lettered")
               for line in lines), lines


def test_progress_report_says_nothing_while_nothing_happens() -> None:
    """The quiet intervals, the first interval and the rate, on a clock the test holds."""
    stats = IngestStats()
    report = ProgressReport(stats, now=100.0)
    assert report.line(now=130.0) is None
    stats.recorded = 60
    assert report.line(now=160.0) == (
        "ingest: 60 events in the last 30s (2/s); 60 recorded, 0 duplicates, 0 dead-lettered, "
        "0 batches, 0 retries")
    assert report.line(now=190.0) is None
    stats.retries = 1  # a retry with nothing recorded is worth a line too
    assert (report.line(now=220.0) or "").startswith("ingest: 0 events in the last 30s (0/s)")
    first = ProgressReport(stats, now=0.0)  # events before the first tick are not lost
    stats.recorded += 5
    assert (first.line(now=10.0) or "").startswith("ingest: 5 events in the last 10s")


async def test_a_dead_letter_stream_made_without_a_max_age_gets_one(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=1)
    subjects = replace(subjects_of(settings), dlq_max_age=3 * 24 * 3600.0)
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(replace(dlq_stream_config(subjects), max_age=None))
        assert not (await js.stream_info(subjects.dlq_stream)).config.max_age
        await ensure_streams(nc, subjects)
        assert (await js.stream_info(subjects.dlq_stream)).config.max_age == 3 * 24 * 3600
        assert not (await js.stream_info(subjects.events_stream)).config.max_age
    finally:
        await nc.close()
