"""The store's pool hands out the idle connection given back last
(infrastructure.persistence.pool_order), so consecutive commands run on one warm backend.
Real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool, PoolTimeout
from support import make_settings

from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.persistence.pool_order import hand_out_last_given_back
from devtools.services import libpq_dsn


def pid(conn: Any) -> int:
    return int(conn.info.backend_pid)


def given_back_in_order(pool: ConnectionPool[Any], count: int) -> list[int]:
    """Take `count` connections at once, give them back first to last; their backends."""
    taken = [pool.getconn() for _ in range(count)]
    for conn in taken:
        pool.putconn(conn)
    return [pid(c) for c in taken]


def takes(pool: ConnectionPool[Any], count: int) -> list[int]:
    """`count` commands one after another, each taking and giving back one connection."""
    seen = []
    for _ in range(count):
        with pool.connection() as conn:
            seen.append(pid(conn))
    return seen


@pytest.fixture
def pool(fresh_pg_db: str) -> Any:
    made: ConnectionPool[Any] = ConnectionPool(libpq_dsn(fresh_pg_db), min_size=3, max_size=3,
                                               open=False, kwargs={"autocommit": True})
    hand_out_last_given_back(made)
    made.open(wait=True)
    try:
        yield made
    finally:
        made.close()


def test_consecutive_takes_get_the_connection_given_back_last(pool: ConnectionPool[Any]
                                                               ) -> None:
    first, second, last = given_back_in_order(pool, 3)
    assert takes(pool, 4) == [last] * 4
    # Two at once: the last two given back, newest first; the oldest stays idle.
    a, b = pool.getconn(), pool.getconn()
    assert [pid(a), pid(b)] == [last, second]
    pool.putconn(b)
    pool.putconn(a)
    assert takes(pool, 1) == [last]
    assert first not in takes(pool, 3)


def test_a_take_refused_for_want_of_time_leaves_the_order_alone(pool: ConnectionPool[Any]
                                                                 ) -> None:
    _, _, last = given_back_in_order(pool, 3)
    with pytest.raises(PoolTimeout):
        pool.getconn(timeout=0)  # psycopg_pool refuses a take with no time left at all
    assert takes(pool, 1) == [last]


def test_the_stores_pool_is_ordered_so(tmp_path: Path, fresh_pg_db: str) -> None:
    services = bootstrap(make_settings("postgres", tmp_path, fresh_pg_db))
    try:
        store_pool = services.store.factory.datastore.pool
        store_pool.open(wait=True)
        count = min(store_pool.min_size, 3)
        assert count >= 2
        *_, last = given_back_in_order(store_pool, count)
        assert takes(store_pool, 3) == [last] * 3
    finally:
        services.store.close()


def test_a_pool_kept_otherwise_is_refused() -> None:
    class Other:
        _pool: list[Any] = []

        def _get_ready_connection(self, timeout: float | None) -> None:
            return None

    with pytest.raises(TypeError, match="pool_order"):
        hand_out_last_given_back(Other())  # type: ignore[arg-type]
