"""Migration 3: the part store's tables: part references, and parts kept in the database.

A package refers to the parts it is made of (`hybrid`'s body file, the `semantic` strategy's
repeated pieces) through one reference row per (tenant, package, address), written and deleted
with the package row; a part lives while a reference to it does. The `sqlite` and `postgres`
backends keep the parts themselves in a table beside the events. Stores made before: `hybrid`'s
body references (`body_part`, migration 2) are copied into the new table.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from ctxstore.infrastructure.persistence.migrations.step import Migration, StoreTables
from ctxstore.infrastructure.persistence.packages_sqlite import part_tables
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier

if TYPE_CHECKING:
    from psycopg import Cursor

_BACKFILL = ("INSERT INTO {refs} (tenant, package_id, address) SELECT tenant, package_id, "
             "body_part FROM {packages} WHERE body_part IS NOT NULL ON CONFLICT DO NOTHING")


def on_sqlite(c: sqlite3.Cursor, t: StoreTables) -> str | None:
    if not c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                     (t.packages,)).fetchone():
        return None
    for statement in part_tables(t.part_refs, t.parts):
        c.execute(statement)
    c.execute(_BACKFILL.format(refs=t.part_refs, packages=t.packages))
    return f"{t.part_refs}, {t.parts} ({c.rowcount} body references)"


def on_postgres(c: Cursor[tuple[object, ...]], t: StoreTables) -> str | None:
    row = c.execute("SELECT to_regclass(%s)", (t.packages,)).fetchone()
    if row is None or row[0] is None:
        return None
    # Already quoted and qualified names.
    names = {"refs": SQL(t.part_refs), "parts": SQL(t.parts),  # type: ignore[arg-type]
             "refs_package": Identifier("ctxstore_part_refs_package")}
    # The PostgreSQL recorder's module: imported on this path alone (pg_lazy).
    from ctxstore.infrastructure.persistence.packages_postgres import PART_TABLES

    for statement in PART_TABLES:
        c.execute(SQL(statement).format(**names))  # type: ignore[arg-type]
    c.execute(SQL(_BACKFILL).format(refs=names["refs"],  # type: ignore[arg-type]
                                    packages=SQL(t.packages)))  # type: ignore[arg-type]
    return f"{t.part_refs}, {t.parts} ({c.rowcount} body references)"


MIGRATION = Migration(3, "part references and the parts table", on_sqlite, on_postgres)
