"""The ingest worker: pull agent events from JetStream, record them, acknowledge after commit.

Shape of the hot path: one pull task per owned partition takes batches from that partition's
durable consumer (pull.py: one inbox subscription, no per-message task) and queues them in pull
order; one committer takes whatever is queued (many partitions, many agents) and records it with
the ``record_parsed`` command, one transaction per tenant, in a thread so that fetching goes on
meanwhile. Only then are the messages acknowledged, the rejected ones moved to the dead-letter
stream and ``<prefix>.recorded.<agent_id>`` announced.

Tenants: each message is recorded for the tenant its subject names (subjects.py), and announced
and dead-lettered under that tenant's subjects. Other tenants' events are stored as published
(the stream's one subject transform partitions the local tenant's), so they have one consumer,
pulled by partition 0's worker like malformed subjects: their order holds, their throughput is
one partition's.

Order per agent: an agent always maps to one partition, a partition is pulled by one task, and
the committer is FIFO. A failed commit is retried in place (the batch is held, the server told
"in progress") rather than nak'ed, because JetStream would hand the next messages of the same
agents out while a nak'ed one waits for its delay. Crashes are covered by rewinding the consumer
to its ack floor at start (see streams.py); duplicates that brings back are recognised by the
store's event-id index.

Why not faststream's batch pull subscriber: with its default ack policy a raised handler
terminates (TERM) every message of the batch, so an outage of PostgreSQL would drop events; it
acks a batch all-or-nothing where we need per-message outcomes (recorded, duplicate, DLQ); and
nats-py 2.16's ``fetch`` raises a bare ``asyncio.TimeoutError`` that faststream's loop does not
catch, discarding a partly collected batch (left unacknowledged, so later messages of the
partition overtake it after a restart of the task). tests/messaging/test_messaging_pitfalls.py
shows each of these on a real server. ``fetch`` is also costly per message (see pull.py). The
pull loop below runs inside the FastStream app's lifespan.

Beside it: ingest_options.py (tuning, counters, progress line), ingest_decode.py (message to
envelope or dead letter, by the rules every door applies), ingest_record.py (the transaction
and its retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext

from ctxstore.application.commands import Commands
from ctxstore.application.results import EventOutcome
from ctxstore.infrastructure.messaging.dlq import DeadLetterPublisher
from ctxstore.infrastructure.messaging.ingest_decode import (
    Decoded,
    MessageDecoder,
    last_of_each_consumer,
)
from ctxstore.infrastructure.messaging.ingest_options import (
    IngestOptions,
    IngestStats,
    ProgressReport,
)
from ctxstore.infrastructure.messaging.ingest_record import BatchRecorder, is_transient
from ctxstore.infrastructure.messaging.leases import LeaseLost, PartitionLeases
from ctxstore.infrastructure.messaging.pull import BatchPuller
from ctxstore.infrastructure.messaging.streams import (
    ACK_WAIT_S,
    consumer_config,
    ensure_consumer,
    rewind_to_ack_floor,
)
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.messaging.trim import StreamTrimmer

__all__ = ["IngestOptions", "IngestStats", "IngestWorker", "ProgressReport", "is_transient",
           "last_of_each_consumer"]

log = logging.getLogger(__name__)


async def cancelled(tasks: Collection[asyncio.Task[Any]], again_after: float = 1.0) -> None:
    """Cancel `tasks` and return once each has ended (raising what one raised, but for its
    cancellation). One still running `again_after` seconds after its cancel is cancelled
    again: on Python 3.11 `asyncio.wait_for`, which nats-py's requests use, swallows a cancel
    that lands as the future it waits for completes, and the task goes on (CI: a worker's stop
    waited for its stream trimmer, back in its loop, until the test's five-minute timeout)."""
    running = {task for task in tasks if not task.done()}
    while running:
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=again_after)
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class IngestWorker:
    """Consumes the given partitions (plus, on partition 0's owner, malformed subjects)."""

    def __init__(
        self,
        commands: Commands,
        nc: Client,
        subjects: Subjects,
        partitions: Iterable[int] | None = None,
        options: IngestOptions | None = None,
    ):
        self.commands = commands
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.subjects = subjects
        self.partitions = sorted(set(partitions if partitions is not None
                                     else range(subjects.partitions)))
        for p in self.partitions:
            if not 0 <= p < subjects.partitions:
                raise ValueError(f"partition {p} is outside 0..{subjects.partitions - 1}")
        self.options = options or IngestOptions()
        self.stats = IngestStats()
        self.dlq = DeadLetterPublisher(self.js, subjects)
        self.decoder = MessageDecoder(subjects, self.options.limits)
        self.recorder = BatchRecorder(commands, self.options, self.stats)
        self._queue: asyncio.Queue[list[Msg]] = asyncio.Queue(
            maxsize=self.options.queue_batches * max(1, len(self.partitions)))
        self._tasks: list[asyncio.Task[None]] = []
        self._pullers: list[BatchPuller] = []
        self._committer: asyncio.Task[None] | None = None
        self._running = False
        self.leases = PartitionLeases(self.js, subjects.leases_bucket, self.partitions,
                                      holder=self.options.lease_holder,
                                      ttl=self.options.lease_seconds,
                                      replicas=subjects.replicas)
        self.lost: LeaseLost | None = None  # set when a lease was lost and pulling stopped
        self._keeper: asyncio.Task[None] | None = None
        self._filters: dict[str, str] = {}  # durable -> its filter subject
        # Recorded and acknowledged messages leave the stream (trim.py).
        self.trimmer = StreamTrimmer(self.js, subjects.events_stream,
                                     every=self.options.trim_every)
        self.on_lost: Callable[[LeaseLost], None] | None = None  # e.g. end the process

    # Lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start recording; each partition is pulled as soon as its lease is held, and this
        returns once all are (a standby waits here until the worker before it goes)."""
        self._running = True
        self._committer = asyncio.create_task(self._commit_loop(), name="ingest-committer")
        self._keeper = asyncio.create_task(self._keep_leases(), name="ingest-leases")
        self._tasks.append(asyncio.create_task(self.trimmer.run(), name="ingest-trim"))
        if self.options.progress_every > 0:
            self._tasks.append(asyncio.create_task(self._report_progress(),
                                                   name="ingest-progress"))
        claims = [asyncio.create_task(self._claim(p), name=f"claim-{p}")
                  for p in self.partitions]
        self._tasks.extend(claims)
        await asyncio.gather(*claims)

    async def _claim(self, partition: int) -> None:
        """Take the partition's lease (waiting while another worker holds it), then pull it."""
        await self.leases.acquire(partition)
        consumers = [(self.subjects.durable(partition), self.subjects.partition_filter(partition))]
        if partition == 0:  # malformed subjects and other tenants' go with partition 0
            consumers.append((self.subjects.stray_durable, self.subjects.stray_filter))
            consumers.append((self.subjects.tenants_durable, self.subjects.tenants_all))
        for durable, filter_subject in consumers:
            await ensure_consumer(self.js, self.subjects.events_stream,
                                  consumer_config(durable, filter_subject))
            puller = BatchPuller(self.nc, self.subjects.events_stream, durable,
                                 batch=self.options.fetch_size, expires=self.options.idle_wait)
            puller.reset(await self._delivered(durable))
            self._filters[durable] = filter_subject
            await puller.start()
            self._pullers.append(puller)
            self._tasks.append(asyncio.create_task(self._pull(puller), name=f"pull-{durable}"))

    async def stop(self) -> None:
        """Stop pulling, record and acknowledge what was already pulled, then return."""
        self._running = False
        tasks, self._tasks = self._tasks, []
        await cancelled(tasks)
        # Unsubscribe rather than drain: whatever a lingering pull still delivers stays
        # unacknowledged and comes again (the next start rewinds to the ack floor).
        for puller in self._pullers:
            await puller.close()
        self._pullers.clear()
        if self._committer is not None:
            if not self._committer.done():  # a full queue with no committer would block
                await self._queue.put([])  # wake-up marker: the committer drains, then stops
            try:
                await asyncio.wait_for(asyncio.shield(self._committer),
                                       self.options.stop_timeout)
            except TimeoutError:
                # Retrying for ever (the database or NATS away): stop anyway. Nothing is lost:
                # what is not acknowledged comes again to the next worker, and what was
                # committed meanwhile is then a duplicate.
                log.warning("stopping with %d batch(es) unacknowledged after %.0fs (%s); "
                            "they come again to the next worker", max(self._held, 1),
                            self.options.stop_timeout, self.stats.last_error or "busy")
                self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        if self._keeper is not None:
            self._keeper.cancel()
            # Bounded: a renewal stuck on a NATS request must not hold the stop up.
            await asyncio.wait({self._keeper}, timeout=5.0)
        if self.nc.is_connected:  # what this worker committed leaves the stream now
            flush = asyncio.create_task(self.trimmer.flush())
            if (await asyncio.wait({flush}, timeout=5.0))[1]:
                flush.cancel()  # bounded, as the leases' release: the next worker purges it
        await self.leases.release(connected=self.nc.is_connected)
        log.info("ingest stopped: %s", self.stats.summary())

    async def _keep_leases(self) -> None:
        """Renew the partition leases; on losing one, stop pulling (what is held is recorded)."""
        try:
            await self.leases.keep()
        except LeaseLost as e:
            log.error("%s; this worker stops pulling", e)
            self.lost = e
            self._running = False
            for task in self._tasks:
                task.cancel()
            if self.on_lost is not None:
                self.on_lost(e)

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until nothing pulled waits to be recorded (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() or self._held:
            if time.monotonic() > deadline:
                raise TimeoutError("ingest worker still busy")
            await asyncio.sleep(0.01)

    _held = 0  # batches taken from the queue and not yet acknowledged

    # Pulling -----------------------------------------------------------------------------------
    async def _pull(self, puller: BatchPuller) -> None:
        while self._running:
            try:
                msgs = await puller.take(wait=1.0)
            except ConnectionClosedError as e:
                log.warning("pull failed (%s); retrying", e)
                await asyncio.sleep(0.5)
                continue
            if msgs:
                await self._queue.put(msgs)
            if puller.gap:
                await self._rewind_after_gap(puller)

    async def _delivered(self, durable: str) -> int:
        """The consumer's last delivery sequence: the next delivery must follow it."""
        info = await self.js.consumer_info(self.subjects.events_stream, durable)
        return info.delivered.consumer_seq if info.delivered else 0

    async def _rewind_after_gap(self, puller: BatchPuller) -> None:
        """Deliveries of this consumer were lost on the wire (see pull.py): once what came
        before them is acknowledged (after its commit), recreate the consumer at its ack floor,
        so they come again before anything after them. Bounded by the ack wait: an
        acknowledgement lost too only brings back events the store already has."""
        stream, durable = self.subjects.events_stream, puller.consumer
        last = puller.last_delivery or 0
        deadline = time.monotonic() + ACK_WAIT_S
        while self._running:
            try:
                info = await self.js.consumer_info(stream, durable)
                floor = info.ack_floor.consumer_seq if info.ack_floor else 0
                if (floor or 0) >= last or time.monotonic() > deadline:
                    await rewind_to_ack_floor(self.js, stream,
                                              consumer_config(durable, self._filters[durable]))
                    puller.reset(await self._delivered(durable))
                    self.stats.rewinds += 1
                    return
            except Exception as e:  # noqa: BLE001 - NATS still away: try again
                log.warning("rewinding %s failed (%s); retrying", durable, e)
            await asyncio.sleep(0.2)

    async def _report_progress(self) -> None:
        """A line every `progress_every` seconds while events come: rate and totals."""
        report = ProgressReport(self.stats, time.monotonic())
        while True:
            await asyncio.sleep(self.options.progress_every)
            line = report.line(time.monotonic())
            if line is not None:
                log.info("%s", line)

    # Committing --------------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        """Record batches one after another, preparing the next while one commits.

        Batch N+1 is taken and parsed while batch N's transaction runs in its thread; it starts
        recording only once N is committed and acknowledged, so each agent's order holds.
        """
        inflight: asyncio.Task[None] | None = None
        stopping = False
        while True:
            msgs, stop = self._take([] if stopping else await self._queue.get())
            stopping = stopping or stop
            decoded = [self.decoder.decode(m) for m in msgs]
            if inflight is not None:
                await inflight
                inflight = None
                if len(decoded) < self.options.batch_size and not stopping:
                    # Top up with what arrived meanwhile, so batches stay large under load.
                    more, stopping = self._take([], len(decoded))
                    decoded += [self.decoder.decode(m) for m in more]
            if decoded:
                self._held += 1
                inflight = asyncio.create_task(self._process(decoded))
                await asyncio.sleep(0)  # let it reach its thread before parsing the next batch
            if stopping and self._queue.empty():
                if inflight is not None:
                    await inflight
                return

    def _take(self, first: list[Msg], have: int = 0) -> tuple[list[Msg], bool]:
        """`first` plus queued pulls up to the batch size; and whether the stop marker came."""
        msgs, stopping = list(first), not first and not have
        while have + len(msgs) < self.options.batch_size and not self._queue.empty():
            more = self._queue.get_nowait()
            if not more:
                stopping = True
                continue
            msgs.extend(more)
        return msgs, stopping

    async def _process(self, decoded: list[Decoded]) -> None:
        try:
            await self._record_and_ack(decoded)
        finally:
            self._held -= 1

    async def _record_and_ack(self, decoded: list[Decoded]) -> None:
        dead = [d for d in decoded if d.envelope is None]
        recorded: list[tuple[Decoded, EventOutcome]] = []
        by_tenant: dict[str, list[Decoded]] = {}
        for d in decoded:
            if d.envelope is not None:
                by_tenant.setdefault(d.tenant, []).append(d)
        for tenant, good in by_tenant.items():
            envelopes = [d.envelope for d in good if d.envelope is not None]
            outcomes = await self.recorder.record(envelopes, [d.msg for d in good], tenant)
            recorded.extend(zip(good, outcomes, strict=True))
        for item, outcome in recorded:
            if outcome.status == "rejected" and outcome.forgotten:
                # A forgotten agent's event (redelivered, or published after the forget): a
                # dead letter would keep its content in plain text, so it is dropped.
                log.warning("dropped event %s of %s: %s", outcome.event_id, item.original_subject,
                            outcome.reason)
            elif outcome.status == "rejected":
                where = f"{outcome.field}: " if outcome.field else ""
                item.error = f"{where}{outcome.reason}"
                dead.append(item)
        if dead:
            await self.dlq.publish_all([self.decoder.dead_letter(d) for d in dead])
        for msg in last_of_each_consumer(d.msg for d in decoded):
            await msg.ack()  # AckPolicy.ALL: also acknowledges the consumer's earlier ones
            meta = msg.metadata
            self.trimmer.committed(self._filters[meta.consumer], meta.sequence.stream)
        self.stats.batches += 1
        self.stats.dead_lettered += len(dead)
        count = 0
        publish, subject = self.nc.publish, self.subjects.recorded
        for item, outcome in recorded:
            if outcome.status == "recorded":
                count += 1
                if self.options.announce:
                    assert item.envelope is not None
                    # Buffered by the client and flushed with the batch: no round trip each.
                    await publish(subject(outcome.agent_id, item.tenant), orjson.dumps(
                        {"agent_id": outcome.agent_id, "version": outcome.version,
                         "event_id": outcome.event_id, "type": item.envelope.type}))
            elif outcome.status == "duplicate":
                self.stats.duplicates += 1
        self.stats.recorded += count
