"""The store's schema version: read at start-up, stamped on a new store, raised by migrations.

A table `ctxstore_schema_version` beside the store's tables holds one row per migration applied
(number, name, when, what it changed); the version is the highest number. A store made before
versions existed has the events table and no version table: version 0. Start-up (bootstrap)
compares the store's version with the code's (`steps.LATEST`):

- no store yet: it is stamped with the latest version before its tables are created;
- older: the embedded SQLite store is migrated there and then (it belongs to this process's
  user; one log line per step); a PostgreSQL store is refused with one line saying to run
  `ctxstore migrate` (several services of possibly different releases share it: the operator
  chooses the moment, after a backup, and the older services still running learn of it);
- newer: refused with one line on every backend, so an older release never writes a shape it
  does not know.

Migrations hold a lock while they run (SQLite's write lock, `BEGIN IMMEDIATE`; on PostgreSQL
the schema's advisory lock that table creation takes too), read the version again under it and
apply each step in its own transaction with its stamp, so two processes never apply one twice
and a failed step leaves the store at the version before it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctxstore.infrastructure.persistence.migrations.step import Migration, StoreTables
from ctxstore.infrastructure.persistence.migrations.steps import LATEST, MIGRATIONS
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("ctxstore.migrate")
VERSION_TABLE = "ctxstore_schema_version"


class SchemaError(ValueError):
    """The store's schema version does not match the code's; the message says what to do."""


@dataclass(frozen=True)
class SchemaStatus:
    """Where a store stands: `current` is None when there is no store yet."""

    store: str  # the store, as a user would name it (a file, a PostgreSQL schema)
    current: int | None
    latest: int = LATEST

    @property
    def pending(self) -> list[Migration]:
        return [m for m in MIGRATIONS if m.number > (self.current or 0)]

    def older_message(self) -> str:
        return (f"{self.store} has schema version {self.current}, this ctxstore needs "
                f"{self.latest}: run `ctxstore migrate` (back the store up first)")

    def newer_message(self) -> str:
        return (f"{self.store} has schema version {self.current}, newer than this ctxstore "
                f"knows ({self.latest}): upgrade ctxstore to open it")


class StoreSchema(ABC):
    """The schema version of one store, over a plain connection of its own."""

    #: Whether start-up migrates an older store itself (the embedded store) or refuses it.
    migrates_at_start: bool = False

    @abstractmethod
    def status(self) -> SchemaStatus: ...

    @abstractmethod
    @contextmanager
    def _locked(self) -> Iterator[Any]:
        """A connection holding the store's migration lock."""

    @abstractmethod
    def _read(self, conn: Any) -> int | None: ...

    @abstractmethod
    def _apply(self, conn: Any, migration: Migration) -> str | None:
        """Run one step and stamp it, in one transaction."""

    @abstractmethod
    def _stamp_new(self, conn: Any) -> None:
        """Record a new store at the latest version (its tables come after)."""

    def prepare(self) -> SchemaStatus:
        """Start-up: stamp a new store, migrate or refuse an older one, refuse a newer one.

        Raises SchemaError with the one line to show."""
        status = self.status()
        if status.current == LATEST:
            return status
        if status.current is not None and status.current > LATEST:
            raise SchemaError(status.newer_message())
        if status.current is not None and not self.migrates_at_start:
            raise SchemaError(status.older_message())
        return self.migrate()

    def migrate(self) -> SchemaStatus:
        """Bring the store to the latest version (a new store is only stamped); returns the
        status before. Raises SchemaError for a store newer than the code."""
        with self._locked() as conn:
            current = self._read(conn)
            before = SchemaStatus(self.status_name(), current)
            if current is None:
                self._stamp_new(conn)
                return before
            if current > LATEST:
                raise SchemaError(before.newer_message())
            for migration in before.pending:
                note = self._apply(conn, migration)
                log.warning("%s: migrated to schema version %d (%s)%s", self.status_name(),
                            migration.number, migration.name, f": {note}" if note else "")
            return before

    @abstractmethod
    def status_name(self) -> str: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_ahead_log(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """Put the file in WAL mode (it stays so) before the store's own connections open it.

    Each of eventsourcing's connections switches a file not yet in WAL mode itself; workers
    starting together on a new file then raced, and SQLite refuses the switch at once
    ("database is locked", no busy wait) while another connection reads it. Here it is asked
    first, retried while locked, so theirs find WAL already."""
    deadline = time.monotonic() + wait
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteSchema(StoreSchema):
    """The embedded store's file (tables `stored_*`, as eventsourcing names them there)."""

    migrates_at_start = True

    def __init__(self, path: Path, integrity_key: bytes | None = None):
        self.path = path
        self.tables = StoreTables(events="stored_events", event_ids="stored_event_ids",
                                  agents="stored_agents", packages="stored_packages",
                                  schema_version=VERSION_TABLE, part_refs="stored_part_refs",
                                  parts="stored_parts", versions="stored_versions",
                                  integrity_key=integrity_key, data_keys="stored_data_keys")

    def status_name(self) -> str:
        return f"the store {self.path}"

    def _connect(self) -> closing[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            _write_ahead_log(conn)
        except BaseException:
            conn.close()
            raise
        return closing(conn)

    def status(self) -> SchemaStatus:
        with self._connect() as conn:
            return SchemaStatus(self.status_name(), self._read(conn))

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the write lock, waited for, before reading
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _has(self, conn: sqlite3.Connection, table: str) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (table,)).fetchone() is not None

    def _read(self, conn: sqlite3.Connection) -> int | None:
        if self._has(conn, VERSION_TABLE):
            row = conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
            return int(row[0] or 0)
        return 0 if self._has(conn, self.tables.events) else None

    def _create(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_at TEXT NOT NULL, note TEXT)")

    def _stamp(self, conn: sqlite3.Connection, version: int, name: str,
               note: str | None) -> None:
        self._create(conn)
        conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES (?,?,?,?) "
                     "ON CONFLICT (version) DO NOTHING", (version, name, _now(), note))

    def _stamp_new(self, conn: sqlite3.Connection) -> None:
        self._stamp(conn, LATEST, "new store", None)

    def _apply(self, conn: sqlite3.Connection, migration: Migration) -> str | None:
        # One transaction holds them all (SQLite's lock is the transaction's): a savepoint
        # per step makes a failed step leave the store at the version before it.
        conn.execute("SAVEPOINT step")
        try:
            note = migration.sqlite(conn.cursor(), self.tables)
            self._stamp(conn, migration.number, migration.name, note)
        except BaseException:
            conn.execute("ROLLBACK TO step")
            raise
        conn.execute("RELEASE step")
        return note


class PostgresSchema(StoreSchema):
    """A PostgreSQL schema's store (tables `ctxstore_*` in it)."""

    def __init__(self, dsn: str, schema: str, integrity_key: bytes | None = None):
        self.dsn = dsn
        self.schema = schema

        def name(table: str) -> str:
            return f'"{schema}"."{table}"'

        self.tables = StoreTables(events=name("ctxstore_events"),
                                  event_ids=name("ctxstore_event_ids"),
                                  agents=name("ctxstore_agents"),
                                  packages=name("ctxstore_packages"),
                                  schema_version=name(VERSION_TABLE), schema=schema,
                                  part_refs=name("ctxstore_part_refs"),
                                  parts=name("ctxstore_parts"),
                                  versions=name("ctxstore_versions"),
                                  integrity_key=integrity_key,
                                  data_keys=name("ctxstore_data_keys"))
        self.version_table = SQL("{}.{}").format(Identifier(schema), Identifier(VERSION_TABLE))

    def status_name(self) -> str:
        return f"the PostgreSQL schema {self.schema!r}"

    def status(self) -> SchemaStatus:
        import psycopg  # the PostgreSQL schema alone (pg_lazy)

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return SchemaStatus(self.status_name(), self._read(conn))

    @contextmanager
    def _locked(self) -> Iterator[psycopg.Connection[Any]]:
        # The lock table creation takes (persistence.postgres.schema_setup_lock): a service
        # starting meanwhile waits for the migration, then finds its tables done.
        import psycopg  # the PostgreSQL schema alone (pg_lazy)

        from ctxstore.infrastructure.persistence.postgres import schema_setup_lock

        with schema_setup_lock(self.dsn, self.schema), \
                psycopg.connect(self.dsn, autocommit=True) as conn:
            yield conn

    def _has(self, conn: psycopg.Connection[Any], table: str) -> bool:
        row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        return row is not None and row[0] is not None

    def _read(self, conn: psycopg.Connection[Any]) -> int | None:
        if self._has(conn, self.tables.schema_version):
            row = conn.execute(SQL("SELECT max(version) FROM {}").format(
                self.version_table)).fetchone()
            return int(row[0] or 0) if row else 0
        return 0 if self._has(conn, self.tables.events) else None

    def _stamp(self, conn: psycopg.Connection[Any], version: int, name: str,
               note: str | None) -> None:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(self.schema)))
        conn.execute(SQL("CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                         "name text NOT NULL, applied_at text NOT NULL, note text)"
                         ).format(self.version_table))
        conn.execute(SQL("INSERT INTO {} VALUES (%s, %s, %s, %s) ON CONFLICT (version) "
                         "DO NOTHING").format(self.version_table),
                     (version, name, _now(), note))

    def _stamp_new(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            self._stamp(conn, LATEST, "new store", None)

    def _apply(self, conn: psycopg.Connection[Any], migration: Migration) -> str | None:
        with conn.transaction(), conn.cursor() as c:
            note = migration.postgres(c, self.tables)
            self._stamp(conn, migration.number, migration.name, note)
        return note
