"""The projections' tables in the store's SQLite file, with FTS5 for search.

A subclass of eventsourcing's SQLite tracking recorder, so the tracking record (single row per
application, only ever moving forward) is written in the same transaction as the view rows. Its
tracking table has its own name: the library's default `tracking` table may serve other
projections in the same file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from ctxstore.infrastructure.persistence.erasure import SQLITE_TOMBSTONES, forgotten_in
from ctxstore.projections.catalogue import (
    ADDED_COLUMNS,
    CATALOGUE_COLUMNS,
    CATALOGUE_TYPES,
    CatalogueFilter,
    CheckpointEntry,
)
from ctxstore.projections.evolution import (
    COLUMNS,
    COUNTERS,
    GAUGES,
    KEY_COLUMNS,
    AgentTrack,
    EvolutionPoint,
    ToolUse,
    check_bucket,
)
from ctxstore.projections.search import SearchHit, SearchQuery
from ctxstore.projections.views import (
    VIEW_TABLES,
    ContextViews,
    ViewChanges,
    stale_position,
    time_window,
)

_TRACKING = re.compile(r"\btracking\b")
_SQL_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "INTEGER"}


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SQLiteContextViews(SQLiteTrackingRecorder, ContextViews):
    def __init__(self, datastore: SQLiteDatastore, prefix: str = "projection", **kwargs: Any):
        self.tables = {name: f"{prefix}_{name}" for name in VIEW_TABLES}
        self.tracking_table = f"{prefix}_tracking"
        super().__init__(datastore, **kwargs)
        self.insert_tracking_statement = _TRACKING.sub(self.tracking_table,
                                                       self.insert_tracking_statement)
        self.select_max_tracking_id_statement = _TRACKING.sub(
            self.tracking_table, self.select_max_tracking_id_statement)
        t = self.tables
        updates = [f"{c} = {c} + excluded.{c}" for c in COUNTERS]
        updates += [f"{g} = excluded.{g}" for g in GAUGES]
        self._upsert_evolution = (
            f"INSERT INTO {t['evolution']} ({', '.join(COLUMNS)}) VALUES "
            f"({', '.join('?' * len(COLUMNS))}) ON CONFLICT ({', '.join(KEY_COLUMNS)}) "
            f"DO UPDATE SET {', '.join(updates)}"
        )

    # Schema ----------------------------------------------------------------------------------
    def construct_create_table_statements(self) -> list[str]:
        t = self.tables
        counters = ", ".join(f"{c} INTEGER NOT NULL" for c in COUNTERS + GAUGES)
        catalogue = ", ".join(
            f"{c} {_SQL_TYPES[kind]}{'' if nullable else ' NOT NULL'}"
            for c, (kind, nullable) in CATALOGUE_TYPES.items()
        )
        return [
            *(_TRACKING.sub(self.tracking_table, s)
              for s in super().construct_create_table_statements()),
            f"CREATE TABLE IF NOT EXISTS {t['evolution']} (agent_id TEXT NOT NULL, "
            f"bucket TEXT NOT NULL, start_us INTEGER NOT NULL, {counters}, "
            "PRIMARY KEY (agent_id, bucket, start_us)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {t['tools']} (agent_id TEXT NOT NULL, "
            "bucket TEXT NOT NULL, start_us INTEGER NOT NULL, tool TEXT NOT NULL, "
            "calls INTEGER NOT NULL, PRIMARY KEY (agent_id, bucket, start_us, tool)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {t['agents']} (agent_id TEXT PRIMARY KEY, "
            "version INTEGER NOT NULL, raw_bytes INTEGER NOT NULL, "
            "stored_bytes INTEGER NOT NULL, live_memories INTEGER NOT NULL) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {t['memories']} (agent_id TEXT NOT NULL, "
            "memory_id TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (agent_id, memory_id)) "
            "WITHOUT ROWID",
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {t['search']} USING fts5(body, "
            "agent_id UNINDEXED, version UNINDEXED, seq UNINDEXED, ts_us UNINDEXED, "
            "source UNINDEXED, ref UNINDEXED, label UNINDEXED, "
            "tokenize = 'porter unicode61')",
            f"CREATE TABLE IF NOT EXISTS {t['checkpoints']} ({catalogue}, "
            "PRIMARY KEY (package_id))",
            f"CREATE INDEX IF NOT EXISTS {t['checkpoints']}_agent ON {t['checkpoints']} "
            "(agent_id, created_us)",
        ]

    def create_table(self) -> None:
        super().create_table()
        table = self.tables["checkpoints"]
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"PRAGMA table_info({table})")
            have = {r[1] for r in c.fetchall()}
            for column in ADDED_COLUMNS:
                if column not in have:  # a table made before the column existed
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {column} "
                              f"{_SQL_TYPES[CATALOGUE_TYPES[column][0]]}")

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {self.tracking_table} WHERE application_name = ?",
                      (self.application_name,))
            for table in self.tables.values():
                c.execute(f"DROP TABLE IF EXISTS {table}")
        self.create_table()

    # Writing ---------------------------------------------------------------------------------
    def _move_tracking(self, c: SQLiteCursor, tracking: Tracking, previous: int | None) -> None:
        """Compare-and-set the tracking record: first in the transaction, so a batch folded on
        a position the views have left writes nothing."""
        if previous is None:
            c.execute(f"INSERT INTO {self.tracking_table} VALUES (?, ?) ON CONFLICT "
                      "(application_name) DO NOTHING RETURNING notification_id",
                      (tracking.application_name, tracking.notification_id))
        else:
            c.execute(f"UPDATE {self.tracking_table} SET notification_id = ? WHERE "
                      "application_name = ? AND notification_id = ? AND notification_id < ? "
                      "RETURNING notification_id",
                      (tracking.notification_id, tracking.application_name, previous,
                       tracking.notification_id))
        if c.fetchone() is None:
            raise IntegrityError(stale_position(tracking, previous))

    def commit(self, changes: ViewChanges, tracking: Tracking, previous: int | None) -> None:
        t = self.tables
        evolution = changes.evolution
        with self.datastore.transaction(commit=True) as c:
            self._move_tracking(c, tracking, previous)
            c.executemany(self._upsert_evolution,
                          [tuple(getattr(p, col) for col in COLUMNS)
                           for p in evolution.points.values()])
            c.executemany(
                f"INSERT INTO {t['tools']} VALUES (?,?,?,?,?) ON CONFLICT "
                "(agent_id, bucket, start_us, tool) DO UPDATE SET calls = calls + excluded.calls",
                [(*key, calls) for key, calls in evolution.tools.items()],
            )
            c.executemany(
                f"INSERT INTO {t['agents']} VALUES (?,?,?,?,?) ON CONFLICT (agent_id) DO UPDATE "
                "SET version = excluded.version, raw_bytes = excluded.raw_bytes, "
                "stored_bytes = excluded.stored_bytes, live_memories = excluded.live_memories",
                [(a.agent_id, a.version, a.raw_bytes, a.stored_bytes, a.live_memories)
                 for a in evolution.agents.values()],
            )
            self._write_memories(c, changes)
            c.executemany(
                f"INSERT INTO {t['search']} (agent_id, version, seq, ts_us, source, ref, label, "
                "body) VALUES (?,?,?,?,?,?,?,?)",
                [(d.agent_id, d.version, d.seq, d.ts_us, d.source, d.ref, d.label, d.body)
                 for d in changes.search],
            )
            c.executemany(
                f"INSERT OR REPLACE INTO {t['checkpoints']} ({', '.join(CATALOGUE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(CATALOGUE_COLUMNS))})",
                [tuple(getattr(e, col) for col in CATALOGUE_COLUMNS)
                 for e in changes.checkpoints],
            )
            c.executemany(
                f"UPDATE {t['checkpoints']} SET pruned_us = ? WHERE package_id = ?",
                [(at, package_id) for package_id, at in changes.pruned.items()],
            )
            self._drop_forgotten(c, changes)

    _tombstones_seen = False

    def _drop_forgotten(self, c: SQLiteCursor, changes: ViewChanges) -> None:
        """Rows of agents forgotten after this batch read their events go again, in the
        batch's transaction (persistence.erasure)."""
        if not self._tombstones_seen:
            c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (SQLITE_TOMBSTONES,))
            if c.fetchone() is None:
                return  # views without a store beside them
            self._tombstones_seen = True
        for agent_id in forgotten_in(c, "sqlite", SQLITE_TOMBSTONES, changes.agent_ids()):
            for table in self.tables.values():
                c.execute(f"DELETE FROM {table} WHERE agent_id = ?", (agent_id,))

    def _write_memories(self, c: SQLiteCursor, changes: ViewChanges) -> None:
        table = self.tables["memories"]
        for agent_id, diff in changes.evolution.memories.items():
            if diff.replaced:
                c.execute(f"DELETE FROM {table} WHERE agent_id = ?", (agent_id,))
            c.executemany(f"DELETE FROM {table} WHERE agent_id = ? AND memory_id = ?",
                          [(agent_id, m) for m in sorted(diff.delete)])
            c.executemany(
                f"INSERT INTO {table} VALUES (?,?,?) ON CONFLICT (agent_id, memory_id) "
                "DO UPDATE SET kind = excluded.kind",
                [(agent_id, m, kind) for m, kind in diff.upsert.items()],
            )

    def load_tracks(self, agent_ids: Iterable[str]) -> dict[str, AgentTrack]:
        ids = sorted(set(agent_ids))
        tracks: dict[str, AgentTrack] = {}
        with self.datastore.transaction(commit=False) as c:
            for i in range(0, len(ids), 500):
                chunk = ids[i: i + 500]
                marks = ",".join("?" * len(chunk))
                c.execute(f"SELECT agent_id, version, raw_bytes, stored_bytes FROM "
                          f"{self.tables['agents']} WHERE agent_id IN ({marks})", chunk)
                for row in c.fetchall():
                    tracks[row[0]] = AgentTrack(row[0], row[1], row[2], row[3])
                c.execute(f"SELECT agent_id, memory_id, kind FROM {self.tables['memories']} "
                          f"WHERE agent_id IN ({marks})", chunk)
                for row in c.fetchall():
                    tracks[row[0]].memory_kinds[row[1]] = row[2]
        return tracks

    # Reading ---------------------------------------------------------------------------------
    def evolution(self, agent_id: str, bucket: str, since_us: int | None = None,
                  until_us: int | None = None) -> list[EvolutionPoint]:
        params: list[Any] = [agent_id, check_bucket(bucket)]
        sql = (f"SELECT {', '.join(COLUMNS)} FROM {self.tables['evolution']} "
               "WHERE agent_id = ? AND bucket = ?" + time_window(params, since_us, until_us, "?"))
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + " ORDER BY start_us", params)
            return [EvolutionPoint(*tuple(r)) for r in c.fetchall()]

    def tool_mix(self, agent_id: str, bucket: str, since_us: int | None = None,
                 until_us: int | None = None) -> list[ToolUse]:
        params: list[Any] = [agent_id, check_bucket(bucket)]
        sql = (f"SELECT agent_id, bucket, start_us, tool, calls FROM {self.tables['tools']} "
               "WHERE agent_id = ? AND bucket = ?" + time_window(params, since_us, until_us, "?"))
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql + " ORDER BY start_us, tool", params)
            return [ToolUse(*tuple(r)) for r in c.fetchall()]

    def _search(self, query: SearchQuery) -> list[SearchHit]:
        table = self.tables["search"]
        where = f"{table} MATCH ?"
        params: list[Any] = [query.quoted()]
        if query.agent_id is not None:
            where += " AND agent_id = ?"
            params.append(query.agent_id)
        tenant_sql, tenant_params = query.tenant_condition("?")
        where += tenant_sql
        params += tenant_params
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid, agent_id FROM {table} WHERE {where} "
                      "ORDER BY agent_id, version, seq", params)
            rowids: list[int] = []
            seen: set[str] = set()
            for row in c.fetchall():
                if query.first_only and row[1] in seen:
                    continue
                seen.add(row[1])
                rowids.append(row[0])
                if len(rowids) >= query.limit:
                    break
            if not rowids:
                return []
            c.execute(
                f"SELECT agent_id, version, seq, ts_us, source, ref, label, "
                f"snippet({table}, 0, '[', ']', '…', 16) FROM {table} WHERE {where} "
                f"AND rowid IN ({','.join('?' * len(rowids))}) ORDER BY agent_id, version, seq",
                [*params, *rowids],
            )
            return [SearchHit(*tuple(r)) for r in c.fetchall()]

    def checkpoints(self, filter: CatalogueFilter) -> list[CheckpointEntry]:
        where, params = filter.sql_where(
            "?", "{col} LIKE ? ESCAPE '\\'", like_pattern(filter.text or ""))
        sql = (f"SELECT {', '.join(CATALOGUE_COLUMNS)} FROM {self.tables['checkpoints']} "
               f"WHERE {where} ORDER BY created_us DESC, package_id LIMIT ?")
        params.append(filter.limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return [_entry(r) for r in c.fetchall()]

    def checkpoint(self, package_id: str) -> CheckpointEntry | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {', '.join(CATALOGUE_COLUMNS)} FROM {self.tables['checkpoints']} "
                      "WHERE package_id = ?", (package_id,))
            row = c.fetchone()
        return _entry(row) if row else None

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        t = self.tables
        queries = {
            "evolution": f"SELECT {', '.join(COLUMNS)} FROM {t['evolution']} "
                         "ORDER BY agent_id, bucket, start_us",
            "tools": f"SELECT * FROM {t['tools']} ORDER BY agent_id, bucket, start_us, tool",
            "agents": f"SELECT * FROM {t['agents']} ORDER BY agent_id",
            "memories": f"SELECT * FROM {t['memories']} ORDER BY agent_id, memory_id",
            "search": f"SELECT agent_id, version, seq, ts_us, source, ref, label, body "
                      f"FROM {t['search']} ORDER BY agent_id, version, seq",
            "checkpoints": f"SELECT {', '.join(CATALOGUE_COLUMNS)} FROM {t['checkpoints']} "
                           "ORDER BY package_id",
        }
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.datastore.transaction(commit=False) as c:
            for name, sql in queries.items():
                c.execute(sql)
                out[name] = [tuple(r) for r in c.fetchall()]
        return out


def _entry(row: Any) -> CheckpointEntry:
    values = dict(zip(CATALOGUE_COLUMNS, tuple(row), strict=True))
    values["is_encrypted"] = bool(values["is_encrypted"])
    if values["target_met"] is not None:  # SQLite keeps booleans as integers
        values["target_met"] = bool(values["target_met"])
    return CheckpointEntry(**values)
