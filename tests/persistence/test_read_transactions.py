"""PostgreSQL read transactions (the library's `transaction(commit=False)`) begin READ ONLY and
commit (infrastructure.persistence.postgres.read_transactions_commit): a rollback would make
psycopg throw away every statement the connection prepared. Real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import make_settings

from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.bootstrap import build_store


@pytest.fixture
def store(tmp_path: Path, postgres_dsn: str) -> Iterator[ContextStore]:
    store = build_store(make_settings("postgres", tmp_path, postgres_dsn))
    yield store
    store.close()


def test_a_read_transaction_keeps_what_its_connection_prepared(store: ContextStore) -> None:
    datastore = store.factory.datastore  # type: ignore[attr-defined]
    with store.one_connection.scope():  # one connection for every statement below
        with datastore.transaction(commit=True) as curs:
            curs.execute("SELECT 1 AS one", prepare=True)
        with datastore.transaction(commit=False) as curs:
            curs.execute("SELECT name FROM pg_prepared_statements")
            prepared = len(curs.fetchall())
            curs.execute("SELECT current_setting('transaction_read_only') AS ro")
            assert curs.fetchone()["ro"] == "on"
        with datastore.transaction(commit=False) as curs:
            curs.execute("SELECT count(*) AS n FROM pg_prepared_statements")
            row = curs.fetchone()
    assert prepared >= 1 and row["n"] == prepared  # none thrown away


def test_a_read_transaction_still_keeps_nothing_written(store: ContextStore) -> None:
    datastore = store.factory.datastore  # type: ignore[attr-defined]
    schema = store.factory.datastore.schema  # type: ignore[attr-defined]
    with datastore.transaction(commit=True) as curs:
        curs.execute(f'CREATE TABLE "{schema}".scratch (n int)')
    with store.one_connection.scope():  # the same connection throughout
        with pytest.raises(Exception, match="read-only transaction"), \
                datastore.transaction(commit=False) as curs:
            curs.execute(f'INSERT INTO "{schema}".scratch VALUES (1)')
        with datastore.transaction(commit=False) as curs:
            curs.execute(f'SELECT count(*) AS n FROM "{schema}".scratch')
            assert curs.fetchone()["n"] == 0
        # The connection is back to read-write for the next transaction that commits.
        with datastore.transaction(commit=True) as curs:
            curs.execute(f'INSERT INTO "{schema}".scratch VALUES (2)')
            curs.execute(f'SELECT count(*) AS n FROM "{schema}".scratch')
            assert curs.fetchone()["n"] == 1
