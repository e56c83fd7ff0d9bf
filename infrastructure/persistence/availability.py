"""Whether an error says the database is not answering now (down, unreachable, its pool
exhausted, a lock held too long) rather than that a request or the code is wrong: every door
answers those the same way (HTTP and WebSocket 503 with Retry-After, the NATS RPC a
`DatabaseUnavailable` error, the embedded client a 503 `CtxstoreError`), instead of an internal
error with the driver's text, which may name hosts and users."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg_pool
from eventsourcing import persistence as es_errors

UNAVAILABLE: tuple[type[Exception], ...] = (
    es_errors.OperationalError, es_errors.InterfaceError, psycopg.OperationalError,
    psycopg.InterfaceError, psycopg_pool.PoolTimeout, sqlite3.OperationalError)
RETRY_AFTER_SECONDS = 5


def unavailable(exc: BaseException) -> bool:
    return isinstance(exc, UNAVAILABLE)


def unavailable_message(exc: BaseException) -> str:
    """What a client is told: the kind of error only, and that a retry is safe."""
    return (f"the database is not answering ({type(exc).__name__}); retry in a few seconds (a "
            "write cut off may or may not be recorded: its event ids make the retry safe)")
