"""The operation log (application.operation_log) as a table beside the events, on SQLite and
PostgreSQL: one row per capture or restore attempt, added up by the database.

Mixed into the store recorders, so every process writing to a store writes to the same table
and any of them reads the totals of all. Rows are written in their own transaction after the
operation (an outcome is known only then); a row that cannot be written is logged, not fatal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.sqlite import SQLiteDatastore

from ctxstore.application.operation_log import OperationGroup, OperationLog, OperationRecord
from ctxstore.infrastructure.persistence.async_commit import WITHOUT_WAITING_FOR_DISK_CALL
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresDatastore
    from psycopg.sql import Composed

COLUMNS = ("recorded_us", "tenant", "operation", "outcome", "automatic", "agent_id",
           "package_id", "duration_ms", "original_size_bytes", "compressed_size_bytes", "error")
_SIZED = "original_size_bytes > 0 AND compressed_size_bytes IS NOT NULL"


def _groups_sql(table: str, where: str) -> str:
    """Totals per (operation, outcome, automatic); `where` filters (or is empty)."""
    return (
        "SELECT operation, outcome, automatic, count(*) AS n, "
        "coalesce(sum(duration_ms), 0) AS duration_ms, "
        f"coalesce(sum(CASE WHEN {_SIZED} THEN original_size_bytes END), 0) AS original_bytes, "
        f"coalesce(sum(CASE WHEN {_SIZED} THEN compressed_size_bytes END), 0) "
        "AS compressed_bytes, "
        f"coalesce(sum(CASE WHEN {_SIZED} THEN compressed_size_bytes * 1.0 "
        "/ original_size_bytes END), 0) AS ratio_sum, "
        f"count(CASE WHEN {_SIZED} THEN 1 END) AS sized "
        f"FROM {table} {where} GROUP BY operation, outcome, automatic "
        "ORDER BY operation, outcome, automatic"
    )


def _values(r: OperationRecord) -> tuple[Any, ...]:
    return (r.recorded_us, r.tenant, r.operation, r.outcome, r.automatic, r.agent_id,
            r.package_id, r.duration_ms, r.original_size_bytes, r.compressed_size_bytes, r.error)


def _group(r: Any) -> OperationGroup:
    """A group from a row (a tuple, or psycopg's dict row: numeric sums come as Decimal)."""
    v = tuple(r.values()) if isinstance(r, dict) else tuple(r)
    return OperationGroup(operation=v[0], outcome=v[1], automatic=bool(v[2]), count=int(v[3]),
                          duration_ms=float(v[4]), original_bytes=int(v[5]),
                          compressed_bytes=int(v[6]), ratio_sum=float(v[7]), sized=int(v[8]))


class SQLiteOperationLog(OperationLog):
    """Mixed into the SQLite store recorder (its `datastore`): table `<prefix>_operations`."""

    datastore: SQLiteDatastore
    operations_table: str

    def operation_table_statements(self, prefix: str) -> list[str]:
        self.operations_table = t = f"{prefix}_operations"
        return [
            f"CREATE TABLE IF NOT EXISTS {t} (recorded_us INTEGER NOT NULL, "
            "tenant TEXT NOT NULL, operation TEXT NOT NULL, outcome TEXT NOT NULL, "
            "automatic INTEGER NOT NULL, agent_id TEXT NOT NULL, package_id TEXT, "
            "duration_ms REAL NOT NULL, original_size_bytes INTEGER, "
            "compressed_size_bytes INTEGER, error TEXT)",
            f"CREATE INDEX IF NOT EXISTS {t}_tenant ON {t} (tenant, operation)",
        ]

    def record_operation(self, record: OperationRecord) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"INSERT INTO {self.operations_table} ({', '.join(COLUMNS)}) "
                      f"VALUES ({', '.join('?' * len(COLUMNS))})", _values(record))

    def operation_groups(self, tenant: str | None = None) -> list[OperationGroup]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self.datastore.transaction(commit=False) as c:
            c.execute(_groups_sql(self.operations_table, where), params)
            return [_group(r) for r in c.fetchall()]


class PostgresOperationLog(OperationLog):
    """Mixed into the PostgreSQL store recorder (its `datastore`), in the store's schema."""

    datastore: PostgresDatastore
    operations_table: Composed
    _insert_operation: bytes

    def operation_table_statements(self, prefix: str) -> list[Composed]:
        name = f"{prefix}_operations"
        t = self.operations_table = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                                       Identifier(name))
        # Made once, as bytes: psycopg then converts it once (its cache), not at every row.
        # The setting is the row's RETURNING: one statement, so a prepared one (parsed and
        # planned once per connection, where the simple query of a SET LOCAL and the
        # INSERT was parsed and planned at each row), and still ahead of the commit.
        self._insert_operation = SQL(
            "INSERT INTO {} (" + ", ".join(COLUMNS) + ") VALUES ("
            + ", ".join(["%s"] * len(COLUMNS)) + ") RETURNING "
            + WITHOUT_WAITING_FOR_DISK_CALL).format(t).as_bytes(None)
        return [
            SQL("CREATE TABLE IF NOT EXISTS {} (id bigint GENERATED ALWAYS AS IDENTITY "
                "PRIMARY KEY, recorded_us bigint NOT NULL, tenant text NOT NULL, "
                "operation text NOT NULL, outcome text NOT NULL, automatic boolean NOT NULL, "
                "agent_id text NOT NULL, package_id text, duration_ms double precision NOT NULL, "
                "original_size_bytes bigint, compressed_size_bytes bigint, error text)"
                ).format(t),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (tenant, operation)").format(
                Identifier(f"{name}_tenant"), t),
        ]

    def record_operation(self, record: OperationRecord) -> None:
        # Committed without waiting for the disk: the row is a figure about an operation
        # whose own writes committed synchronously before it (recording is best effort, see
        # application.operation_log), and waiting cost every restore and capture a WAL flush
        # (0.3-0.5 ms here). What a crash of PostgreSQL can lose is the last fraction of a
        # second's rows (wal_writer_delay), never an agent's step. The row and the setting
        # are one statement: one round trip, one implicit transaction, which the setting
        # lasts for (a pipeline around two statements cost more client CPU than it saved).
        with self.datastore.get_connection() as conn:
            conn.execute(self._insert_operation, _values(record), prepare=True)

    def operation_groups(self, tenant: str | None = None) -> list[OperationGroup]:
        where, params = ("WHERE tenant = %s", (tenant,)) if tenant is not None else ("", ())
        query = SQL(_groups_sql("{}", where)).format(self.operations_table)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(query, params)
            return [_group(r) for r in curs.fetchall()]


class MemoryOperationLog(OperationLog):
    """Mixed into the in-memory store recorder: the rows in a list, added up as the SQL does."""

    _operation_rows: list[OperationRecord]

    def record_operation(self, record: OperationRecord) -> None:
        self._operation_rows.append(record)  # list.append is atomic under the GIL

    def operation_groups(self, tenant: str | None = None) -> list[OperationGroup]:
        totals: dict[tuple[str, str, bool], list[Any]] = {}
        for r in list(self._operation_rows):
            if tenant is not None and r.tenant != tenant:
                continue
            t = totals.setdefault((r.operation, r.outcome, r.automatic), [0, 0.0, 0, 0, 0.0, 0])
            t[0] += 1
            t[1] += r.duration_ms
            if r.original_size_bytes and r.compressed_size_bytes is not None:
                t[2] += r.original_size_bytes
                t[3] += r.compressed_size_bytes
                t[4] += r.compressed_size_bytes / r.original_size_bytes
                t[5] += 1
        return [_group((*key, *t)) for key, t in sorted(totals.items())]
