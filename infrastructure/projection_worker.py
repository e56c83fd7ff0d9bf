"""The projection worker: reads the store's notification log in batches and feeds the views.

Exactly once: each batch's rows and its tracking record (the last notification id) commit in
one transaction, and the next batch starts after the recorded position, so a worker killed at
any instant resumes where the views stopped. On PostgreSQL it sleeps on LISTEN/NOTIFY (the
channel the event recorder notifies on every insert); on SQLite, which has no notifications,
it polls. While one batch commits (database work), the next is read, decoded and folded (Python
work); it is submitted only once the previous commit succeeded.

eventsourcing's ProjectionRunner is not used as is: it constructs the application itself
(without our compressor), needs a recorder that supports `subscribe` (the SQLite one does not),
and maps notifications to domain events, losing the stored size the evolution view reports.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    Tracking,
)

from ctxstore.application.store import ContextStore
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.topics import topics_of
from ctxstore.infrastructure.persistence.notify import insert_waiter
from ctxstore.projections.projection import ContextProjection, EventBatch, PreparedBatch
from ctxstore.projections.views import ContextViews

AGENT_TOPICS = frozenset().union(*(
    topics_of(cls)
    for cls in (AgentContext.Recorded, AgentContext.ContextRestored, AgentContext.CheckpointTaken,
                AgentContext.CheckpointsPruned)
))
DEFAULT_BATCH = 1000
RETRY_SECONDS = 2.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _InFlight:
    future: Future[None]
    batch: PreparedBatch
    count: int


class ProjectionWorker:
    """Runs the context projection over a store's log: once, for ever, or from zero."""

    def __init__(self, store: ContextStore, views: ContextViews, *,
                 batch_size: int = DEFAULT_BATCH, poll_interval: float = 0.1,
                 on_batch: Callable[[int, int], None] | None = None):
        if batch_size < 1:
            raise ValueError("batch_size: must be at least 1")
        self.store = store
        self.views = views
        self.projection = ContextProjection(views)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_batch = on_batch  # (events in batch, last notification id), e.g. for progress

    @property
    def position(self) -> int:
        """The last notification in the views, as far as this worker knows."""
        return self.projection.position or 0

    def run_once(self) -> int:
        """Project everything recorded so far; returns the number of notifications read."""
        return self._run(None, None)

    def rebuild(self) -> int:
        """Drop the views and project the whole log again from the first event (stop other
        workers first: one still running would carry on from its old position)."""
        self.views.drop()
        self.projection.forget()
        return self.run_once()

    def run_forever(self, stop: threading.Event) -> None:
        """Project as events arrive until `stop` is set; a lost database connection is
        retried (nothing half-written survives it: each batch is one transaction)."""
        while not stop.is_set():
            try:
                with insert_waiter(self.store, stop, self.poll_interval) as wait:
                    self._run(stop, wait)
            except (OperationalError, InterfaceError) as e:
                log.warning("projection worker: %s; retrying in %.0f s", e, RETRY_SECONDS)
                self.projection.forget()
                stop.wait(RETRY_SECONDS)

    def _run(self, stop: threading.Event | None, wait: Callable[[], None] | None) -> int:
        """Read, decode and fold the next batch while the previous one commits: the database
        works on one core while Python works on the other."""
        total = 0
        read_from = self.position
        in_flight: _InFlight | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="projection-commit") as pool:
            while stop is None or not stop.is_set():
                notifications = self.store.notifications(read_from, self.batch_size)
                prepared = None
                if notifications:
                    try:
                        prepared = self.projection.prepare(
                            EventBatch(self._decode(notifications)),
                            Tracking(self.views.application_name, notifications[-1].id))
                    except BaseException:
                        if in_flight is not None:  # let it finish, then start clean
                            with contextlib.suppress(BaseException):
                                in_flight.future.result()
                        self.projection.forget()
                        raise
                if in_flight is not None:
                    settled, in_flight = self._settle(in_flight), None
                    if settled is None:  # another worker moved the views; `prepared` is void
                        read_from = self.position
                        continue
                    total += settled
                if prepared is not None:
                    future = pool.submit(self.views.commit, prepared.changes, prepared.tracking,
                                         prepared.previous)
                    in_flight = _InFlight(future, prepared, len(notifications))
                    read_from = prepared.tracking.notification_id
                elif wait is None:
                    break
                else:
                    wait()
            if in_flight is not None:
                total += self._settle(in_flight) or 0
        return total

    def _settle(self, in_flight: _InFlight) -> int | None:
        """Wait for a commit: its notification count, or None when another worker had moved
        the views meanwhile (this one then carries on from where they are)."""
        try:
            in_flight.future.result()
        except IntegrityError:
            self.projection.forget()  # also re-reads the views' position
            if self.projection.position == in_flight.batch.previous:
                raise  # not a lost race: something else is wrong
            return None
        except BaseException:
            self.projection.forget()
            raise
        self.projection.committed()
        if self.on_batch is not None:
            self.on_batch(in_flight.count, self.position)
        return in_flight.count

    def _decode(self, notifications: Sequence[Notification]) -> list[tuple[Any, int]]:
        decode = self.store.decode
        return [(decode(n), len(n.state)) for n in notifications if n.topic in AGENT_TOPICS]


def wait_until(views: ContextViews, notification_id: int, timeout: float = 10.0) -> None:
    """Block until the views include the notification (tests, benchmarks, the demo)."""
    deadline = time.monotonic() + timeout
    while (views.position() or 0) < notification_id:
        if time.monotonic() > deadline:
            raise TimeoutError(f"views did not reach notification {notification_id} in "
                               f"{timeout} s (at {views.position()})")
        time.sleep(0.02)
