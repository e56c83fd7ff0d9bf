"""Migration 2: a package row may keep its body in the part store (`body_part`, its address).

`hybrid` keeps checkpoint bodies as content-addressed files under CONTEXT_STORAGE_PATH; the
row then holds the address instead of the bytes, and the part store asks which addresses rows
still refer to (an index on the column). Rows made before keep their bodies in the row.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from ctxstore.infrastructure.persistence.migrations.step import Migration, StoreTables
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier

if TYPE_CHECKING:
    from psycopg import Cursor


def on_sqlite(c: sqlite3.Cursor, t: StoreTables) -> str | None:
    columns = {r[1] for r in c.execute(f"PRAGMA table_info('{t.packages}')")}
    if not columns or "body_part" in columns:
        return None
    c.execute(f"ALTER TABLE {t.packages} ADD COLUMN body_part TEXT")
    c.execute(f"CREATE INDEX IF NOT EXISTS {t.packages}_part ON {t.packages} (body_part) "
              "WHERE body_part IS NOT NULL")
    return f"{t.packages}.body_part"


def on_postgres(c: Cursor[tuple[object, ...]], t: StoreTables) -> str | None:
    row = c.execute("SELECT to_regclass(%s)", (t.packages,)).fetchone()
    if row is None or row[0] is None:
        return None
    c.execute(SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS body_part text").format(
        SQL(t.packages)))  # type: ignore[arg-type]  # already quoted and qualified
    c.execute(SQL("CREATE INDEX IF NOT EXISTS {} ON {} (body_part) "
                  "WHERE body_part IS NOT NULL").format(
        Identifier("ctxstore_packages_part"), SQL(t.packages)))  # type: ignore[arg-type]
    return f"{t.packages}.body_part"


MIGRATION = Migration(2, "package bodies in the part store", on_sqlite, on_postgres)
