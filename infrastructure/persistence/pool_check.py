"""The check a pooled PostgreSQL connection gets before use: the library's pre-ping, and when
it finds the connection gone, every other idle connection of the pool checked at once.

A connection found gone is seldom alone (a restart or a termination ends them all), and
psycopg_pool waits before it hands out the next one, longer each time (1 s, 2 s, 4 s...: ten
seconds for a pool of five ended connections). Checking the others at once replaces every ended
one, so the wait happens once.

A check that skips the round trip while the socket is quiet was tried and dropped: the server
ends a connection asynchronously (pg_terminate_backend returns before the backend has said its
last word), so a connection could look quiet and fail its first statement; the round trip
closes most of that window.

Two kinds of statement do without the check (`first_take_unchecked`). The record function,
which commits a batch in one statement and is the only statement of a write to agents the
process holds: run on a connection found broken, it fails before committing anything (or, its
answer lost after the commit, its run again is refused as a duplicate, the lost-reply case the
round trip never covered), and it is then run again on checked connections. And reads: the
index's (the agent's row, which every door's read, restore and write asks first) and the
library's select of an agent's events (which every read of a held agent's latest asks for
what other processes recorded since: the round trip was two fifths of a tail-50 read of a held
100k-event agent), each run once more on a checked connection. So a connection ended costs
that statement a second try, where every single-event write paid a round trip (a fifth of its
client CPU and a sixth of its latency: `bench/store.py`, one event per transaction) and so did
every command.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from psycopg_pool import ConnectionPool

_unchecked = threading.local()


@contextmanager
def first_take_unchecked() -> Iterator[None]:
    """Within: the first connection this thread takes from a pool skips the check. Only for a
    statement that is run again, on checked connections, when it finds its connection broken
    (see the module docstring)."""
    _unchecked.once = True
    try:
        yield
    finally:
        _unchecked.once = False


def check_and_purge(pool: ConnectionPool[Any], conn: Any) -> None:
    """Raise when the connection is gone (the pool then replaces it), after having the pool
    check its other idle connections."""
    if getattr(_unchecked, "once", False):
        _unchecked.once = False
        return
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        pool.check()
        raise


def use_purging_check(pool: ConnectionPool[Any]) -> None:
    """Give `pool` (not open yet, made with the library's pre-ping) this check instead."""
    if getattr(pool, "_check", None) is None:
        raise TypeError("the pool has no connection check to replace (POSTGRES_PRE_PING off?)")
    # psycopg_pool takes its check only at creation, which the library does for us.
    pool._check = partial(check_and_purge, pool)  # noqa: SLF001
