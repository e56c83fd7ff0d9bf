"""Migration 1: event ids and package ids keyed by (tenant, id), not by the id alone.

Before tenants had namespaces the two side tables keyed on the id alone; now two tenants may
use one id. Each old row gets the tenant of its agent, from the agent catalogue (which always
recorded it); rows of no known agent (packages imported without keys) are the local tenant's.
A store whose tables already have the tenant column (made by a release since) is left as it
is. This was the recorders' one-off upgrade at start-up; it is a numbered step now, and it
still logs the one line it always logged (logger `ctxstore.upgrade`).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.persistence.migrations.step import Migration, StoreTables
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier

if TYPE_CHECKING:
    from psycopg import Cursor

log = logging.getLogger("ctxstore.upgrade")


@dataclass(frozen=True)
class _Keyed:
    """One side table whose primary key gains the tenant."""

    table: str
    key: str  # the id column the new key adds the tenant to
    columns: str  # its columns before, comma-separated
    join_on: str  # how an old row `o` finds its agent `a`
    sqlite_create: str  # SQLite's new table ({} = its name): SQLite cannot change a key
    sqlite_indexes: tuple[str, ...] = ()  # dropped first; the recorder recreates them


def _tables(t: StoreTables) -> list[_Keyed]:
    return [
        _Keyed(t.event_ids, "event_id", "event_id, originator_id, originator_version",
               "o.originator_id = a.originator_id",
               "CREATE TABLE {} (event_id TEXT NOT NULL, originator_id TEXT NOT NULL, "
               "originator_version INTEGER NOT NULL, "
               f"tenant TEXT NOT NULL DEFAULT '{LOCAL_TENANT}', "
               "PRIMARY KEY (tenant, event_id)) WITHOUT ROWID"),
        _Keyed(t.packages, "package_id",
               "package_id, agent_id, version, event_version, created_us, meta, body",
               "o.agent_id = a.agent_id",
               "CREATE TABLE {} (package_id TEXT NOT NULL, agent_id TEXT NOT NULL, "
               "version INTEGER NOT NULL, event_version INTEGER, created_us INTEGER NOT NULL, "
               "meta BLOB NOT NULL, body BLOB NOT NULL, "
               f"tenant TEXT NOT NULL DEFAULT '{LOCAL_TENANT}', "
               "PRIMARY KEY (tenant, package_id))",
               (f"{t.packages}_agent", f"{t.packages}_id")),
    ]


def _note(upgraded: dict[str, int]) -> str | None:
    if not upgraded:
        return None
    tables = ", ".join(f"{table} ({rows} rows)" for table, rows in upgraded.items())
    log.warning("upgraded to per-tenant ids, once: %s", tables)
    return f"per-tenant ids: {tables}"


def on_sqlite(c: sqlite3.Cursor, t: StoreTables) -> str | None:
    upgraded: dict[str, int] = {}
    for k in _tables(t):
        columns = {r[1] for r in c.execute(f"PRAGMA table_info('{k.table}')")}
        if not columns or "tenant" in columns:
            continue  # a new store, or one made since
        old = f"{k.table}_before_tenants"
        c.execute(f"ALTER TABLE {k.table} RENAME TO {old}")
        for index in k.sqlite_indexes:
            c.execute(f"DROP INDEX IF EXISTS {index}")
        c.execute(k.sqlite_create.format(k.table))
        cols = ", ".join(f"o.{x.strip()}" for x in k.columns.split(","))
        c.execute(f"INSERT INTO {k.table} ({k.columns}, tenant) "
                  f"SELECT {cols}, COALESCE(a.tenant, '{LOCAL_TENANT}') FROM {old} o "
                  f"LEFT JOIN {t.agents} a ON {k.join_on}")
        upgraded[k.table] = int(c.execute(f"SELECT count(*) FROM {old}").fetchone()[0])
        c.execute(f"DROP TABLE {old}")
    return _note(upgraded)


def on_postgres(c: Cursor[tuple[object, ...]], t: StoreTables) -> str | None:
    upgraded: dict[str, int] = {}
    for k in _tables(t):
        row = c.execute("SELECT to_regclass(%s)", (k.table,)).fetchone()
        if row is None or row[0] is None:
            continue  # a new store
        if c.execute("SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass "
                     "AND attname = 'tenant' AND NOT attisdropped", (k.table,)).fetchone():
            continue  # made since
        table = SQL(k.table)  # type: ignore[arg-type]  # already quoted and qualified
        c.execute(SQL("ALTER TABLE {} ADD COLUMN tenant text NOT NULL DEFAULT {}").format(
            table, LOCAL_TENANT))
        c.execute(SQL("UPDATE {} o SET tenant = a.tenant FROM {} a WHERE " + k.join_on  # type: ignore[arg-type]
                      ).format(table, SQL(t.agents)))  # type: ignore[arg-type]
        for (constraint,) in c.execute("SELECT conname FROM pg_constraint WHERE "
                                       "conrelid = %s::regclass AND contype = 'p'",
                                       (k.table,)).fetchall():
            c.execute(SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                table, Identifier(str(constraint))))
        c.execute(SQL("ALTER TABLE {} ADD PRIMARY KEY (tenant, {})").format(
            table, Identifier(k.key)))
        counted = c.execute(SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        upgraded[k.table] = int(counted[0]) if counted else 0  # type: ignore[call-overload]
    return _note(upgraded)


MIGRATION = Migration(1, "event and package ids keyed by tenant", on_sqlite, on_postgres)
