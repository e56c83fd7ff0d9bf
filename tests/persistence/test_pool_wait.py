"""A statement's retries after its take timed out do not wait the pool's timeout again
(infrastructure.persistence.pool_wait): ten retried takes waited ten timeouts, 100 s before a
503, where the README promises it past the connect timeout."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
from eventsourcing.persistence import OperationalError
from eventsourcing.utils import retry
from psycopg_pool import ConnectionPool, PoolTimeout

from ctxstore.infrastructure.persistence.pool_wait import SHORT_WAIT, OneWaitPerCommand
from devtools.services import libpq_dsn
from devtools.tcp_proxy import TcpProxy

POOL_TIMEOUT = 3.0  # the window of short waits too: far longer than a retry's pause


class TakeLog:
    """The pool's own getconn, with the timeout each take was given (None: the pool's)."""

    def __init__(self, pool: ConnectionPool[Any]):
        self.timeouts: list[float | None] = []
        self._getconn = pool.getconn
        pool.getconn = self.getconn  # type: ignore[method-assign]

    def getconn(self, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        return self._getconn(timeout)


@retry((OperationalError, PoolTimeout), max_attempts=10, wait=0.01)
def statement(pool: ConnectionPool[Any]) -> None:
    """As the library's retried statements take their connections."""
    with pool.connection() as conn:
        conn.execute("SELECT 1")


async def test_a_threads_retries_after_a_timed_out_take_wait_briefly(postgres_dsn: str) -> None:
    server = urlsplit(postgres_dsn)
    proxy = await TcpProxy(server.hostname or "127.0.0.1", server.port or 5432).start()
    dsn = libpq_dsn(postgres_dsn.replace(f":{server.port}/", f":{proxy.port}/"))
    pool: ConnectionPool[Any] = ConnectionPool(
        dsn, min_size=1, max_size=1, timeout=POOL_TIMEOUT, open=False,
        check=ConnectionPool.check_connection)
    log = TakeLog(pool)
    OneWaitPerCommand(pool)
    one = ThreadPoolExecutor(max_workers=1)  # every step below on the same thread

    async def on_the_thread(step: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(one, step)

    try:
        await on_the_thread(lambda: pool.open(True, 30))
        await on_the_thread(lambda: statement(pool))
        assert log.timeouts == [None]
        proxy.blackhole()
        proxy.cut()
        log.timeouts.clear()

        def ten_tries_then_another_thread() -> list[float | None]:
            with pytest.raises(PoolTimeout):
                statement(pool)
            # Another thread is not this command: it waits the pool's timeout, as before.
            other: list[float | None] = []

            def take() -> None:
                start = len(log.timeouts)
                with pytest.raises(PoolTimeout):
                    pool.getconn()
                other.extend(log.timeouts[start:])

            thread = threading.Thread(target=take)
            thread.start()
            thread.join(60)
            return other

        other = await on_the_thread(ten_tries_then_another_thread)
        # One full wait, then nine short ones: not ten full ones.
        assert log.timeouts[:10] == [None] + [SHORT_WAIT] * 9, log.timeouts
        assert other == [None]
        proxy.heal()

        def until_a_connection() -> None:
            for _ in range(600):
                try:
                    statement(pool)
                    return
                except PoolTimeout:
                    continue
            raise AssertionError("no connection after the network healed")

        await on_the_thread(until_a_connection)
        # A take that got a connection ends the short waits of its thread.
        log.timeouts.clear()
        await on_the_thread(lambda: statement(pool))
        assert log.timeouts == [None]
    finally:
        await on_the_thread(lambda: pool.close(5))
        one.shutdown()
        await proxy.stop()
