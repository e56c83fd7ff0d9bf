"""pipelined_transaction: one pipeline whose waits on the server are its questions and the
commit's, committing all or nothing, and leaving its connection idle and usable either way."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from support import count_round_trips, fresh_schema

from ctxstore.infrastructure.persistence.pipeline_mode import pipelined_transaction
from devtools.services import libpq_dsn

INSERT = "INSERT INTO t (n) VALUES (%s)"
INSERT_TOO = "INSERT INTO t (n) SELECT %s"
COUNT = "SELECT count(*) FROM t"


# Each test's connection, and another session on the same table, which sees what committed.
SESSIONS: dict[int, psycopg.Connection] = {}


@pytest.fixture
def conn(postgres_dsn: str) -> Iterator[psycopg.Connection]:
    """A connection whose search path is a fresh schema holding the table `t`."""
    schema = fresh_schema(libpq_dsn(postgres_dsn))
    with psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True,
                         options=f"-c search_path={schema}") as conn, \
            psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True,
                            options=f"-c search_path={schema}") as other:
        conn.execute("CREATE TABLE t (n int PRIMARY KEY)")
        SESSIONS[id(conn)] = other
        try:
            yield conn
        finally:
            del SESSIONS[id(conn)]


def rows(conn: psycopg.Connection) -> int:
    """The rows committed: counted by another session."""
    found = SESSIONS[id(conn)].execute(COUNT).fetchone()
    assert found is not None
    return int(found[0])


def test_it_commits_waiting_once_a_question_and_once_for_the_commit(
        conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    waits = count_round_trips(monkeypatch)
    with pipelined_transaction(conn):
        conn.execute(INSERT, (1,), prepare=True)
        # A question: its answer read within (this session sees its own row).
        assert conn.execute(COUNT).fetchone() == (1,)
        assert rows(conn) == 0  # nothing committed yet
        conn.execute(INSERT, (2,), prepare=True)
    assert waits == ["flush", "sync"]
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert rows(conn) == 2


def test_a_failed_statement_commits_nothing_and_raises_as_itself(
        conn: psycopg.Connection) -> None:
    conn.execute(INSERT, (1,))
    with pytest.raises(psycopg.errors.UniqueViolation), pipelined_transaction(conn):
        conn.execute(INSERT, (2,), prepare=True)
        conn.execute(INSERT, (1,), prepare=True)  # fails on the server
        conn.execute(INSERT_TOO, (3,), prepare=True)  # skipped by the server, unprepared
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert rows(conn) == 1
    # Statements first prepared in the transaction rolled back (or skipped) run again.
    for n in (4, 5, 6):
        conn.execute(INSERT, (n,), prepare=True)
        conn.execute(INSERT_TOO, (n + 10,), prepare=True)
    assert rows(conn) == 7


def test_an_error_of_the_block_commits_nothing(conn: psycopg.Connection) -> None:
    with pytest.raises(ZeroDivisionError), pipelined_transaction(conn):
        conn.execute(INSERT, (1,), prepare=True)
        assert conn.execute(COUNT).fetchone() == (1,)
        conn.execute(INSERT, (2,), prepare=True)
        _ = 1 / 0
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert rows(conn) == 0


def test_within_a_transaction_it_is_a_savepoint_as_psycopgs_own(
        conn: psycopg.Connection) -> None:
    conn.execute("BEGIN")
    conn.execute(INSERT, (1,))
    with pytest.raises(psycopg.errors.UniqueViolation), pipelined_transaction(conn):
        conn.execute(INSERT, (2,))
        conn.execute(INSERT, (1,))
    with pipelined_transaction(conn):
        conn.execute(INSERT, (3,))
    assert rows(conn) == 0  # the outer transaction has not committed
    conn.execute("COMMIT")
    assert rows(conn) == 2  # 1 and 3: the failed savepoint's 2 rolled back


def test_a_connection_not_in_autocommit_gets_a_transaction_committed(
        conn: psycopg.Connection) -> None:
    conn.autocommit = False
    with pipelined_transaction(conn):
        conn.execute(INSERT, (1,))
        conn.execute(INSERT, (2,))
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert rows(conn) == 2
