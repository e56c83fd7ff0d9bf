"""The part store's lock (application.part_port): one per tenant, held by `ensure`, `release`
and `collect` for the length of one transaction on the store's own connections.

On PostgreSQL a transaction-scoped advisory lock taken on a connection of the store's pool
(released by the commit; no connection of its own, so many captures at once never exhaust the
server's clients), which writers of parts may also hold shared (`postgres_part_guard`); on
SQLite the database's write lock, taken by a first (empty) write. The transaction's cursor is
handed to the holder, which may do its table work in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from eventsourcing.sqlite import SQLiteDatastore

from ctxstore.infrastructure.persistence.async_commit import WITHOUT_WAITING_FOR_DISK_CALL

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresDatastore

PartLock = Callable[[str], AbstractContextManager[Any]]


def _lock_name(datastore: PostgresDatastore, tenant: str) -> str:
    return f"ctxstore-part:{datastore.schema}:{tenant}"


def postgres_part_lock(datastore: PostgresDatastore) -> PartLock:
    @contextmanager
    def lock(tenant: str) -> Iterator[Any]:
        with datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         (_lock_name(datastore, tenant),))
            yield curs

    return lock


PartGuard = Callable[[Any, str], None]
"""Take the tenant's part lock shared, in the transaction of the cursor given: writers hold it
shared together, and a release or a collect (which hold it alone) waits for them all. Only a
keep takes it (PartStore.referring), whose commit need not wait for the disk (what refers to
its rows commits after it: async_commit): the same statement says so, and that the keep's
prepared statements run their generic plans (GENERIC_PLANS)."""

# For the rest of the transaction, a prepared statement runs its generic plan, planned once
# per connection, where PostgreSQL's default (`auto`) planned a keep's question and rows
# again at each bind, their arrays' lengths changing the estimates but never the plan: an
# insert from `unnest` and a lookup by the whole primary key (part_table: _REFERRING,
# _PUT_ARRAYS). Binding the reference rows' statement took 0.137 ms of server time a fork at
# 100k events, 0.010 with this. A transaction's setting: the pooled connection goes back
# planning as before.
GENERIC_PLANS = "set_config('plan_cache_mode', 'force_generic_plan', true)"


def postgres_part_guard(datastore: PostgresDatastore) -> PartGuard:
    statement = ("SELECT pg_advisory_xact_lock_shared(hashtext(%s)), "
                 + WITHOUT_WAITING_FOR_DISK_CALL + ", " + GENERIC_PLANS)

    def guard(curs: Any, tenant: str) -> None:
        curs.execute(statement, (_lock_name(datastore, tenant),), prepare=True)

    return guard


def sqlite_part_lock(datastore: SQLiteDatastore, parts_table: str) -> PartLock:
    @contextmanager
    def lock(tenant: str) -> Iterator[Any]:
        with datastore.transaction(commit=True) as curs:
            # Any write statement takes SQLite's write lock, even one that changes no row.
            curs.execute(f"UPDATE {parts_table} SET created_us = created_us WHERE 0")
            yield curs

    return lock
