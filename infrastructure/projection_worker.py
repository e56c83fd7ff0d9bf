"""The projection worker: reads the store's notification log in batches and feeds the views.

Exactly once: each batch's rows and its tracking record (the last notification id) commit in
one transaction, and the next batch starts after the recorded position, so a worker killed at
any instant resumes where the views stopped. On PostgreSQL it sleeps on LISTEN/NOTIFY (the
channel the event recorder notifies on every insert); on SQLite, which has no notifications,
it polls.

eventsourcing's ProjectionRunner is not used as is: it constructs the application itself
(without our compressor), needs a recorder that supports `subscribe` (the SQLite one does not),
and maps notifications to domain events, losing the stored size the evolution view reports.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Notification,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment, get_topic
from psycopg.sql import SQL, Identifier

from application.store import ContextStore
from domain.aggregate import AgentContext
from infrastructure.bootstrap import eventsourcing_env
from infrastructure.persistence.views_postgres import PostgresContextViews
from infrastructure.persistence.views_sqlite import SQLiteContextViews
from infrastructure.settings import Settings
from projections.projection import ContextProjection, EventBatch
from projections.views import ContextViews

AGENT_TOPICS = frozenset(
    get_topic(cls)
    for cls in (AgentContext.Recorded, AgentContext.ContextRestored, AgentContext.CheckpointTaken,
                AgentContext.CheckpointsPruned)
)
DEFAULT_BATCH = 1000


def build_views(settings: Settings) -> ContextViews:
    """The projections' tables beside the events, as the settings place them."""
    env = Environment(ContextProjection.name, eventsourcing_env(settings))
    factory = InfrastructureFactory[TrackingRecorder].construct(env)
    views_class = (SQLiteContextViews if settings.storage_backend == "sqlite"
                   else PostgresContextViews)
    views = cast(ContextViews, factory.tracking_recorder(cast(Any, views_class)))
    views.factory = factory  # type: ignore[attr-defined]  # keeps the datastore open
    return views


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
        self._position: int | None = views.position()

    @property
    def position(self) -> int:
        return self._position or 0

    def step(self) -> int:
        """Project the next batch; returns how many notifications it held (0: caught up)."""
        notifications = self.store.recorder.select_notifications(
            start=self.position, limit=self.batch_size, inclusive_of_start=False)
        if not notifications:
            return 0
        tracking = Tracking(self.views.application_name, notifications[-1].id)
        try:
            self.projection.process_event(EventBatch(self._decode(notifications)), tracking)
        except IntegrityError:
            # Another worker recorded this position first: carry on after whatever it did.
            recorded = self.views.position()
            if recorded is None or recorded < tracking.notification_id:
                raise
            self._position = recorded
            return 0
        self._position = tracking.notification_id
        if self.on_batch is not None:
            self.on_batch(len(notifications), tracking.notification_id)
        return len(notifications)

    def _decode(self, notifications: Sequence[Notification]) -> list[tuple[Any, int]]:
        mapper = self.store.mapper
        return [(mapper.to_domain_event(n), len(n.state))
                for n in notifications if n.topic in AGENT_TOPICS]

    def run_once(self) -> int:
        """Project everything recorded so far; returns the number of notifications read."""
        total = 0
        while (n := self.step()) > 0:
            total += n
        return total

    def rebuild(self) -> int:
        """Drop the views and project the whole log again from the first event."""
        self.views.drop()
        self.projection.forget()
        self._position = None
        return self.run_once()

    def run_forever(self, stop: threading.Event) -> None:
        """Project as events arrive until `stop` is set."""
        with self._waiter(stop) as wait:
            while not stop.is_set():
                if self.step() < self.batch_size:
                    wait()

    @contextlib.contextmanager
    def _waiter(self, stop: threading.Event) -> Iterator[Callable[[], None]]:
        recorder = self.store.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            def poll() -> None:
                stop.wait(self.poll_interval)

            yield poll
            return
        with recorder.datastore.get_connection() as conn:
            conn.execute(SQL("LISTEN {}").format(Identifier(recorder.channel_name)))

            def wait() -> None:
                # Any insert since the last look wakes us at once; the timeout re-checks stop.
                for _ in conn.notifies(timeout=min(self.poll_interval * 5, 1.0), stop_after=1):
                    pass

            yield wait


def wait_until(views: ContextViews, notification_id: int, timeout: float = 10.0) -> None:
    """Block until the views include the notification (tests, benchmarks, the demo)."""
    deadline = time.monotonic() + timeout
    while (views.position() or 0) < notification_id:
        if time.monotonic() > deadline:
            raise TimeoutError(f"views did not reach notification {notification_id} in "
                               f"{timeout} s (at {views.position()})")
        time.sleep(0.02)
