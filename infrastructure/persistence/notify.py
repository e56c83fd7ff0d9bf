"""Waiting for a store's next insert: PostgreSQL's LISTEN/NOTIFY, or polling where there is none.

The event recorder of eventsourcing's PostgreSQL module notifies its channel on every insert;
SQLite has no notifications, so a reader polls. Which one a store has is the recorder's
business, so it is answered here, beside the recorders, and not by the readers.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator

from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier


@contextlib.contextmanager
def insert_waiter(store: ContextStore, stop: threading.Event, poll_interval: float
                  ) -> Iterator[Callable[[], None]]:
    """A function that returns soon after the store's next insert (or after a short timeout,
    so the caller re-checks `stop`); on SQLite, after `poll_interval` or when `stop` is set."""
    recorder = store.recorder
    # Loaded by any PostgreSQL store: a store of another backend never needs it (pg_lazy).
    postgres = sys.modules.get("eventsourcing.postgres")
    if postgres is None or not isinstance(recorder, postgres.PostgresApplicationRecorder):
        def poll() -> None:
            stop.wait(poll_interval)

        yield poll
        return
    with recorder.datastore.get_connection() as conn:
        conn.execute(SQL("LISTEN {}").format(Identifier(recorder.channel_name)))

        def wait() -> None:
            # Any insert since the last look wakes us at once; the timeout re-checks stop.
            for _ in conn.notifies(timeout=min(poll_interval * 5, 1.0), stop_after=1):
                pass

        yield wait
