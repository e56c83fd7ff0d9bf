"""The check a pooled PostgreSQL connection gets before use: a round trip only when the
connection has something to say.

The library's pre-ping (`POSTGRES_PRE_PING`) sends an empty statement to the server each time
a connection leaves the pool: a round trip, and its CPU, before every transaction; a fork or
restore opens a dozen. A connection the server gave up on (terminated, shut down, restarted,
crashed) says so on its socket: the server's FATAL message, then end of file. So a socket with
nothing to read is a connection the server still holds, and one with something to read gets
the library's full check (and is replaced when that fails). What this cannot see, a network
gone silent, the pre-ping could not see either without waiting: keepalives and
`tcp_user_timeout` in the URL cover it (README, CONTEXT_DATABASE_URL).
"""

from __future__ import annotations

import select
from functools import partial
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool


def _has_something_to_say(conn: Any) -> bool:
    poll = getattr(select, "poll", None)
    if poll is None:
        return True  # no cheap look at the socket here: always the full check
    try:
        watch = poll()
        watch.register(conn.fileno(), select.POLLIN | select.POLLPRI)
        return bool(watch.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True


def check_unless_quiet(pool: ConnectionPool[Any], conn: Any) -> None:
    """Raise when the connection is gone (the pool then replaces it); quiet: no round trip.

    A connection found gone is seldom alone (a restart ends them all), and the pool waits
    before it hands out the next one, longer each time (1 s, 2 s, 4 s...: ten seconds for a
    pool of five ended connections). So the pool's other idle connections are checked at once,
    and the ended ones replaced, and the wait happens once."""
    if conn.closed or conn.broken or _has_something_to_say(conn):
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            pool.check()
            raise


def use_quiet_check(pool: ConnectionPool[Any]) -> None:
    """Give `pool` (not open yet, made with the library's pre-ping) this check instead."""
    if getattr(pool, "_check", None) is None:
        raise TypeError("the pool has no connection check to replace (POSTGRES_PRE_PING off?)")
    # psycopg_pool takes its check only at creation, which the library does for us.
    pool._check = partial(check_unless_quiet, pool)  # noqa: SLF001
