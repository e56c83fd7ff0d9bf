"""Port: the scope in which one command's statements share one pooled connection.

A pool that checks each connection it hands out (PostgreSQL's pre-ping) pays a round trip per
statement; a command of twenty statements paid twenty. Within `scope()`, the adapter
(infrastructure.persistence.connection_pin) hands the command's statements one connection,
checked once. A thread that would block holding it (waiting for the store's write lock, whose
holder may need a connection) first calls `let_go`, so a full pool never waits on itself.
This base shares nothing: the stores without a pool (SQLite, memory) use it as it is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType


class ConnectionScope:
    def scope(self) -> AbstractContextManager[None]:
        """One command's statements (nests: an inner scope is the outer one)."""
        return nullcontext()

    def let_go(self) -> None:
        """This thread is about to block: the connection its scope holds goes back to the
        pool (the scope's next statement takes one again)."""


class WriteLock:
    """The store's write lock (reentrant); a thread that has to wait for it first calls
    `before_wait` (its scope lets go of its connection)."""

    def __init__(self, before_wait: Callable[[], None]):
        self._lock = threading.RLock()
        self._before_wait = before_wait

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self._before_wait()
            self._lock.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._lock.release()
