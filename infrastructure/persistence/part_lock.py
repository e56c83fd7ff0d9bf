"""The part store's lock (application.part_port): one per tenant, held by `ensure`, `release`
and `collect` for the length of one transaction on the store's own connections.

On PostgreSQL a transaction-scoped advisory lock taken on a connection of the store's pool
(released by the commit; no connection of its own, so many captures at once never exhaust the
server's clients); on SQLite the database's write lock, taken by a first (empty) write. The
transaction's cursor is handed to the holder, which may do its table work in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

PartLock = Callable[[str], AbstractContextManager[Any]]


def postgres_part_lock(datastore: PostgresDatastore) -> PartLock:
    @contextmanager
    def lock(tenant: str) -> Iterator[Any]:
        with datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         (f"ctxstore-part:{datastore.schema}:{tenant}",))
            yield curs

    return lock


def sqlite_part_lock(datastore: SQLiteDatastore, parts_table: str) -> PartLock:
    @contextmanager
    def lock(tenant: str) -> Iterator[Any]:
        with datastore.transaction(commit=True) as curs:
            # Any write statement takes SQLite's write lock, even one that changes no row.
            curs.execute(f"UPDATE {parts_table} SET created_us = created_us WHERE 0")
            yield curs

    return lock
