"""The FastStream application of `ctxstore ingest`: broker, rpc handlers, ingest lifespan.

``build_broker`` declares every channel of DESIGN §5 on a NatsBroker; the running app and the
AsyncAPI document (asyncapi.py) both come from it. The ingest pull loop (ingest.py) runs inside
the app's lifespan on the broker's own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

from faststream import FastStream
from faststream.nats import JStream, NatsBroker
from nats.errors import ConnectionClosedError, ConnectionReconnectingError
from pydantic import BaseModel, Field

from ctxstore.application.commands.fields import AgentId
from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.event_loop import loop_name
from ctxstore.infrastructure.messaging.ingest import (
    IngestOptions,
    IngestWorker,
    cancelled,
    is_transient,
)
from ctxstore.infrastructure.messaging.rpc import error_middleware, register_rpc
from ctxstore.infrastructure.messaging.streams import ensure_streams
from ctxstore.infrastructure.messaging.subjects import Subjects

log = logging.getLogger(__name__)


class RecordedAnnouncement(BaseModel):
    """Published on <prefix>.recorded.<agent_id> after an event is committed."""

    agent_id: AgentId
    version: int = Field(ge=1, description="the agent's version after this event")
    event_id: str
    type: str = Field(description="the event's wire type")


class DeadLetterBody(BaseModel):
    """The rejected message's body, byte for byte (it may not even be JSON).

    Headers: Ctx-Error (the reason), Ctx-Original-Subject (where the agent published it),
    Ctx-Original-Msg-Id, Nats-Msg-Id (the original stream sequence, for dedup).
    """

    raw: str = Field(description="original body, unchanged")


@dataclass
class Runtime:
    """What the app holds while running: the services (bootstrapped once connected) and the
    ingest worker."""

    subjects: Subjects
    services_factory: Callable[[], Services]
    partitions: list[int] | None = None
    options: IngestOptions = field(default_factory=IngestOptions)
    ingest: bool = True
    services: Services | None = None
    worker: IngestWorker | None = None
    starting: asyncio.Task[None] | None = None  # the worker waits for its partition leases
    failure: BaseException | None = None  # why the worker stopped on its own, if it did

    async def wait_started(self) -> None:
        """Until the worker pulls (tests, benchmarks): it may wait for another's leases."""
        if self.starting is not None:
            await asyncio.shield(self.starting)

    def get_services(self) -> Services:
        if self.services is None:
            raise RuntimeError("the store is still starting; retry in a moment")
        return self.services

    def get_store(self) -> ContextStore:
        return self.get_services().store


def _connection_trouble(every: float = 30.0) -> Callable[[Exception], Awaitable[None]]:
    """An error callback that says what is wrong with the NATS connection, once in a while:
    the client keeps retrying, and a worker waiting for NATS should not look hung."""
    last = 0.0

    async def report(error: Exception) -> None:
        nonlocal last
        if time.monotonic() - last >= every:
            last = time.monotonic()
            log.warning("NATS: %s: %s (retrying)", type(error).__name__, error)

    return report


async def _reconnected() -> None:
    log.warning("NATS: connected again")


class _Broker(NatsBroker):
    """A NatsBroker whose stop also works while NATS is away.

    faststream drains the connection on stop, and nats-py refuses to drain one that is
    reconnecting: a worker told to stop during an outage ended with an error, skipping the rest
    of its shutdown. Closing is what is left, and loses nothing: what was delivered and not
    acknowledged comes again to the next worker.
    """

    async def stop(self, exc_type: type[BaseException] | None = None,
                   exc_val: BaseException | None = None,
                   exc_tb: TracebackType | None = None) -> None:
        try:
            await super().stop(exc_type, exc_val, exc_tb)
        except (ConnectionReconnectingError, ConnectionClosedError, ConnectionResetError):
            log.warning("NATS is away: closing the connection without draining it")
            connection, self._connection = self._connection, None
            if connection is not None:
                # nats-py's close flushes what it still holds onto the dead socket first, and
                # asyncio then raises ConnectionResetError('Connection lost'): the connection
                # is closed all the same (its status is set before the flush).
                with contextlib.suppress(OSError):
                    await connection.close()
            self.config.disconnect()


def build_broker(url: str | list[str], subjects: Subjects,
                 services: Callable[[], Services] | None = None) -> NatsBroker:
    """The broker with every channel; the rpc handlers only when `services` is given."""
    broker = _Broker(url, middlewares=[error_middleware()], max_reconnect_attempts=-1,
                     logger=log, error_cb=_connection_trouble(), reconnected_cb=_reconnected)
    if services is not None:
        register_rpc(broker, subjects, services)
    for recorded in (subjects.recorded_template, subjects.tenant_template("recorded")):
        broker.publisher(
            recorded,
            title=recorded,
            description="Announced after an event is durably recorded (core NATS, for live "
            "followers); a tenant's under its own prefix.",
            schema=RecordedAnnouncement,
        )
    for dlq in (subjects.dlq_template, subjects.tenant_template("dlq")):
        broker.publisher(
            dlq,
            stream=JStream(subjects.dlq_stream, subjects=subjects.dlq_subjects, declare=False),
            title=dlq,
            description=f"Stream {subjects.dlq_stream}: messages that could not be recorded, "
            "with headers Ctx-Error and Ctx-Original-Subject (and Ctx-Tenant under a tenant's "
            "prefix); the agent token is 'unknown' when none could be read.",
            schema=DeadLetterBody,
        )
    return broker


def create_app(
    url: str | list[str],
    subjects: Subjects,
    services_factory: Callable[[], Services],
    *,
    partitions: Iterable[int] | None = None,
    options: IngestOptions | None = None,
    ingest: bool = True,
    rpc: bool = True,
) -> tuple[FastStream, Runtime]:
    """The app over services the factory builds once NATS is connected (the composition
    root's `bootstrap`), closed on shutdown."""
    runtime = Runtime(subjects, services_factory,
                      partitions=list(partitions) if partitions is not None else None,
                      options=options or IngestOptions(), ingest=ingest)
    broker = build_broker(url, subjects, runtime.get_services if rpc else None)
    app = FastStream(broker, logger=log)

    @app.after_startup
    async def start_ingest() -> None:
        runtime.services = services = await _services_once_reachable(runtime.services_factory)
        runtime.subjects = fitted = await ensure_streams(broker.connection, subjects)
        if runtime.ingest and services.runner is not None:
            # Automatic checkpoints run here too; rounds are claimed in the store, so this
            # worker, its siblings and `serve` take each round once.
            services.runner.start()
        if runtime.ingest:
            worker = runtime.worker = IngestWorker(services.commands, broker.connection, fitted,
                                                   runtime.partitions, runtime.options)

            def give_up(error: BaseException) -> None:
                runtime.failure = error
                app.exit()

            worker.on_lost = give_up

            async def start() -> None:
                try:
                    await worker.start()
                except Exception as e:
                    log.exception("the ingest worker could not start")
                    give_up(e)
                    raise
                log.info("ingesting partitions %s of %s (event loop: %s)", worker.partitions,
                         subjects.events_stream, loop_name())

            # In the background: a standby worker waits here, and must still stop on SIGTERM.
            runtime.starting = asyncio.create_task(start(), name="ingest-start")

    @app.on_shutdown
    async def stop_ingest() -> None:
        if runtime.starting is not None:
            # A standby still waiting (cancelled again if a lease request swallowed it);
            # nothing once started. A failure was logged and kept in runtime.failure.
            with contextlib.suppress(Exception):
                await cancelled([runtime.starting])
        if runtime.worker is not None:
            await runtime.worker.stop()
        if runtime.services is not None and runtime.services.runner is not None:
            await asyncio.to_thread(runtime.services.runner.stop_and_wait)  # a round ends

    @app.after_shutdown
    async def close_store() -> None:
        if runtime.services is not None:
            await asyncio.to_thread(runtime.services.close)

    return app, runtime


async def _services_once_reachable(factory: Callable[[], Services], *, first_wait: float = 1.0,
                                   longest_wait: float = 30.0) -> Services:
    """The services, once their database answers: a worker started before PostgreSQL (a
    machine booting, a database restarting) waits for it, saying so, instead of exiting.

    Only trouble reaching the database is waited out (is_transient); a refused setting or an
    old schema still ends the start. SIGTERM meanwhile ends the app, which cancels this.
    """
    wait = first_wait
    while True:
        try:
            return await asyncio.to_thread(factory)
        except Exception as e:
            if not is_transient(e):
                raise
            log.warning("the store's database cannot be reached (%s: %s); trying again in "
                        "%.0fs", type(e).__name__, str(e).strip().splitlines()[0] if str(e)
                        else "", wait)
        await asyncio.sleep(wait)
        wait = min(wait * 2, longest_wait)


def parse_partitions(spec: str | None, partitions: int) -> list[int] | None:
    """'0-3', '0,2,5' or 'i/n' (every partition p with p % n == i) into partition numbers."""
    if spec is None or spec.strip() in ("", "all"):
        return None
    spec = spec.strip()
    chosen: set[int] = set()
    try:
        if "/" in spec:
            index, count = (int(x) for x in spec.split("/", 1))
            if not 0 <= index < count:
                raise ValueError
            chosen = {p for p in range(partitions) if p % count == index}
        else:
            for part in spec.split(","):
                if "-" in part:
                    lo, hi = (int(x) for x in part.split("-", 1))
                    chosen.update(range(lo, hi + 1))
                else:
                    chosen.add(int(part))
    except ValueError:
        raise ValueError(f"--partitions {spec!r}: expected 'all', 'i/n', '0-3' or '0,2'") from None
    bad = sorted(p for p in chosen if not 0 <= p < partitions)
    if bad:
        raise ValueError(f"--partitions {spec!r}: partitions {bad} are outside 0..{partitions - 1} "
                         "(CONTEXT_NATS_PARTITIONS)")
    if not chosen:
        raise ValueError(f"--partitions {spec!r} selects no partition")
    return sorted(chosen)
