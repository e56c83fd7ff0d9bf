"""The store's PostgreSQL recorder: events, side tables and the package table.

Package rows are written and pruned inside `insert_events`, in the transaction (and pipeline)
of the `CheckpointTaken` event that announces them. A package id is its tenant's: the table
keys on (tenant, package_id); stores made before are upgraded by migration 1
(infrastructure.persistence.migrations).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from ctxstore.application.package_port import PackageRecorder, PackageRow
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.persistence.erasure import PostgresErasure
from ctxstore.infrastructure.persistence.operation_log import PostgresOperationLog
from ctxstore.infrastructure.persistence.pg_arrays import text_array
from ctxstore.infrastructure.persistence.postgres import PostgresIndexedEventRecorder
from ctxstore.infrastructure.persistence.schedules import PostgresSchedules
from ctxstore.infrastructure.persistence.side_rows import DeclaredSideRows

_COLUMNS = ("package_id, agent_id, version, event_version, created_us, meta, tenant, "
            "body_part")


class PostgresStoreRecorder(DeclaredSideRows, PostgresIndexedEventRecorder, PackageRecorder,
                            PostgresOperationLog, PostgresSchedules, PostgresErasure):
    """The store's whole recorder: the events, the side tables of
    PostgresIndexedEventRecorder, the checkpoint package table, the operation log, the
    checkpoint schedules and the forgotten agents' tombstones (persistence.erasure)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        prefix = events_table_name.rsplit("_events", 1)[0]
        schema = Identifier(self.datastore.schema)
        self.packages_table = SQL("{}.{}").format(schema, Identifier(f"{prefix}_packages"))
        # The part store's references and, on this backend, its parts (migration 3).
        self.part_refs_table = SQL("{}.{}").format(schema, Identifier(f"{prefix}_part_refs"))
        self.parts_table = SQL("{}.{}").format(schema, Identifier(f"{prefix}_parts"))
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (package_id text NOT NULL, "
                    "agent_id text NOT NULL, version bigint NOT NULL, event_version bigint, "
                    "created_us bigint NOT NULL, meta bytea NOT NULL, body bytea NOT NULL, "
                    "tenant text NOT NULL DEFAULT {}, body_part text, "
                    "PRIMARY KEY (tenant, package_id))"
                ).format(self.packages_table, LOCAL_TENANT),
                SQL("CREATE INDEX IF NOT EXISTS {} ON {} (agent_id, created_us)").format(
                    Identifier(f"{prefix}_packages_agent"), self.packages_table
                ),
                # Readers of shared and public checkpoints look an id up across tenants.
                SQL("CREATE INDEX IF NOT EXISTS {} ON {} (package_id)").format(
                    Identifier(f"{prefix}_packages_id"), self.packages_table
                ),
                # The part store asks whether any row still refers to a part (migration 2).
                SQL("CREATE INDEX IF NOT EXISTS {} ON {} (body_part) "
                    "WHERE body_part IS NOT NULL").format(
                    Identifier(f"{prefix}_packages_part"), self.packages_table
                ),
                *self.operation_table_statements(prefix),
                *(SQL(statement).format(refs=self.part_refs_table, parts=self.parts_table,
                                        refs_package=Identifier(f"{prefix}_part_refs_package"))
                  for statement in PART_TABLES),
                *self.schedule_table_statements(prefix),
                *self.erasure_table_statements(prefix, self.agents_table),
            ]
        )
        self._insert_package = SQL(
            "INSERT INTO {} (" + _COLUMNS + ", body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(self.packages_table)
        # Only captured ones are pruned; another tenant's import of one keeps its copy. Their
        # part references go with them.
        self._delete_packages = SQL(
            "WITH gone AS (DELETE FROM {} WHERE package_id = ANY(%s) "
            "AND event_version IS NOT NULL RETURNING tenant, package_id) "
            "DELETE FROM {} AS r USING gone "
            "WHERE r.tenant = gone.tenant AND r.package_id = gone.package_id"
        ).format(self.packages_table, self.part_refs_table)
        # The references in one statement, three arrays (packed: pg_arrays): a checkpoint
        # refers to each of its parts, ~1,200 at 10k real-trace events and ~7,400 at 100k,
        # which went as a statement each (psycopg's executemany: ~30-50 µs of client CPU a
        # statement, even pipelined).
        self._insert_refs = SQL(
            "INSERT INTO {} (tenant, package_id, address) "
            "SELECT t, o, a FROM unnest(%b::text[], %b::text[], %b::text[]) AS r(t, o, a) "
            "ON CONFLICT DO NOTHING").format(self.part_refs_table)

    def _insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        *,
        package_rows: Sequence[PackageRow] = (),
        pruned_package_ids: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if pruned_package_ids:
            curs.execute(self._delete_packages, (list(pruned_package_ids),))
        self._insert_rows(curs, package_rows)

    def _insert_rows(self, curs: Cursor[DictRow], rows: Sequence[PackageRow]) -> None:
        for row in rows:
            curs.execute(self._insert_package, _params(row))
        self._insert_references(curs, [(r.tenant, r.package_id, a) for r in rows
                                       for a in sorted(set(r.parts))])

    def _insert_references(self, curs: Cursor[Any], refs: Sequence[tuple[str, str, str]]) -> None:
        """Insert reference rows (tenant, owner, address), each once, in one statement."""
        if refs:
            curs.execute(self._insert_refs,
                         [text_array(column) for column in zip(*refs, strict=True)])

    def insert_package(self, row: PackageRow) -> None:
        try:
            with self.datastore.transaction(commit=True) as curs:
                self._insert_rows(curs, [row])
        except psycopg.IntegrityError as e:
            raise IntegrityError(e) from e

    def select_package(self, package_id: str, *, tenant: str = LOCAL_TENANT,
                       with_body: bool = True) -> PackageRow | None:
        columns = _COLUMNS + (", body" if with_body else "")
        query: Composed = SQL(
            "SELECT " + columns + " FROM {} WHERE package_id = %s AND tenant = %s"
        ).format(self.packages_table)
        rows = self._fetch(query, (package_id, tenant))
        return _row(rows[0]) if rows else None

    def select_package_rows(self, package_id: str) -> list[PackageRow]:
        query = SQL("SELECT " + _COLUMNS + " FROM {} WHERE package_id = %s "
                    "ORDER BY created_us, tenant").format(self.packages_table)
        return [_row(r) for r in self._fetch(query, (package_id,))]

    def select_packages(self, agent_id: str | None = None) -> list[PackageRow]:
        if agent_id is None:
            query = SQL("SELECT " + _COLUMNS + " FROM {} "
                        "ORDER BY created_us, package_id, tenant")
            rows = self._fetch(query.format(self.packages_table), ())
        else:
            query = SQL(
                "SELECT " + _COLUMNS + " FROM {} WHERE agent_id = %s "
                "ORDER BY created_us, package_id, tenant"
            )
            rows = self._fetch(query.format(self.packages_table), (agent_id,))
        return [_row(r) for r in rows]

    def part_references(self, tenant: str | None = None,
                        addresses: Collection[str] | None = None) -> set[tuple[str, str]]:
        query = "SELECT DISTINCT tenant, address FROM {} WHERE true"
        params: list[Any] = []
        if tenant is not None:
            query += " AND tenant = %s"
            params.append(tenant)
        if addresses is not None:
            query += " AND address = ANY(%s)"
            params.append(list(addresses))
        rows = self._fetch(SQL(query).format(self.part_refs_table), params)  # type: ignore[arg-type]
        return {(r["tenant"], r["address"]) for r in rows}

    def drop_part_references(self, tenant: str, owners: Collection[str]) -> set[str]:
        query = SQL("DELETE FROM {} WHERE tenant = %s AND package_id = ANY(%s) RETURNING address"
                    ).format(self.part_refs_table)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(query, (tenant, sorted(set(owners))))
            return {r["address"] for r in curs.fetchall()}

    def insert_part_references(self, tenant: str, refs: Collection[tuple[str, str]]) -> None:
        if refs:
            with self.datastore.transaction(commit=True) as curs:
                self._insert_references(curs, [(tenant, owner, a)
                                               for owner, a in sorted(set(refs))])

    def package_parts(self, tenant: str, package_ids: Collection[str]) -> set[str]:
        query = SQL("SELECT DISTINCT address FROM {} WHERE tenant = %s AND package_id = ANY(%s)"
                    ).format(self.part_refs_table)
        return {r["address"] for r in self._fetch(query, (tenant, list(package_ids)))}


# The part store's tables (also made by migration 3 on stores made before): references, one
# per (tenant, package, address); and the parts themselves where they live in the database.
PART_TABLES = (
    "CREATE TABLE IF NOT EXISTS {refs} (tenant text NOT NULL, package_id text NOT NULL, "
    "address text NOT NULL, PRIMARY KEY (tenant, address, package_id))",
    "CREATE INDEX IF NOT EXISTS {refs_package} ON {refs} (tenant, package_id)",
    "CREATE TABLE IF NOT EXISTS {parts} (tenant text NOT NULL, scope text NOT NULL, "
    "address text NOT NULL, data bytea NOT NULL, created_us bigint NOT NULL, "
    "PRIMARY KEY (tenant, scope, address))",
)


def _params(r: PackageRow) -> tuple[Any, ...]:
    return (r.package_id, r.agent_id, r.version, r.event_version, r.created_us, r.meta,
            r.tenant, r.body_part,
            r.body if r.body is not None and r.body_part is None else b"")


def _row(r: DictRow) -> PackageRow:
    body = r.get("body")
    return PackageRow(
        package_id=r["package_id"], agent_id=r["agent_id"], version=int(r["version"]),
        event_version=None if r["event_version"] is None else int(r["event_version"]),
        created_us=int(r["created_us"]), meta=bytes(r["meta"]), tenant=r["tenant"],
        body_part=r["body_part"],
        body=bytes(body) if body is not None else None,
    )

