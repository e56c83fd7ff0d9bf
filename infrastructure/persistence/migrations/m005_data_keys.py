"""Migration 5: the table of per-agent data keys (persistence.data_keys), for crypto-shredding.

Nothing is re-encrypted here: the agents a store already holds have no key row, so their rows
stay under the store key (CONTEXT_ENCRYPTION_KEY) and keep reading; new agents get a data key at
their first write. `ctxstore rotate-key` gives the older agents key rows (holding the old store
key, wrapped under the new one). An unencrypted store gets the (empty) table too.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from ctxstore.infrastructure.persistence.erasure import data_keys_postgres, data_keys_sqlite
from ctxstore.infrastructure.persistence.migrations.step import Migration, StoreTables
from ctxstore.infrastructure.persistence.pg_lazy import SQL

if TYPE_CHECKING:
    from psycopg import Cursor


def on_sqlite(c: sqlite3.Cursor, t: StoreTables) -> str | None:
    if not c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                     (t.agents,)).fetchone():
        return None  # a new store: the recorder creates the table
    c.execute(data_keys_sqlite(t.data_keys))
    return t.data_keys


def on_postgres(c: Cursor[tuple[object, ...]], t: StoreTables) -> str | None:
    row = c.execute("SELECT to_regclass(%s)", (t.events,)).fetchone()
    if row is None or row[0] is None:
        return None
    # The events' originator_id type (uuid, or text when so configured).
    found = c.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                      "attrelid = %s::regclass AND attname = 'originator_id'",
                      (t.events,)).fetchone()
    id_type = str(found[0]) if found else "uuid"
    c.execute(data_keys_postgres(SQL(t.data_keys), id_type))  # type: ignore[arg-type]
    return t.data_keys


MIGRATION = Migration(5, "per-agent data keys", on_sqlite, on_postgres)
