"""One wait for a PostgreSQL connection per command, not one per retry of its statement.

The library runs a statement up to ten times on InterfaceError or OperationalError, 0.2 s
apart, and so do our recorder's writes: that serves a connection found broken, since the next
try takes another. But a pool that gives no connection within its timeout (the connect
timeout, 10 s: the database down or unreachable, or every connection busy that long) raises
OperationalError too, so a statement waited ten timeouts, 100 s, before its command could
answer 503 (tests/http/test_http_db_outage.py), where the README promises the 503 past the
connect timeout.

After a take of this thread has timed out, its takes for as long as one timeout more wait
`SHORT_WAIT` at most: they get a connection if one is idle or comes soon (the database back
and the pool reconnected in between), else fail. A command then answers within one timeout
and its retries' short waits and pauses (10 s, then 9 × 0.3 s). Other threads wait as before,
and a take that gets a connection ends the short waits of its thread. (Not 0: psycopg_pool
refuses a take with no time left before it looks for an idle connection.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

from psycopg_pool import ConnectionPool, PoolTimeout

SHORT_WAIT = 0.1  # seconds


class OneWaitPerCommand:
    """Installs itself as `pool.getconn` (an instance attribute: the pool's `connection()` and
    our connection pin both take connections through it)."""

    def __init__(self, pool: ConnectionPool[Any]):
        self._getconn = pool.getconn
        self._window = pool.timeout
        self._local = threading.local()
        pool.getconn = self.getconn  # type: ignore[method-assign]

    def getconn(self, timeout: float | None = None) -> Any:
        until = getattr(self._local, "timed_out_until", 0.0)
        if until and time.monotonic() < until:  # no clock read while nothing timed out
            timeout = SHORT_WAIT
        try:
            conn = self._getconn(timeout)
        except PoolTimeout:
            self._local.timed_out_until = time.monotonic() + self._window
            raise
        self._local.timed_out_until = 0.0
        return conn
