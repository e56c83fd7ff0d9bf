"""The pool hands out the connection given back last, not the one idle longest.

psycopg_pool keeps its idle connections in a queue: each take gets the connection that has
waited longest, so consecutive commands walk through every connection of the pool in turn. A
PostgreSQL backend keeps per connection what makes a statement cheap the second time: its
prepared statements, whose plans turn generic only after five custom plans on that connection
(a custom plan is a whole planning at every execution), and its catalogue and relation
caches. Taken in turn, each of five connections pays those five plans and warms its
own caches. Taking the connection given back last, one hot backend serves a single writer's
commands, and the others stay idle until concurrency needs them (the pool shrinks the idle
ones, which are now the least used, past its minimum; the pre-ping checks one that waited).

Measured on a 10k-event real-trace agent, this order against the library's taking turns with
it (`bench/restore_ab.py --against <worktree> --events 10000 --ops 300 --kinds random`, three
runs): PostgreSQL's CPU a fork at a random version 1.77-1.90 against 2.03-2.17 ms
(0.84-0.88x), fork p50 0.93-0.96x, the client's CPU unchanged. SQLAlchemy calls this
`pool_use_lifo`; psycopg_pool has no setting for it, so the pool's choice of the next ready
connection is wrapped, as `pool_check` replaces its check.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from psycopg_pool import ConnectionPool


def _last_given_back_first(pool: ConnectionPool[Any], take: Any, timeout: float | None
                           ) -> Any:
    idle = pool._pool  # noqa: SLF001 - oldest on the left, the one given back last on the right
    if idle and (timeout is None or timeout > 0):  # else `take` raises and takes nothing
        idle.rotate(1)  # the last given back becomes the one `take` pops; the rest keep order
    return take(timeout)


def hand_out_last_given_back(pool: ConnectionPool[Any]) -> None:
    """Make `pool` (not open yet) take the idle connection given back last."""
    take = getattr(pool, "_get_ready_connection", None)
    if take is None or not isinstance(getattr(pool, "_pool", None), deque):
        raise TypeError("this psycopg_pool keeps its idle connections otherwise: "
                        "pool_order cannot choose among them")
    pool._get_ready_connection = (  # type: ignore[method-assign]  # noqa: SLF001
        lambda timeout: _last_given_back_first(pool, take, timeout))
