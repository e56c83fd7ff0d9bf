"""One pooled PostgreSQL connection for the statements of one command, checked once.

Every statement the recorders run takes a connection from the pool and gives it back, and the
pool checks each connection it hands out with a round trip (the pre-ping, pool_check). A fork
ran some twenty statements one after another: twenty checks, about a third of its time on
this machine (`bench/langgraph.py`). Within `scope()`, the first statement of this thread
takes a connection as before, check included (unless it is the record function, an index
read or a select of events, which run again on a checked one if they find their connection
broken: pool_check.first_take_unchecked), and the later ones reuse it while it lasts.

Nothing else about the statements changes. The pool's connections are in autocommit (the
library's), so each statement or `transaction()` block still commits on its own, in order. A
use that starts while the pinned connection is in use (a statement run inside another's
transaction) takes a connection of its own as before, so it never joins that transaction. A
pinned connection found broken is let go at once: the statements after it (the library's
retries among them) take checked connections again. A thread about to wait for the store's
write lock lets go of its connection too (`let_go`): were every pooled connection held by a
thread waiting for the lock, its holder would wait for a connection until the pool's timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from ctxstore.application.connection_scope import ConnectionScope


class _Held:
    def __init__(self, conn: Connection[Any]):
        self.conn = conn
        self.busy = False


class ConnectionPin(ConnectionScope):
    """Installs itself on `pool`; `scope()` is the scope of one command (nests freely)."""

    def __init__(self, pool: ConnectionPool[Any]):
        self._pool = pool
        self._plain = pool.connection
        self._local = threading.local()
        # An instance attribute: the library's datastore asks `pool.connection()` for every
        # statement, and knows no other hook.
        pool.connection = self._connection  # type: ignore[method-assign]

    def scope(self) -> AbstractContextManager[None]:
        return self._scope()

    def let_go(self) -> None:
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and not held.busy:
            self._local.held = None
            self._give_back(held.conn)

    @contextmanager
    def _scope(self) -> Iterator[None]:
        if getattr(self._local, "open", False):
            yield  # within a scope already
            return
        self._local.open = True
        try:
            yield
        finally:
            self._local.open = False
            held: _Held | None = getattr(self._local, "held", None)
            self._local.held = None
            if held is not None:
                self._give_back(held.conn)

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[Connection[Any]]:
        if not getattr(self._local, "open", False):
            with self._plain(timeout) as conn:
                yield conn
            return
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            # The scope's first statement: a checked connection, kept for the next ones.
            held = _Held(self._pool.getconn(timeout))
            self._local.held = held
        elif held.busy:
            with self._plain(timeout) as conn:
                yield conn
            return
        held.busy = True
        try:
            yield held.conn
        except BaseException:
            if held.conn.broken or held.conn.closed:
                self._local.held = None
                self._give_back(held.conn)
            elif held.conn.info.transaction_status != TransactionStatus.IDLE:
                held.conn.rollback()
            raise
        finally:
            held.busy = False

    def _give_back(self, conn: Connection[Any]) -> None:
        # As the pool's own `connection()` ends a use: a transaction left open is rolled back
        # (autocommit leaves none), then the pool takes it back (a broken one is replaced).
        try:
            if not (conn.broken or conn.closed) \
                    and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.rollback()
        finally:
            self._pool.putconn(conn)
