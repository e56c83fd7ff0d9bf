"""Declare the JetStream streams and durable consumers, and rewind a consumer to its ack floor.

Why rewind: JetStream redelivers an unacknowledged message only after its ack wait (or nak
delay), and meanwhile hands newer messages of the same partition to whoever pulls. A worker
that died holding a batch would let the next worker record later events of an agent before the
earlier ones. Recreating the consumer at ``ack_floor + 1`` makes the next pull start exactly at
the first message not known to be committed; what was committed but not acknowledged comes
again and the store's event-id index records it as a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import NotFoundError

from ctxstore.infrastructure.messaging.subjects import Subjects

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_S = 120.0
ACK_WAIT_S = 30.0
MAX_ACK_PENDING = 50_000


class NatsServerTooOld(RuntimeError):
    """Partitioning needs stream subject transforms (nats-server 2.10 or later)."""


def _major_minor(version: str) -> tuple[int, int]:
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:2]]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def fit_to_server(subjects: Subjects, version: str) -> Subjects:
    """The subjects to use with a nats-server of this version.

    Partitioning needs stream subject transforms (2.10 or later). On an older server, such as
    Debian's 2.9, the default partition count falls back to one partition with one warning, so
    a plain `ctxstore ingest` works; a count set explicitly above one is an error instead, since
    quietly running with fewer partitions than asked for would mislead whoever set it.
    """
    if not subjects.transformed or _major_minor(version) >= (2, 10):
        return subjects
    if subjects.partitions_explicit:
        raise NatsServerTooOld(
            f"nats-server {version} cannot partition agents into {subjects.partitions}: stream "
            f"subject transforms need 2.10 or later (or set CONTEXT_NATS_PARTITIONS=1)")
    log.warning("nats-server %s cannot partition agents (stream subject transforms need 2.10 "
                "or later): using 1 partition instead of the default %d", version,
                subjects.partitions)
    return replace(subjects, partitions=1)


def _stream_config(name: str, subjects: list[str], description: str, replicas: int,
                   transform: SubjectTransform | None = None,
                   max_age: float | None = None) -> StreamConfig:
    """Both streams keep messages on file, discard the oldest, and deduplicate by id.

    LIMITS retention for both: the events stream is emptied behind the ingest worker by
    purges (trim.py explains why not interest or work-queue retention); the dead letters wait
    for someone to look at them, up to `max_age` seconds.
    """
    return StreamConfig(
        name=name,
        description=description,
        subjects=subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_S,
        subject_transform=transform,
        num_replicas=replicas,
        max_age=max_age,
    )


def events_stream_config(subjects: Subjects) -> StreamConfig:
    transform = (
        SubjectTransform(src=subjects.transform_source, dest=subjects.transform_destination)
        if subjects.transformed
        else None
    )
    # Other tenants' subjects are stored as published: a stream has one subject transform,
    # and it partitions the local tenant's (the tenants' consumer is subjects.tenants_durable).
    return _stream_config(subjects.events_stream, subjects.events_subjects,
                          "Agent events (ctxstore wire envelopes), partitioned by agent",
                          subjects.replicas, transform)


def dlq_stream_config(subjects: Subjects) -> StreamConfig:
    return _stream_config(subjects.dlq_stream, subjects.dlq_subjects,
                          "Rejected agent events with the reason in the Ctx-Error header",
                          subjects.replicas, max_age=subjects.dlq_max_age)


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        return
    current = info.config
    # The server reports "no limit" as 0 where the config says None.
    changed = [name for name in ("subjects", "subject_transform", "duplicate_window",
                                 "num_replicas", "max_age")
               if (getattr(current, name) or None) != (getattr(config, name) or None)]
    if changed:
        # A stream made before tenants came to NATS gains their subjects here: harmless. A
        # changed transform moves agents between partitions: only safe while drained.
        log.warning("updating stream %s (%s changed); change CONTEXT_NATS_PARTITIONS only "
                    "while the stream is drained", config.name, ", ".join(changed))
        await js.update_stream(replace(current, subjects=config.subjects,
                                       subject_transform=config.subject_transform,
                                       duplicate_window=config.duplicate_window,
                                       num_replicas=config.num_replicas,
                                       max_age=config.max_age))


async def ensure_streams(nc: Client, subjects: Subjects) -> Subjects:
    """Create (or align) CTX_EVENTS and CTX_DLQ; idempotent, safe from every process.

    Returns the subjects fitted to the connected server (see `fit_to_server`).
    """
    version = nc.connected_server_version
    subjects = fit_to_server(subjects, f"{version.major}.{version.minor}.{version.patch}")
    js = nc.jetstream()
    await _ensure_stream(js, events_stream_config(subjects))
    await _ensure_stream(js, dlq_stream_config(subjects))
    return subjects


def consumer_config(durable: str, filter_subject: str) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=durable,
        filter_subject=filter_subject,
        # One ack per batch: acknowledging a message acknowledges every earlier one of the
        # consumer, and a batch is acknowledged only once all of it is committed or DLQ'ed.
        ack_policy=AckPolicy.ALL,
        ack_wait=ACK_WAIT_S,
        max_deliver=-1,  # never give up on a message: dropping would lose an event
        max_ack_pending=MAX_ACK_PENDING,
        deliver_policy=DeliverPolicy.ALL,
    )


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the durable consumer, or align its filter; then rewind it if it holds pending."""
    assert config.durable_name is not None
    try:
        info = await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        await js.add_consumer(stream, config)
        return
    if info.config.filter_subject != config.filter_subject:
        await js.delete_consumer(stream, config.durable_name)
        await js.add_consumer(stream, config)
        return
    if info.config.ack_policy != config.ack_policy:
        # A consumer's ack policy cannot be changed (older versions acked each message):
        # recreate it at the first message not known to be acknowledged.
        await _recreate_at_ack_floor(js, stream, config)
        return
    await rewind_to_ack_floor(js, stream, config)


async def rewind_to_ack_floor(js: JetStreamContext, stream: str, config: ConsumerConfig) -> bool:
    """Restart delivery at the first unacknowledged message, when any are outstanding."""
    assert config.durable_name is not None
    info = await js.consumer_info(stream, config.durable_name)
    if not info.num_ack_pending:
        return False
    log.warning("rewinding consumer %s to its ack floor (%d unacknowledged)",
                config.durable_name, info.num_ack_pending)
    await _recreate_at_ack_floor(js, stream, config)
    return True


async def _recreate_at_ack_floor(js: JetStreamContext, stream: str, config: ConsumerConfig
                                 ) -> None:
    assert config.durable_name is not None
    info = await js.consumer_info(stream, config.durable_name)
    start = (info.ack_floor.stream_seq or 0) + 1 if info.ack_floor else 1
    await js.delete_consumer(stream, config.durable_name)
    await js.add_consumer(stream, replace(config, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                          opt_start_seq=start))
