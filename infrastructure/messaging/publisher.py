"""Publishing agent events to ctxstore over NATS JetStream, for agents.

Every event goes to ``ctx.events.<agent_id>`` with ``Nats-Msg-Id: <event_id>``, so a retry after
a lost acknowledgement is dropped by JetStream inside its duplicate window (and by the store's
event-id index after it). A publisher of another tenant (``tenant=``, with that tenant's NATS
credentials) publishes on ``ctx.t.<tenant>.events.<agent_id>`` with ``<tenant>:<event_id>``.
Each PubAck is awaited with a bound and the publication retried, with the same id, until it is
acknowledged or the retries run out (then ``PublishFailed`` says which event).

Order per agent holds under faults too. A connection cut loses whatever was on the wire, while
what the client still buffered goes out after the reconnect: with several of one agent's events
in flight, a lost one would be stored after its successors, and no header can make JetStream
refuse those successors while they are pipelined. So each agent has a lane that keeps one event
in flight (``per_agent_in_flight``) and sends the next only once the previous is acknowledged;
many agents' lanes run at once (``max_in_flight`` in all). When an event's retries run out, the
events of that agent queued behind it are not sent (``HeldBack``): publishing them would put
them ahead of it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import deque
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import PubAck

from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.events import AnyEnvelope, make_envelope, parse_envelope
from ctxstore.infrastructure.messaging.subjects import MSG_ID, Subjects

T = TypeVar("T")
EnvelopeLike = AnyEnvelope | Mapping[str, Any]


class PublishFailed(RuntimeError):
    """An event that JetStream did not acknowledge; publish it again (same id) later."""

    def __init__(self, event_id: str, message: str):
        self.event_id = event_id
        super().__init__(message)

    @classmethod
    def unacknowledged(cls, event_id: str, attempts: int, cause: BaseException
                       ) -> PublishFailed:
        return cls(event_id, f"event {event_id!r} not acknowledged after {attempts} attempts: "
                             f"{type(cause).__name__}: {cause}")


class HeldBack(PublishFailed):
    """Not sent: an earlier event of the same agent failed, and this one must not overtake it."""

    def __init__(self, event_id: str, failed_event_id: str):
        self.failed_event_id = failed_event_id
        super().__init__(event_id, f"event {event_id!r} not sent: the same agent's earlier event "
                                   f"{failed_event_id!r} failed and must be published first")


def new_event(agent_id: str, type: str, data: Mapping[str, Any], *,
              event_id: str | None = None, occurred_at: datetime | None = None,
              session_id: str | None = None) -> AnyEnvelope:
    """A validated envelope with a fresh UUID event id (the idempotency key)."""
    return make_envelope(agent_id, type, data, event_id=event_id or str(uuid.uuid4()),
                         occurred_at=occurred_at, session_id=session_id)


def encode(envelope: EnvelopeLike) -> tuple[str, str, bytes]:
    """(agent_id, event_id, body) of a validated envelope."""
    env = envelope if not isinstance(envelope, Mapping) else parse_envelope(envelope)
    return env.agent_id, env.event_id, env.model_dump_json(exclude_none=True).encode()


@dataclass
class _Publication:
    subject: str
    event_id: str
    msg_id: str
    body: bytes
    result: asyncio.Future[PubAck]


@dataclass
class _Lane:
    """One agent's publications not yet acknowledged, in order, and the task sending them."""

    waiting: deque[_Publication] = field(default_factory=deque)
    sender: asyncio.Task[None] | None = None


class ContextPublisher:
    """Async publisher; use ``await ContextPublisher.connect(url)`` or pass a connected client."""

    def __init__(self, nc: Client, subjects: Subjects | None = None, *,
                 ack_timeout: float = 5.0, max_in_flight: int = 1024,
                 per_agent_in_flight: int = 1, attempts: int = 5,
                 owns_connection: bool = False, tenant: str = LOCAL_TENANT):
        self.nc = nc
        self.tenant = tenant
        self.js = nc.jetstream(publish_async_max_pending=max(1, max_in_flight) * 2)
        self.subjects = subjects or Subjects()
        self.subjects.scope(tenant)  # a tenant without subjects of its own: refused here
        self.ack_timeout = ack_timeout
        self.attempts = attempts
        self.per_agent_in_flight = max(1, per_agent_in_flight)
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._lanes: dict[str, _Lane] = {}
        self._owns = owns_connection

    @classmethod
    async def connect(cls, url: str | list[str] = "nats://127.0.0.1:4222", *,
                      prefix: str = "ctx", connect_options: Mapping[str, Any] | None = None,
                      **options: Any) -> ContextPublisher:
        """`connect_options` go to nats.connect: a tenant's credentials (`user_credentials`,
        `user`/`password`, `token`) and `inbox_prefix` when its permissions confine replies."""
        nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                **dict(connect_options or {}))
        return cls(nc, Subjects(prefix=prefix), owns_connection=True, **options)

    async def __aenter__(self) -> ContextPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Finish what was handed over (acknowledged, or failed), then close an owned client."""
        senders = [lane.sender for lane in self._lanes.values() if lane.sender is not None]
        await asyncio.gather(*senders, return_exceptions=True)
        if self._owns and not self.nc.is_closed:
            await self.nc.drain()

    async def publish(self, envelope: EnvelopeLike) -> PubAck:
        """Publish one event and wait until JetStream has stored it."""
        return (await self.publish_many([envelope]))[0]

    async def publish_many(self, envelopes: Iterable[EnvelopeLike]) -> list[PubAck]:
        """Publish in order per agent, agents concurrently; the PubAcks in the same order.

        Every envelope is validated before any is sent. On failure the first failure in the
        given order is raised once every other publication has settled.
        """
        publications = []
        for envelope in envelopes:
            agent_id, event_id, body = encode(envelope)
            publications.append((agent_id, _Publication(
                self.subjects.events(agent_id, self.tenant), event_id,
                self.subjects.msg_id(event_id, self.tenant), body,
                asyncio.get_running_loop().create_future())))
        for agent_id, publication in publications:
            lane = self._lanes.get(agent_id)
            if lane is None:
                lane = self._lanes[agent_id] = _Lane()
            lane.waiting.append(publication)
            if lane.sender is None:
                lane.sender = asyncio.create_task(self._send_lane(agent_id, lane))
        results = await asyncio.gather(*(p.result for _, p in publications),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, PubAck)]

    async def _send_lane(self, agent_id: str, lane: _Lane) -> None:
        """Send the lane's publications in order, at most `per_agent_in_flight` unacknowledged."""
        sent: deque[tuple[_Publication, asyncio.Future[PubAck] | None]] = deque()
        try:
            while lane.waiting or sent:
                while lane.waiting and len(sent) < self.per_agent_in_flight:
                    if sent and self._slots.locked():
                        break  # waiting for a slot while holding some could deadlock lanes
                    publication = lane.waiting.popleft()
                    await self._slots.acquire()
                    sent.append((publication, await self._first_attempt(publication)))
                publication, first = sent.popleft()
                try:
                    outcome: PubAck | PublishFailed = await self._acknowledged(publication, first)
                except PublishFailed as e:
                    outcome = e
                except Exception as e:  # noqa: BLE001 - reported to the caller, like the rest
                    outcome = PublishFailed(publication.event_id, f"event "
                                            f"{publication.event_id!r} not published: "
                                            f"{type(e).__name__}: {e}")
                finally:
                    self._slots.release()
                _settle(publication.result, outcome)
                if isinstance(outcome, PublishFailed):
                    while lane.waiting:
                        held = lane.waiting.popleft()
                        _settle(held.result, HeldBack(held.event_id, publication.event_id))
        except Exception as e:  # a bug must not leave callers waiting for ever
            for publication, _ in sent:
                _settle(publication.result, e)
            while lane.waiting:
                _settle(lane.waiting.popleft().result, e)
            raise
        finally:
            lane.sender = None
            if not lane.waiting and self._lanes.get(agent_id) is lane:
                del self._lanes[agent_id]

    async def _send(self, publication: _Publication) -> asyncio.Future[PubAck]:
        return await self.js.publish_async(publication.subject, publication.body,
                                           headers={MSG_ID: publication.msg_id})

    async def _first_attempt(self, publication: _Publication) -> asyncio.Future[PubAck] | None:
        """Hand the message to the client; None when even that failed (retried later)."""
        try:
            return await self._send(publication)
        except NatsError:
            return None

    async def _acknowledged(self, publication: _Publication,
                            future: asyncio.Future[PubAck] | None) -> PubAck:
        """The PubAck of `future`, else of retries with the same message id."""
        for attempt in range(1, self.attempts + 1):
            try:
                if future is None:
                    future = await self._send(publication)
                return await asyncio.wait_for(future, self.ack_timeout)
            except (TimeoutError, NatsError) as e:
                future = None
                if attempt == self.attempts:
                    raise PublishFailed.unacknowledged(publication.event_id, attempt, e) from e
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover


def _settle(result: asyncio.Future[PubAck], outcome: PubAck | BaseException) -> None:
    """Resolve a caller's future unless the caller has gone (cancelled)."""
    if result.done():
        return
    if isinstance(outcome, BaseException):
        result.set_exception(outcome)
    else:
        result.set_result(outcome)


class SyncContextPublisher:
    """Blocking wrapper for agents without an event loop: the loop runs in a daemon thread.

    `timeout` bounds connecting and closing. Publishing waits until every event is acknowledged
    or has failed, which each event's own bound (`attempts` × `ack_timeout`) keeps finite: one
    agent's events go one at a time, so a large batch may rightly take minutes.
    """

    def __init__(self, url: str = "nats://127.0.0.1:4222", *, prefix: str = "ctx",
                 timeout: float = 60.0, **options: Any):
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="ctxstore-publisher")
        self._thread.start()
        self._publisher = self._run(ContextPublisher.connect(url, prefix=prefix, **options))

    def _run(self, coro: Coroutine[Any, Any, T], *, bounded: bool = True) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(self.timeout if bounded else None)

    def publish(self, envelope: EnvelopeLike) -> PubAck:
        return self._run(self._publisher.publish(envelope), bounded=False)

    def publish_many(self, envelopes: Iterable[EnvelopeLike]) -> list[PubAck]:
        return self._run(self._publisher.publish_many(list(envelopes)), bounded=False)

    def event(self, agent_id: str, type: str, data: Mapping[str, Any], **kw: Any) -> PubAck:
        """Build and publish one event; returns its PubAck."""
        return self.publish(new_event(agent_id, type, data, **kw))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self._publisher.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> SyncContextPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
