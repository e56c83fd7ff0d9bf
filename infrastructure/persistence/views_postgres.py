"""The projections' tables in the store's PostgreSQL schema, with a `tsvector` GIN index.

A subclass of eventsourcing's PostgreSQL tracking recorder: the tracking record is written first
in the transaction that writes the batch's rows, and refused (rolling everything back) unless it
moves forward. Rows go in with one `unnest` statement per table, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

from ctxstore.infrastructure.persistence.erasure import POSTGRES_TOMBSTONES, forgotten_in
from ctxstore.infrastructure.persistence.pg_text import TextSafeCursor, pg_params
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

_PG_TYPES = {"str": "text", "int": "bigint", "float": "double precision", "bool": "boolean"}
TS_CONFIG = "english"


def _cols(names: Sequence[str]) -> Composed:
    return SQL(", ").join(Identifier(n) for n in names)


def _unnest_insert(table: Composable, columns: Sequence[str], types: Sequence[str],
                   conflict: str = "") -> Composed:
    # %b: arrays go over the wire in binary, ~30x cheaper to build than quoted text arrays.
    casts = SQL(", ").join(SQL("%b::" + t + "[]") for t in types)
    return SQL("INSERT INTO {} AS t ({}) SELECT * FROM unnest({}) ").format(
        table, _cols(columns), casts) + SQL(conflict)


class PostgresContextViews(PostgresTrackingRecorder, ContextViews):
    def __init__(self, datastore: PostgresDatastore, *,
                 tracking_table_name: str = "ctxstore_projections_tracking", **kwargs: Any):
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        prefix = tracking_table_name.rsplit("_tracking", 1)[0]
        schema = Identifier(self.datastore.schema)
        self.table_names = {name: f"{prefix}_{name}" for name in VIEW_TABLES}
        for name in self.table_names.values():
            self.check_identifier_length(name + "_tsv_idx")
        self.tables: dict[str, Composable] = {
            key: SQL("{}.{}").format(schema, Identifier(name))
            for key, name in self.table_names.items()
        }
        self.sql_create_statements.extend(self._schema())
        t = self.tables
        updates = [f"{c} = t.{c} + excluded.{c}" for c in COUNTERS]
        updates += [f"{g} = excluded.{g}" for g in GAUGES]
        self._upsert_evolution = _unnest_insert(
            t["evolution"], COLUMNS, ["text", "text", *["bigint"] * (len(COLUMNS) - 2)],
            f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {', '.join(updates)}")
        self._upsert_tools = _unnest_insert(
            t["tools"], ["agent_id", "bucket", "start_us", "tool", "calls"],
            ["text", "text", "bigint", "text", "bigint"],
            "ON CONFLICT (agent_id, bucket, start_us, tool) DO UPDATE "
            "SET calls = t.calls + excluded.calls")
        self._upsert_agents = _unnest_insert(
            t["agents"], ["agent_id", "version", "raw_bytes", "stored_bytes", "live_memories"],
            ["text", "bigint", "bigint", "bigint", "bigint"],
            "ON CONFLICT (agent_id) DO UPDATE SET version = excluded.version, "
            "raw_bytes = excluded.raw_bytes, stored_bytes = excluded.stored_bytes, "
            "live_memories = excluded.live_memories")
        self._upsert_memories = _unnest_insert(
            t["memories"], ["agent_id", "memory_id", "kind"], ["text", "text", "text"],
            "ON CONFLICT (agent_id, memory_id) DO UPDATE SET kind = excluded.kind")
        self._insert_search = _unnest_insert(
            t["search"], ["agent_id", "version", "seq", "ts_us", "source", "ref", "label", "body"],
            ["text", "bigint", "integer", "bigint", "text", "text", "text", "text"])
        self._upsert_checkpoints = _unnest_insert(
            t["checkpoints"], CATALOGUE_COLUMNS,
            [_PG_TYPES[kind] for kind, _ in CATALOGUE_TYPES.values()],
            "ON CONFLICT (package_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in CATALOGUE_COLUMNS[1:]))

    # Schema ----------------------------------------------------------------------------------
    def _schema(self) -> list[Composed]:
        t, n = self.tables, self.table_names
        counters = ", ".join(f"{c} bigint NOT NULL" for c in COUNTERS + GAUGES)
        catalogue = ", ".join(
            f"{c} {_PG_TYPES[kind]}{'' if nullable else ' NOT NULL'}"
            for c, (kind, nullable) in CATALOGUE_TYPES.items()
        )
        return [
            SQL("CREATE TABLE IF NOT EXISTS {} (agent_id text NOT NULL, bucket text NOT NULL, "
                "start_us bigint NOT NULL, " + counters + ", "
                "PRIMARY KEY (agent_id, bucket, start_us)) WITH (fillfactor = 70)").format(
                t["evolution"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (agent_id text NOT NULL, bucket text NOT NULL, "
                "start_us bigint NOT NULL, tool text NOT NULL, calls bigint NOT NULL, "
                "PRIMARY KEY (agent_id, bucket, start_us, tool))").format(t["tools"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (agent_id text PRIMARY KEY, version bigint NOT "
                "NULL, raw_bytes bigint NOT NULL, stored_bytes bigint NOT NULL, "
                "live_memories bigint NOT NULL)").format(t["agents"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (agent_id text NOT NULL, memory_id text NOT NULL, "
                "kind text NOT NULL, PRIMARY KEY (agent_id, memory_id))").format(t["memories"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (agent_id text NOT NULL, version bigint NOT NULL, "
                "seq integer NOT NULL, ts_us bigint NOT NULL, source text NOT NULL, "
                "ref text NOT NULL, label text NOT NULL, body text NOT NULL, "
                "tsv tsvector GENERATED ALWAYS AS (to_tsvector('" + TS_CONFIG + "', body)) "
                "STORED, PRIMARY KEY (agent_id, version, seq))").format(t["search"]),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (tsv)").format(
                Identifier(n["search"] + "_tsv_idx"), t["search"]),
            SQL("CREATE TABLE IF NOT EXISTS {} (" + catalogue + ", PRIMARY KEY (package_id))"
                ).format(t["checkpoints"]),
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (agent_id, created_us)").format(
                Identifier(n["checkpoints"] + "_agent_idx"), t["checkpoints"]),
            *(SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} " + _PG_TYPES[
                CATALOGUE_TYPES[c][0]]).format(t["checkpoints"], Identifier(c))
              for c in ADDED_COLUMNS),
        ]

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("DELETE FROM {}.{} WHERE application_name = %s").format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)),
                (self.application_name,))
            for table in self.tables.values():
                curs.execute(SQL("DROP TABLE IF EXISTS {}").format(table))
        self.create_table()

    # Writing ---------------------------------------------------------------------------------
    def _move_tracking(self, curs: Cursor[DictRow], tracking: Tracking,
                       previous: int | None) -> None:
        """Compare-and-set the tracking record: first in the transaction (its row lock orders
        concurrent workers), so a batch folded on a position the views have left writes
        nothing."""
        table = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                    Identifier(self.tracking_table_name))
        if previous is None:
            curs.execute(SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT (application_name) "
                             "DO NOTHING RETURNING notification_id").format(table),
                         (tracking.application_name, tracking.notification_id))
        else:
            curs.execute(SQL("UPDATE {} SET notification_id = %s WHERE application_name = %s "
                             "AND notification_id = %s AND notification_id < %s "
                             "RETURNING notification_id").format(table),
                         (tracking.notification_id, tracking.application_name, previous,
                          tracking.notification_id))
        if curs.fetchone() is None:
            raise IntegrityError(stale_position(tracking, previous))

    def commit(self, changes: ViewChanges, tracking: Tracking, previous: int | None) -> None:
        evolution = changes.evolution
        with self.datastore.transaction(commit=True) as raw:
            self._move_tracking(raw, tracking, previous)
            curs = TextSafeCursor(raw)  # projected text may hold what PostgreSQL text cannot
            if evolution.points:
                points = list(evolution.points.values())
                curs.execute(self._upsert_evolution,
                             [[getattr(p, col) for p in points] for col in COLUMNS])
            if evolution.tools:
                keys = list(evolution.tools)
                curs.execute(self._upsert_tools, [
                    *([k[i] for k in keys] for i in range(4)), [evolution.tools[k] for k in keys]])
            if evolution.agents:
                agents = list(evolution.agents.values())
                curs.execute(self._upsert_agents, [
                    [a.agent_id for a in agents], [a.version for a in agents],
                    [a.raw_bytes for a in agents], [a.stored_bytes for a in agents],
                    [a.live_memories for a in agents]])
            self._write_memories(curs, changes)
            if changes.search:
                docs = changes.search
                curs.execute(self._insert_search, [
                    [d.agent_id for d in docs], [d.version for d in docs], [d.seq for d in docs],
                    [d.ts_us for d in docs], [d.source for d in docs], [d.ref for d in docs],
                    [d.label for d in docs], [d.body for d in docs]])
            if changes.checkpoints:
                curs.execute(self._upsert_checkpoints, [
                    [getattr(e, col) for e in changes.checkpoints] for col in CATALOGUE_COLUMNS])
            if changes.pruned:
                curs.execute(
                    SQL("UPDATE {} AS c SET pruned_us = p.at FROM unnest(%b::text[], "
                        "%b::bigint[]) AS p(package_id, at) WHERE c.package_id = p.package_id"
                        ).format(self.tables["checkpoints"]),
                    [list(changes.pruned), list(changes.pruned.values())])
            self._drop_forgotten(raw, changes)

    _tombstones_seen = False

    def _drop_forgotten(self, curs: Any, changes: ViewChanges) -> None:
        """Rows of agents forgotten after this batch read their events go again, in the
        batch's transaction (persistence.erasure holds the tracking row while it erases)."""
        schema = self.datastore.schema
        if not self._tombstones_seen:
            curs.execute("SELECT to_regclass(%s) AS t", (f'"{schema}"."{POSTGRES_TOMBSTONES}"',))
            row = curs.fetchone()
            if row is None or next(iter(row.values())) is None:
                return  # views without a store beside them
            self._tombstones_seen = True
        tombstones = SQL("{}.{}").format(Identifier(schema), Identifier(POSTGRES_TOMBSTONES))
        gone = forgotten_in(curs, "postgres", tombstones, changes.agent_ids())
        for table in self.tables.values() if gone else ():
            curs.execute(SQL("DELETE FROM {} WHERE agent_id = ANY(%s)").format(table), (gone,))

    def _write_memories(self, curs: TextSafeCursor, changes: ViewChanges) -> None:
        table = self.tables["memories"]
        diffs = changes.evolution.memories
        replaced = [agent_id for agent_id, d in diffs.items() if d.replaced]
        if replaced:
            curs.execute(SQL("DELETE FROM {} WHERE agent_id = ANY(%s)").format(table),
                         [replaced])
        deletes = [(a, m) for a, d in diffs.items() for m in sorted(d.delete)]
        if deletes:
            curs.execute(
                SQL("DELETE FROM {} AS m USING unnest(%b::text[], %b::text[]) AS d(a, i) "
                    "WHERE m.agent_id = d.a AND m.memory_id = d.i").format(table),
                [[a for a, _ in deletes], [m for _, m in deletes]])
        upserts = [(a, m, k) for a, d in diffs.items() for m, k in d.upsert.items()]
        if upserts:
            curs.execute(self._upsert_memories, [[u[i] for u in upserts] for i in range(3)])

    def load_tracks(self, agent_ids: Iterable[str]) -> dict[str, AgentTrack]:
        ids = sorted(set(agent_ids))
        tracks: dict[str, AgentTrack] = {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT agent_id, version, raw_bytes, stored_bytes FROM {} "
                             "WHERE agent_id = ANY(%s)").format(self.tables["agents"]), [ids])
            for r in curs.fetchall():
                tracks[r["agent_id"]] = AgentTrack(r["agent_id"], r["version"], r["raw_bytes"],
                                                   r["stored_bytes"])
            curs.execute(SQL("SELECT agent_id, memory_id, kind FROM {} WHERE agent_id = ANY(%s)"
                             ).format(self.tables["memories"]), [ids])
            for r in curs.fetchall():
                tracks[r["agent_id"]].memory_kinds[r["memory_id"]] = r["kind"]
        return tracks

    # Reading ---------------------------------------------------------------------------------
    def _rows(self, query: Composed, params: Sequence[Any] = ()) -> list[DictRow]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, pg_params(params))
            return curs.fetchall()

    def evolution(self, agent_id: str, bucket: str, since_us: int | None = None,
                  until_us: int | None = None) -> list[EvolutionPoint]:
        params: list[Any] = [agent_id, check_bucket(bucket)]
        window = time_window(params, since_us, until_us, "%s")
        rows = self._rows(SQL("SELECT {} FROM {} WHERE agent_id = %s AND bucket = %s"
                              + window + " ORDER BY start_us").format(
                                  _cols(COLUMNS), self.tables["evolution"]), params)
        return [EvolutionPoint(**r) for r in rows]

    def tool_mix(self, agent_id: str, bucket: str, since_us: int | None = None,
                 until_us: int | None = None) -> list[ToolUse]:
        params: list[Any] = [agent_id, check_bucket(bucket)]
        window = time_window(params, since_us, until_us, "%s")
        rows = self._rows(SQL("SELECT agent_id, bucket, start_us, tool, calls FROM {} "
                              "WHERE agent_id = %s AND bucket = %s" + window
                              + " ORDER BY start_us, tool").format(self.tables["tools"]), params)
        return [ToolUse(**r) for r in rows]

    def _search(self, query: SearchQuery) -> list[SearchHit]:
        where: Composable = SQL("tsv @@ q")
        params: list[Any] = [query.quoted()]
        if query.agent_id is not None:
            where += SQL(" AND agent_id = %s")
            params.append(query.agent_id)
        tenant_sql, tenant_params = query.tenant_condition("%s")
        where += SQL(tenant_sql)  # type: ignore[arg-type]  # placeholders only, no input
        params += tenant_params
        distinct = SQL("DISTINCT ON (agent_id) ") if query.first_only else SQL("")
        params.append(query.limit)
        rows = self._rows(
            SQL("SELECT agent_id, version, seq, ts_us, source, ref, label, ts_headline('"
                + TS_CONFIG + "', body, q, 'StartSel=[, StopSel=], MaxWords=24, MinWords=8, "
                "MaxFragments=1, FragmentDelimiter=…') AS snippet FROM (SELECT {} s.*, q "
                "FROM {} AS s, websearch_to_tsquery('" + TS_CONFIG + "', %s) AS q WHERE {} "
                "ORDER BY agent_id, version, seq) AS hits ORDER BY agent_id, version, seq "
                "LIMIT %s").format(distinct, self.tables["search"], where),
            params,
        )
        return [SearchHit(**r) for r in rows]

    def checkpoints(self, filter: CatalogueFilter) -> list[CheckpointEntry]:
        where, params = filter.sql_where(
            "%s", "strpos(lower(coalesce({col}, '')), lower(%s)) > 0")
        sql = "SELECT {} FROM {} WHERE " + where + " ORDER BY created_us DESC, package_id LIMIT %s"
        params.append(filter.limit)
        rows = self._rows(SQL(sql).format(_cols(CATALOGUE_COLUMNS), self.tables["checkpoints"]),
                          params)
        return [CheckpointEntry(**r) for r in rows]

    def checkpoint(self, package_id: str) -> CheckpointEntry | None:
        rows = self._rows(SQL("SELECT {} FROM {} WHERE package_id = %s").format(
            _cols(CATALOGUE_COLUMNS), self.tables["checkpoints"]), [package_id])
        return CheckpointEntry(**rows[0]) if rows else None

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        t = self.tables
        queries: dict[str, Composed] = {
            "evolution": SQL("SELECT {} FROM {} ORDER BY agent_id, bucket, start_us").format(
                _cols(COLUMNS), t["evolution"]),
            "tools": SQL("SELECT * FROM {} ORDER BY agent_id, bucket, start_us, tool").format(
                t["tools"]),
            "agents": SQL("SELECT * FROM {} ORDER BY agent_id").format(t["agents"]),
            "memories": SQL("SELECT * FROM {} ORDER BY agent_id, memory_id").format(
                t["memories"]),
            "search": SQL("SELECT agent_id, version, seq, ts_us, source, ref, label, body "
                          "FROM {} ORDER BY agent_id, version, seq").format(t["search"]),
            "checkpoints": SQL("SELECT {} FROM {} ORDER BY package_id").format(
                _cols(CATALOGUE_COLUMNS), t["checkpoints"]),
        }
        return {name: [tuple(r.values()) for r in self._rows(q)] for name, q in queries.items()}
