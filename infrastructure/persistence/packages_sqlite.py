"""The store's SQLite recorder: events, side tables and the checkpoint package table.

Package rows are written and pruned inside `insert_events`, in the transaction of the
`CheckpointTaken` event that announces them. A package id is its tenant's: the table keys on
(tenant, package_id); stores made before are upgraded by migration 1
(infrastructure.persistence.migrations).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from ctxstore.application.package_port import PackageRecorder, PackageRow
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.persistence.erasure import SQLiteErasure
from ctxstore.infrastructure.persistence.operation_log import SQLiteOperationLog
from ctxstore.infrastructure.persistence.schedules import SQLiteSchedules
from ctxstore.infrastructure.persistence.side_rows import DeclaredSideRows
from ctxstore.infrastructure.persistence.sqlite import SQLiteIndexedEventRecorder

_COLUMNS = ("package_id, agent_id, version, event_version, created_us, meta, tenant, "
            "body_part")


class SQLiteStoreRecorder(DeclaredSideRows, SQLiteIndexedEventRecorder, PackageRecorder,
                          SQLiteOperationLog, SQLiteSchedules, SQLiteErasure):
    """The store's whole recorder: the events, the side tables of SQLiteIndexedEventRecorder, the
    checkpoint package table, the operation log, the checkpoint schedules and the forgotten
    agents' tombstones (persistence.erasure)."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.table_prefix = prefix = events_table_name.rsplit("_events", 1)[0]
        self.packages_table = f"{prefix}_packages"
        # The part store's references and, on this backend, its parts (migration 3).
        self.part_refs_table = f"{prefix}_part_refs"
        self.parts_table = f"{prefix}_parts"
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            self._create_packages(self.packages_table),
            f"CREATE INDEX IF NOT EXISTS {self.packages_table}_agent "
            f"ON {self.packages_table} (agent_id, created_us)",
            # Readers of shared and public checkpoints look an id up across tenants.
            f"CREATE INDEX IF NOT EXISTS {self.packages_table}_id "
            f"ON {self.packages_table} (package_id)",
            # The part store asks whether any row still refers to a part (migration 2).
            f"CREATE INDEX IF NOT EXISTS {self.packages_table}_part "
            f"ON {self.packages_table} (body_part) WHERE body_part IS NOT NULL",
            *self.operation_table_statements(self.table_prefix),
            *part_tables(self.part_refs_table, self.parts_table),
            *self.schedule_table_statements(self.table_prefix),
            *self.erasure_table_statements(self.table_prefix, self.agents_table),
        ]

    def _create_packages(self, name: str) -> str:
        return (f"CREATE TABLE IF NOT EXISTS {name} ("
                "package_id TEXT NOT NULL, agent_id TEXT NOT NULL, version INTEGER NOT NULL, "
                "event_version INTEGER, created_us INTEGER NOT NULL, meta BLOB NOT NULL, "
                f"body BLOB NOT NULL, tenant TEXT NOT NULL DEFAULT '{LOCAL_TENANT}', "
                "body_part TEXT, PRIMARY KEY (tenant, package_id))")

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        package_rows: Sequence[PackageRow] = (),
        pruned_package_ids: Sequence[str] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if pruned_package_ids:
            # Only captured ones are pruned; their ids are new uuids, but another tenant may
            # have imported an export of one under the same id: that copy stays.
            pruned = [(p,) for p in pruned_package_ids]
            c.executemany(  # their part references go with them
                f"DELETE FROM {self.part_refs_table} WHERE (tenant, package_id) IN "
                f"(SELECT tenant, package_id FROM {self.packages_table} "
                "WHERE package_id = ? AND event_version IS NOT NULL)", pruned)
            c.executemany(
                f"DELETE FROM {self.packages_table} "
                "WHERE package_id = ? AND event_version IS NOT NULL", pruned)
        if package_rows:
            self._insert_rows(c, package_rows)
        return ids

    def _insert_rows(self, c: SQLiteCursor, rows: Sequence[PackageRow]) -> None:
        c.executemany(
            f"INSERT INTO {self.packages_table} ({_COLUMNS}, body) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (r.package_id, r.agent_id, r.version, r.event_version, r.created_us, r.meta,
                 r.tenant, r.body_part,
                 r.body if r.body is not None and r.body_part is None else b"")
                for r in rows
            ],
        )
        refs = [(r.tenant, r.package_id, a) for r in rows for a in sorted(set(r.parts))]
        if refs:
            c.executemany(f"INSERT OR IGNORE INTO {self.part_refs_table} "
                          "(tenant, package_id, address) VALUES (?,?,?)", refs)

    def insert_package(self, row: PackageRow) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_rows(c, [row])

    def select_package(self, package_id: str, *, tenant: str = LOCAL_TENANT,
                       with_body: bool = True) -> PackageRow | None:
        columns = _COLUMNS + (", body" if with_body else "")
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {columns} FROM {self.packages_table} "
                "WHERE package_id = ? AND tenant = ?",
                (package_id, tenant),
            )
            row = c.fetchone()
        return _row(tuple(row)) if row else None

    def select_package_rows(self, package_id: str) -> list[PackageRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM {self.packages_table} WHERE package_id = ? "
                "ORDER BY created_us, tenant", (package_id,),
            )
            return [_row(tuple(r)) for r in c.fetchall()]

    def select_packages(self, agent_id: str | None = None) -> list[PackageRow]:
        sql = f"SELECT {_COLUMNS} FROM {self.packages_table}"
        params: tuple[Any, ...] = ()
        if agent_id is not None:
            sql += " WHERE agent_id = ?"
            params = (agent_id,)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + " ORDER BY created_us, package_id, tenant", params)
            return [_row(tuple(r)) for r in c.fetchall()]

    def part_references(self, tenant: str | None = None,
                        addresses: Collection[str] | None = None) -> set[tuple[str, str]]:
        sql = f"SELECT DISTINCT tenant, address FROM {self.part_refs_table} WHERE 1"
        params: list[Any] = []
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        found: set[tuple[str, str]] = set()
        with self.datastore.transaction(commit=False) as c:
            if addresses is None:
                c.execute(sql, params)
                return {(r[0], r[1]) for r in c.fetchall()}
            chosen = list(addresses)
            for i in range(0, len(chosen), 500):  # SQLite's bound-parameter limit
                chunk = chosen[i:i + 500]
                c.execute(sql + f" AND address IN ({','.join('?' * len(chunk))})",
                          params + chunk)
                found.update((r[0], r[1]) for r in c.fetchall())
        return found

    def drop_part_references(self, tenant: str, owners: Collection[str]) -> set[str]:
        found: set[str] = set()
        chosen = sorted(set(owners))
        with self.datastore.transaction(commit=True) as c:
            for i in range(0, len(chosen), 500):  # SQLite's bound-parameter limit
                chunk = chosen[i:i + 500]
                c.execute(f"DELETE FROM {self.part_refs_table} WHERE tenant = ? AND package_id "
                          f"IN ({','.join('?' * len(chunk))}) RETURNING address",
                          [tenant, *chunk])
                found.update(r[0] for r in c.fetchall())
        return found

    def insert_part_references(self, tenant: str, refs: Collection[tuple[str, str]]) -> None:
        if refs:
            with self.datastore.transaction(commit=True) as c:
                c.executemany(f"INSERT OR IGNORE INTO {self.part_refs_table} "
                              "(tenant, package_id, address) VALUES (?,?,?)",
                              [(tenant, owner, a) for owner, a in sorted(set(refs))])

    def package_parts(self, tenant: str, package_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        with self.datastore.transaction(commit=False) as c:
            for package_id in package_ids:
                c.execute(f"SELECT address FROM {self.part_refs_table} "
                          "WHERE tenant = ? AND package_id = ?", (tenant, package_id))
                found.update(r[0] for r in c.fetchall())
        return found


def part_tables(refs: str, parts: str) -> list[str]:
    """The part store's tables (also made by migration 3 on stores made before): references,
    one per (tenant, package, address); and the parts themselves, on this backend."""
    return [
        f"CREATE TABLE IF NOT EXISTS {refs} (tenant TEXT NOT NULL, package_id TEXT NOT NULL, "
        "address TEXT NOT NULL, PRIMARY KEY (tenant, address, package_id))",
        f"CREATE INDEX IF NOT EXISTS {refs}_package ON {refs} (tenant, package_id)",
        f"CREATE TABLE IF NOT EXISTS {parts} (tenant TEXT NOT NULL, scope TEXT NOT NULL, "
        "address TEXT NOT NULL, data BLOB NOT NULL, created_us INTEGER NOT NULL, "
        "PRIMARY KEY (tenant, scope, address))",
    ]


def _row(r: tuple[Any, ...]) -> PackageRow:
    return PackageRow(
        package_id=r[0], agent_id=r[1], version=int(r[2]),
        event_version=None if r[3] is None else int(r[3]), created_us=int(r[4]),
        meta=bytes(r[5]), tenant=r[6], body_part=r[7],
        body=bytes(r[8]) if len(r) > 8 else None,
    )

