"""Publishing agent events to ctxstore over NATS JetStream, for agents.

Every event goes to ``ctx.events.<agent_id>`` with ``Nats-Msg-Id: <event_id>``, so a retry after
a lost acknowledgement is dropped by JetStream inside its duplicate window (and by the store's
event-id index after it). Many publications are in flight at once; each PubAck is awaited with a
bound and the publication retried, with the same id, until it is acknowledged or the retries
run out (then ``PublishFailed`` says which event).

Order: events are handed to the server in the order given. A retry goes out after later events,
so if a first attempt was truly lost (not just its acknowledgement), that event lands after
them; an agent that needs strict order under such faults publishes with ``max_in_flight=1``.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import PubAck

from domain.events import AnyEnvelope, make_envelope, parse_envelope
from infrastructure.messaging.subjects import MSG_ID, Subjects

T = TypeVar("T")
EnvelopeLike = AnyEnvelope | Mapping[str, Any]


class PublishFailed(RuntimeError):
    def __init__(self, event_id: str, attempts: int, cause: BaseException):
        self.event_id = event_id
        super().__init__(f"event {event_id!r} not acknowledged after {attempts} attempts: "
                         f"{type(cause).__name__}: {cause}")


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


class ContextPublisher:
    """Async publisher; use ``await ContextPublisher.connect(url)`` or pass a connected client."""

    def __init__(self, nc: Client, subjects: Subjects | None = None, *,
                 ack_timeout: float = 5.0, max_in_flight: int = 1024, attempts: int = 5,
                 owns_connection: bool = False):
        self.nc = nc
        self.js = nc.jetstream(publish_async_max_pending=max(1, max_in_flight) * 2)
        self.subjects = subjects or Subjects()
        self.ack_timeout = ack_timeout
        self.attempts = attempts
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._owns = owns_connection

    @classmethod
    async def connect(cls, url: str = "nats://127.0.0.1:4222", *, prefix: str = "ctx",
                      **options: Any) -> ContextPublisher:
        nc = await nats.connect(url, max_reconnect_attempts=-1)
        return cls(nc, Subjects(prefix=prefix), owns_connection=True, **options)

    async def __aenter__(self) -> ContextPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns and not self.nc.is_closed:
            await self.nc.drain()

    async def publish(self, envelope: EnvelopeLike) -> PubAck:
        """Publish one event and wait until JetStream has stored it."""
        return (await self.publish_many([envelope]))[0]

    async def publish_many(self, envelopes: Iterable[EnvelopeLike]) -> list[PubAck]:
        """Publish in order with many in flight; returns the PubAcks in the same order."""
        pending: list[asyncio.Task[PubAck]] = []
        for envelope in envelopes:
            agent_id, event_id, body = encode(envelope)
            await self._slots.acquire()  # in the caller's loop: keeps publication order
            try:
                first = await self._send(self.subjects.events(agent_id), event_id, body)
            except BaseException:
                self._slots.release()
                raise
            pending.append(asyncio.create_task(
                self._confirm(first, self.subjects.events(agent_id), event_id, body)))
        return list(await asyncio.gather(*pending))

    async def _send(self, subject: str, event_id: str, body: bytes) -> asyncio.Future[PubAck]:
        return await self.js.publish_async(subject, body, headers={MSG_ID: event_id})

    async def _confirm(self, first: asyncio.Future[PubAck], subject: str, event_id: str,
                       body: bytes) -> PubAck:
        try:
            future = first
            for attempt in range(1, self.attempts + 1):
                try:
                    return await asyncio.wait_for(future, self.ack_timeout)
                except (TimeoutError, NatsError) as e:
                    if attempt == self.attempts:
                        raise PublishFailed(event_id, attempt, e) from e
                    await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                    future = await self._send(subject, event_id, body)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._slots.release()


class SyncContextPublisher:
    """Blocking wrapper for agents without an event loop: the loop runs in a daemon thread."""

    def __init__(self, url: str = "nats://127.0.0.1:4222", *, prefix: str = "ctx",
                 timeout: float = 60.0, **options: Any):
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="ctxstore-publisher")
        self._thread.start()
        self._publisher = self._run(ContextPublisher.connect(url, prefix=prefix, **options))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(self.timeout)

    def publish(self, envelope: EnvelopeLike) -> PubAck:
        return self._run(self._publisher.publish(envelope))

    def publish_many(self, envelopes: Iterable[EnvelopeLike]) -> list[PubAck]:
        return self._run(self._publisher.publish_many(list(envelopes)))

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
