"""SQLite recorder: the eventsourcing application recorder plus ctxstore's side tables.

Event ids are idempotency keys within a tenant: the event-id index keys on (tenant, event_id).
Stores made before that keyed it on the event id alone; migration 1 upgrades them
(infrastructure.persistence.migrations).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from ctxstore.application.chain import ChainRow
from ctxstore.application.chain_port import ChainHead, ChainIndex
from ctxstore.application.ports import AgentRow, AgentSummary, ContextIndex, EventIndexRow
from ctxstore.domain.agent_id import LOCAL_TENANT

_CHUNK = 500  # stay under SQLite's bound-parameter limit


class SQLiteIndexedEventRecorder(SQLiteApplicationRecorder, ContextIndex, ChainIndex):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        prefix = events_table_name.rsplit("_events", 1)[0]
        self.event_ids_table = f"{prefix}_event_ids"
        self.versions_table = f"{prefix}_versions"
        self.agents_table = f"{prefix}_agents"
        self.snapshots_table = f"{prefix}_snapshots"  # the library's name for them
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            self._create_event_ids(self.event_ids_table),
            f"CREATE TABLE IF NOT EXISTS {self.versions_table} ("
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "ts_us INTEGER NOT NULL, link BLOB, PRIMARY KEY (originator_id, originator_version)) "
            "WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {self.agents_table} ("
            "agent_id TEXT PRIMARY KEY, originator_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, created_us INTEGER NOT NULL, "
            "updated_us INTEGER NOT NULL, tenant TEXT NOT NULL, chain_head BLOB)",
        ]

    def _create_event_ids(self, name: str) -> str:
        return (f"CREATE TABLE IF NOT EXISTS {name} ("
                "event_id TEXT NOT NULL, originator_id TEXT NOT NULL, "
                "originator_version INTEGER NOT NULL, "
                f"tenant TEXT NOT NULL DEFAULT '{LOCAL_TENANT}', "
                "PRIMARY KEY (tenant, event_id)) WITHOUT ROWID")

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        index_rows: Sequence[EventIndexRow] = (),
        agent_rows: Sequence[AgentRow] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if index_rows:
            c.executemany(
                f"INSERT INTO {self.event_ids_table} VALUES (?,?,?,?)",
                [(r.event_id, r.originator_id.hex, r.version, r.tenant) for r in index_rows],
            )
            c.executemany(
                f"INSERT INTO {self.versions_table} VALUES (?,?,?,?)",
                [(r.originator_id.hex, r.version, r.timestamp_us, r.link) for r in index_rows],
            )
        if agent_rows:
            c.executemany(
                f"INSERT INTO {self.agents_table} VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT (agent_id) DO UPDATE SET "
                "version = MAX(version, excluded.version), updated_us = excluded.updated_us, "
                "chain_head = CASE WHEN excluded.version > version THEN excluded.chain_head "
                "ELSE chain_head END",
                [
                    (a.agent_id, a.originator_id.hex, a.version, a.created_us, a.updated_us,
                     a.tenant, a.chain_head)
                    for a in agent_rows
                ],
            )
        return ids

    def known_event_ids(self, event_ids: Iterable[str], tenant: str = LOCAL_TENANT
                        ) -> dict[str, tuple[UUID, int]]:
        rows = self._select_in(
            f"SELECT event_id, originator_id, originator_version FROM {self.event_ids_table}",
            "event_id", list(dict.fromkeys(event_ids)), where=("tenant = ?", (tenant,)))
        return {row[0]: (UUID(row[1]), row[2]) for row in rows}

    def _select_in(self, select: str, column: str, values: list[str],
                   where: tuple[str, tuple[Any, ...]] = ("1", ())) -> list[Any]:
        """The rows of `select` whose `column` is one of `values` (and that meet the condition
        `where`, with its parameters), queried in chunks under SQLite's parameter limit."""
        rows: list[Any] = []
        condition, params = where
        with self.datastore.transaction(commit=False) as c:
            for i in range(0, len(values), _CHUNK):
                chunk = values[i : i + _CHUNK]
                c.execute(f"{select} WHERE {condition} AND "
                          f"{column} IN ({','.join('?' * len(chunk))})", (*params, *chunk))
                rows.extend(c.fetchall())
        return rows

    def heads(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        # A local file: a query or two an id, in one read transaction, is cheap.
        heads: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as c:
            for originator_id in dict.fromkeys(originator_ids):
                c.execute(
                    f"SELECT originator_version, topic, state FROM {self.snapshots_table} "
                    "WHERE originator_id = ? ORDER BY originator_version DESC LIMIT 1",
                    (originator_id.hex,),
                )
                rows = c.fetchall()
                after = rows[0][0] if rows else 0
                c.execute(
                    f"SELECT originator_version, topic, state FROM {self.events_table_name} "
                    "WHERE originator_id = ? AND originator_version > ? "
                    "ORDER BY originator_version",
                    (originator_id.hex, after),
                )
                rows += c.fetchall()
                if rows:
                    heads[originator_id] = [StoredEvent(originator_id, r[0], r[1], r[2])
                                            for r in rows]
        return heads

    def version_at(self, originator_id: UUID, timestamp_us: int) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT MAX(originator_version) FROM {self.versions_table} "
                "WHERE originator_id = ? AND ts_us <= ?",
                (originator_id.hex, timestamp_us),
            )
            row = c.fetchone()
        return int(row[0] or 0)

    def timestamps(self, originator_id: UUID, versions: Sequence[int]) -> dict[int, int]:
        if not versions:
            return {}
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT originator_version, ts_us FROM {self.versions_table} "
                "WHERE originator_id = ? AND originator_version BETWEEN ? AND ?",
                (originator_id.hex, min(versions), max(versions)),
            )
            wanted = set(versions)
            return {r[0]: r[1] for r in c.fetchall() if r[0] in wanted}

    def agents(self, tenant: str | None = None) -> list[AgentSummary]:
        sql = f"SELECT agent_id, version, created_us, updated_us, tenant FROM {self.agents_table}"
        params: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE tenant = ?"
            params = (tenant,)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + " ORDER BY agent_id", params)
            return [AgentSummary(*tuple(r)) for r in c.fetchall()]

    def agents_page(self, tenant: str, after: str | None, limit: int) -> list[AgentSummary]:
        # The key after its tenant's "/" (none for the local tenant's and older agents); the
        # BINARY collation of UTF-8 is code-point order.
        plain = "substr(agent_id, instr(agent_id, '/') + 1)"
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT agent_id, version, created_us, updated_us, tenant FROM "  # noqa: S608
                      f"{self.agents_table} WHERE tenant = ? AND {plain} > ? "
                      f"ORDER BY {plain} LIMIT ?", (tenant, after or "", limit))
            return [AgentSummary(*tuple(r)) for r in c.fetchall()]

    def owners(self, agent_ids: Sequence[str]) -> dict[str, str]:
        rows = self._select_in(f"SELECT agent_id, tenant FROM {self.agents_table}", "agent_id",
                               list(agent_ids))
        return {row[0]: row[1] for row in rows}

    def agent(self, agent_id: str) -> AgentSummary | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT agent_id, version, created_us, updated_us, tenant FROM "
                f"{self.agents_table} WHERE agent_id = ?",
                (agent_id,),
            )
            row = c.fetchone()
        return AgentSummary(*tuple(row)) if row else None


    # The hash chain (the ChainIndex port) -----------------------------------------------------
    def chain_links(self, wanted: Mapping[UUID, int]) -> dict[UUID, bytes]:
        found: dict[UUID, bytes] = {}
        with self.datastore.transaction(commit=False) as c:
            for originator_id, version in wanted.items():
                c.execute(f"SELECT link FROM {self.versions_table} "
                          "WHERE originator_id = ? AND originator_version = ?",
                          (originator_id.hex, version))
                row = c.fetchone()
                if row is not None and row[0] is not None:
                    found[originator_id] = bytes(row[0])
        return found

    def chain_heads(self, agent_ids: list[str] | None = None) -> list[ChainHead]:
        select = f"SELECT agent_id, originator_id, version, chain_head FROM {self.agents_table}"
        if agent_ids is None:
            with self.datastore.transaction(commit=False) as c:
                c.execute(select + " ORDER BY agent_id")
                rows = c.fetchall()
        else:
            rows = sorted(self._select_in(select, "agent_id", agent_ids), key=lambda r: r[0])
        return [ChainHead(r[0], UUID(r[1]), r[2], bytes(r[3]) if r[3] is not None else None)
                for r in rows]

    def chain_rows(self, originator_id: UUID) -> Iterator[ChainRow]:
        # Both sides of the join, so a row missing on either side shows (no FULL JOIN before
        # SQLite 3.39).
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT e.originator_version, e.topic, e.state, v.link "
                f"FROM {self.events_table_name} e LEFT JOIN {self.versions_table} v "
                "ON v.originator_id = e.originator_id "
                "AND v.originator_version = e.originator_version WHERE e.originator_id = ? "
                "UNION ALL SELECT v.originator_version, NULL, NULL, v.link "
                f"FROM {self.versions_table} v WHERE v.originator_id = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {self.events_table_name} e WHERE "
                "e.originator_id = v.originator_id "
                "AND e.originator_version = v.originator_version) ORDER BY 1",
                (originator_id.hex, originator_id.hex))
            rows = c.fetchall()
        for r in rows:
            yield ChainRow(r[0], r[1], bytes(r[2]) if r[2] is not None else None,
                           bytes(r[3]) if r[3] is not None else None)
