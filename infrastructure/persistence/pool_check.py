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
"""

from __future__ import annotations

from functools import partial
from typing import Any

from psycopg_pool import ConnectionPool


def check_and_purge(pool: ConnectionPool[Any], conn: Any) -> None:
    """Raise when the connection is gone (the pool then replaces it), after having the pool
    check its other idle connections."""
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
