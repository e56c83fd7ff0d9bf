"""Forgetting an agent in SQL (application.forget_port), on SQLite and PostgreSQL alike.

Mixed into the store recorders. One transaction deletes every row the store keeps of the agent:
events and snapshots, the event-id and time indexes, its catalogue entry and chain head, its
checkpoints' package rows, its own part references and its checkpoints' (the part store then
releases the parts no other row refers to: a fork's references keep theirs), its checkpoint
schedule, its operation log rows and its rows in the projections' tables (same file or schema);
writes its tombstone and the digests of its event ids; and deletes its wrapped data key (the
data keys' table lives here too: `wrapped_keys`, `add_wrapped_keys`). A trigger on the agent
catalogue refuses a catalogue row for a forgotten agent, so a writer (any process) whose cache
still held the agent cannot bring it back: its commit fails, and its retry (application.store)
refuses the events.

The statements are written once with `?` parameters and `{role}` tables; each backend names its
tables and runs them (`_sql`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from ctxstore.application.forget_port import (
    AgentEraser,
    Erased,
    ErasePlan,
    Forgotten,
    Tombstone,
)
from ctxstore.application.part_content import agent_owner
from ctxstore.application.ports import AgentSummary, PointRows
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.infrastructure.persistence.pg_arrays import bytea_array, text_array
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier
from ctxstore.infrastructure.persistence.pg_lazy import Literal as SQLLiteral
from ctxstore.projections.views import VIEW_TABLES

if TYPE_CHECKING:
    from psycopg.sql import Composable, Composed

    from ctxstore.infrastructure.persistence.postgres import Read

log = logging.getLogger(__name__)
_CHUNK = 500  # SQLite's bound-parameter limit
#: The projections' tables (persistence.views_*) are `<prefix>_<view>`, beside the events;
#: the tombstones are the store's, which the views read (see `forgotten_in`).
SQLITE_VIEWS_PREFIX = "projection"
POSTGRES_VIEWS_PREFIX = "ctxstore_projections"
DATA_KEYS = "data_keys"  # `<prefix>_data_keys`: each agent's wrapped data key
SQLITE_TOMBSTONES = "stored_tombstones"
POSTGRES_TOMBSTONES = "ctxstore_tombstones"

_ERASE_ROWS = (
    # (what it counts, statement); {key}, {oid}, {tenant} are the agent's parameters.
    ("part_refs", "DELETE FROM {part_refs} WHERE tenant = ? AND (package_id = ? OR package_id IN "
                  "(SELECT package_id FROM {packages} WHERE agent_id = ? AND tenant = ?))",
     ("tenant", "owner", "key", "tenant")),
    ("checkpoints", "DELETE FROM {packages} WHERE agent_id = ? AND tenant = ?",
     ("key", "tenant")),
    ("events", "DELETE FROM {events} WHERE originator_id = ?", ("oid",)),
    ("snapshots", "DELETE FROM {snapshots} WHERE originator_id = ?", ("oid",)),
    ("versions", "DELETE FROM {versions} WHERE originator_id = ?", ("oid",)),
    ("agents", "DELETE FROM {agents} WHERE agent_id = ?", ("key",)),
    ("schedules", "DELETE FROM {schedules} WHERE agent_id = ?", ("key",)),
    # Crypto-shredding: without its data key, copies of the agent's rows elsewhere (WAL
    # archives, backups of the event tables) no longer decrypt (persistence.data_keys).
    ("data_keys", "DELETE FROM {data_keys} WHERE originator_id = ?", ("oid",)),
    ("operations", "DELETE FROM {operations} WHERE tenant = ? AND agent_id IN (?, ?)",
     ("tenant", "key", "plain")),
)


class SQLErasure(AgentEraser):
    """The erasure over the recorder's own tables; subclasses name them and the dialect."""

    dialect: Literal["sqlite", "postgres"]
    datastore: Any

    def _tables(self) -> dict[str, str | Composable]:
        """The tables by role: events, snapshots, event_ids, versions, agents, packages,
        part_refs, schedules, operations, tombstones, forgotten_ids, data_keys, parts."""
        r: Any = self
        return {**self._event_tables(),
                "event_ids": r.event_ids_table, "versions": r.versions_table,
                "agents": r.agents_table, "packages": r.packages_table,
                "part_refs": r.part_refs_table, "schedules": r.schedules_table,
                "operations": r.operations_table, "tombstones": r.tombstones_table,
                "forgotten_ids": r.forgotten_ids_table, "data_keys": r.data_keys_table,
                "parts": r.parts_table}

    def _event_tables(self) -> dict[str, str | Composable]:
        """The events' and snapshots' tables, which the backends name their own way."""
        raise NotImplementedError

    def _view_tables(self, curs: Any) -> list[str | Composable]:
        """The projections' tables that exist in this store."""
        raise NotImplementedError

    def _oid(self, originator_id: UUID) -> Any:
        raise NotImplementedError

    def _hold_views(self, curs: Any) -> None:
        """Order the erasure with the other writers: a projection batch committing meanwhile
        waits for it (or it for the batch), so that the batch sees the tombstone and drops the
        agent's rows it wrote (persistence.views_*: `forgotten_in`). SQLite has one writer at
        a time already."""

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A cursor for the reads a write or a restore asks first (tombstones, forgotten event
        ids, data keys): the library's read transaction."""
        with self.datastore.transaction(commit=False) as curs:
            yield curs

    @contextmanager
    def _erasing(self) -> Iterator[Any]:
        """A cursor in the write transaction the erasure runs in."""
        with self.datastore.transaction(commit=True) as curs:
            yield curs

    def _rows_among(self, curs: Any, template: str, fixed: tuple[Any, ...],
                   values: Sequence[Any], pack: Callable[[Sequence[Any]], Any] | None = None
                   ) -> Iterator[tuple[Any, ...]]:
        """The rows (as tuples) of `template`, whose `{in}` stands for "is one of `values`",
        after the `fixed` parameters. PostgreSQL gets one statement with an array (`pack`ed
        when given), whose text never changes, so psycopg converts it once: a thousand
        placeholders were converted at every call (about 3 % of recording a batch of a
        thousand events of new agents). SQLite gets chunks within its parameter limit."""
        rows: list[Any] = []
        if self.dialect == "postgres" and values:
            curs.execute(self._sql(template.replace("{in}", "= ANY(?)")),
                         (*fixed, pack(values) if pack is not None else list(values)))
            rows = curs.fetchall()
        elif values:
            for i in range(0, len(values), _CHUNK):
                chunk = values[i:i + _CHUNK]
                curs.execute(self._sql(template.replace("{in}", "IN ({marks})"), len(chunk)),
                             (*fixed, *chunk))
                rows.extend(curs.fetchall())
        for row in rows:
            yield tuple(row.values()) if isinstance(row, dict) else tuple(row)

    def _sql(self, template: str, marks: int = 0, **extra: str | Composable) -> Any:
        text = template.replace("{marks}", ",".join("?" * marks))
        tables = {**self._tables(), **extra}
        if self.dialect == "sqlite":
            return text.format(**tables)
        return SQL(text.replace("?", "%s")).format(**tables)  # type: ignore[arg-type]

    # The port ----------------------------------------------------------------------------------
    def erase_agent(self, plan: ErasePlan) -> Erased:
        stone = plan.tombstone
        values = {"key": stone.agent_key, "tenant": stone.tenant,
                  "oid": self._oid(plan.originator_id), "plain": plain_agent_id(stone.agent_key),
                  # The roots of the agent's snapshots and restored contents (its own
                  # reference rows; a fork's rows keep what it shares).
                  "owner": agent_owner(plan.originator_id)}
        counts: dict[str, int] = {}
        with self._erasing() as curs:
            self._hold_views(curs)
            curs.execute(self._sql(
                "SELECT DISTINCT address FROM {part_refs} WHERE tenant = ? AND (package_id = ? "
                "OR package_id IN (SELECT package_id FROM {packages} WHERE agent_id = ? "
                "AND tenant = ?))"), (stone.tenant, values["owner"], stone.agent_key, stone.tenant))
            parts = frozenset(_first(r) for r in curs.fetchall())
            curs.execute(self._sql("SELECT event_id FROM {event_ids} "
                                   "WHERE tenant = ? AND originator_id = ?"),
                         (stone.tenant, values["oid"]))
            digests = [(stone.tenant, plan.digest(_first(r))) for r in curs.fetchall()]
            curs.execute(self._sql("DELETE FROM {event_ids} WHERE originator_id = ?"),
                         (values["oid"],))
            counts["event_ids"] = _rowcount(curs)
            for name, statement, params in _ERASE_ROWS:
                curs.execute(self._sql(statement), tuple(values[p] for p in params))
                counts[name] = _rowcount(curs)
            views = 0
            for table in self._view_tables(curs):
                curs.execute(self._sql("DELETE FROM {view} WHERE agent_id = ?", view=table),
                             (stone.agent_key,))
                views += _rowcount(curs)
            if digests:
                curs.executemany(self._sql("INSERT INTO {forgotten_ids} (tenant, digest) "
                                           "VALUES (?, ?) ON CONFLICT DO NOTHING"), digests)
            # Two forgets at once: the first tombstone stays (the second erased nothing).
            curs.execute(self._sql("INSERT INTO {tombstones} (agent_id, tenant, forgotten_us, "
                                   "forgotten_by) VALUES (?, ?, ?, ?) "
                                   "ON CONFLICT (agent_id) DO NOTHING"),
                         (stone.agent_key, stone.tenant, stone.forgotten_us, stone.forgotten_by))
        return Erased(events=counts["events"], snapshots=counts["snapshots"],
                      checkpoints=counts["checkpoints"], event_ids=counts["event_ids"],
                      view_rows=views, schedules=counts["schedules"], parts=parts)

    # For other rewrites of the store's rows (persistence.key_rotation) ------------------------
    def rewriting(self) -> AbstractContextManager[Any]:
        """A cursor in one write transaction whose overwritten bytes do not linger (SQLite's
        secure_delete), as the erasure's."""
        return self._erasing()

    def sql(self, template: str, marks: int = 0, **extra: str | Composable) -> Any:
        """A statement with `?` parameters and `{role}` tables (see `_tables`), in this
        backend's dialect."""
        return self._sql(template, marks, **extra)

    def stored_id(self, originator_id: UUID) -> Any:
        """An aggregate id as the events table stores it."""
        return self._oid(originator_id)

    def table(self, name: str) -> str | Composable:
        """A table of the store's own, by name (schema-qualified on PostgreSQL)."""
        raise NotImplementedError

    def exists(self, curs: Any, name: str) -> bool:
        raise NotImplementedError

    def has_views(self) -> bool:
        """Whether the projections' tables are in this store."""
        with self.datastore.transaction(commit=False) as curs:
            return bool(self._view_tables(curs))

    # Data keys (persistence.data_keys.DataKeyTable) -------------------------------------------
    def wrapped_keys(self, originator_ids: Collection[UUID]) -> dict[UUID, bytes]:
        found: dict[UUID, bytes] = {}
        by_oid = {self._oid(i): i for i in originator_ids}
        wanted = list(by_oid)
        with self._reading() as curs:
            for r in self._rows_among(curs, "SELECT originator_id, wrapped FROM {data_keys} "
                                      "WHERE originator_id {in}", (), wanted):
                found[by_oid[self._oid(UUID(str(r[0])))]] = bytes(r[1])
        return found

    def add_wrapped_keys(self, wrapped: Mapping[UUID, bytes]) -> set[UUID]:
        inserted: set[UUID] = set()
        rows = [(self._oid(i), w) for i, w in wrapped.items()]
        with self.datastore.transaction(commit=True) as curs:
            for i in range(0, len(rows), _CHUNK // 2):
                chunk = rows[i:i + _CHUNK // 2]
                values = ",".join(["(?, ?)"] * len(chunk))
                curs.execute(self._sql("INSERT INTO {data_keys} (originator_id, wrapped) "
                                       f"VALUES {values} ON CONFLICT DO NOTHING "
                                       "RETURNING originator_id"),
                             [v for row in chunk for v in row])
                inserted.update(UUID(str(_first(r))) for r in curs.fetchall())
        return inserted

    def tombstones(self, tenant: str, agent_keys: Collection[str]) -> dict[str, Tombstone]:
        found: dict[str, Tombstone] = {}
        keys = sorted(set(agent_keys))
        with self._reading() as curs:
            for r in self._rows_among(
                    curs, "SELECT agent_id, tenant, forgotten_us, forgotten_by FROM {tombstones} "
                    "WHERE tenant = ? AND agent_id {in}", (tenant,), keys, text_array):
                found[r[0]] = Tombstone(r[0], r[1], int(r[2]), r[3])
        return found

    def forgotten(self, tenant: str, agent_keys: Collection[str]) -> Forgotten:
        keys = sorted(set(agent_keys))
        if self.dialect != "postgres":
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(self._sql("SELECT EXISTS (SELECT 1 FROM {forgotten_ids} "
                                       "WHERE tenant = ?)"), (tenant,))
                ids = bool(_first(curs.fetchone()))
            return Forgotten(self.tombstones(tenant, keys), ids)
        # One row at least (the question about event ids), joined with each tombstone found.
        found: dict[str, Tombstone] = {}
        ids = False
        with self._reading() as curs:
            curs.execute(self._sql(
                "SELECT t.agent_id, t.tenant, t.forgotten_us, t.forgotten_by, f.ids FROM "
                "(SELECT EXISTS (SELECT 1 FROM {forgotten_ids} WHERE tenant = ?) AS ids) AS f "
                "LEFT JOIN {tombstones} AS t ON t.tenant = ? AND t.agent_id = ANY(?)"),
                (tenant, tenant, text_array(keys)))
            for row in curs.fetchall():
                agent_id, owner, forgotten_us, by, ids = (
                    tuple(row.values()) if isinstance(row, dict) else tuple(row))
                if agent_id is not None:
                    found[agent_id] = Tombstone(agent_id, owner, int(forgotten_us), by)
        return Forgotten(found, bool(ids))

    def forgotten_event_ids(self, tenant: str, digests: Collection[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        wanted = sorted(set(digests))
        with self._reading() as curs:
            found.update(bytes(r[0]) for r in self._rows_among(
                curs, "SELECT digest FROM {forgotten_ids} WHERE tenant = ? AND digest {in}",
                (tenant,), wanted, bytea_array))
        return found


def _rowcount(curs: Any) -> int:
    """Rows the last statement changed (eventsourcing's SQLite cursor wraps sqlite3's)."""
    count = getattr(getattr(curs, "sqlite_cursor", curs), "rowcount", 0)
    return max(int(count), 0)


def data_keys_sqlite(table: str) -> str:
    """The data keys' table (also made by migration 5 in a store from before)."""
    return (f"CREATE TABLE IF NOT EXISTS {table} (originator_id TEXT PRIMARY KEY, "
            "wrapped BLOB NOT NULL)")


def data_keys_postgres(table: Composable, id_type: str) -> Composed:
    return SQL("CREATE TABLE IF NOT EXISTS {} (originator_id {} PRIMARY KEY, "
               "wrapped bytea NOT NULL)").format(table, SQL(id_type))  # type: ignore[arg-type]


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


class SQLiteErasure(SQLErasure):
    """Mixed into the SQLite store recorder: `<prefix>_tombstones`, `<prefix>_forgotten_ids`.

    The erasing connection turns on `secure_delete`, so the deleted rows' bytes are zeroed in
    their pages (not left in free space); `reclaim` then merges the full-text index's segments
    (which keep deleted words until merged) and truncates the WAL, which held the rows' pages.
    """

    dialect: Literal["sqlite", "postgres"] = "sqlite"
    tombstones_table: str
    forgotten_ids_table: str
    data_keys_table: str

    def erasure_table_statements(self, prefix: str, agents_table: str) -> list[str]:
        self.tombstones_table = t = f"{prefix}_tombstones"
        self.forgotten_ids_table = f = f"{prefix}_forgotten_ids"
        self.data_keys_table = k = f"{prefix}_{DATA_KEYS}"
        return [
            data_keys_sqlite(k),
            f"CREATE TABLE IF NOT EXISTS {t} (agent_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
            "forgotten_us INTEGER NOT NULL, forgotten_by TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {f} (tenant TEXT NOT NULL, digest BLOB NOT NULL, "
            "PRIMARY KEY (tenant, digest)) WITHOUT ROWID",
            f"CREATE TRIGGER IF NOT EXISTS {agents_table}_not_forgotten BEFORE INSERT ON "
            f"{agents_table} WHEN EXISTS (SELECT 1 FROM {t} WHERE agent_id = NEW.agent_id) "
            "BEGIN SELECT RAISE(ABORT, 'ctxstore: this agent was forgotten'); END",
        ]

    def _event_tables(self) -> dict[str, str | Composable]:
        r: Any = self
        return {"events": r.events_table_name, "snapshots": r.snapshots_table}

    def _oid(self, originator_id: UUID) -> Any:
        return originator_id.hex

    def table(self, name: str) -> str | Composable:
        return name

    def exists(self, curs: Any, name: str) -> bool:
        curs.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return curs.fetchone() is not None

    def _view_tables(self, curs: Any) -> list[str | Composable]:
        names = [f"{SQLITE_VIEWS_PREFIX}_{v}" for v in VIEW_TABLES]
        curs.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
                     f"({','.join('?' * len(names))})", names)
        return sorted(r[0] for r in curs.fetchall())

    @contextmanager
    def _erasing(self) -> Iterator[Any]:
        with self.datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("PRAGMA secure_delete = ON")
            with conn.transaction(commit=True) as curs:
                yield curs

    def reclaim(self) -> None:
        search = f"{SQLITE_VIEWS_PREFIX}_search"
        with self.datastore.get_connection(commit=True) as conn:
            curs = conn.cursor()
            curs.execute("PRAGMA secure_delete = ON")
            curs.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (search,))
            if curs.fetchone() is not None:
                # FTS5 keeps a deleted row's words in its index segments until they merge.
                curs.execute(f"INSERT INTO {search} ({search}) VALUES ('optimize')")
            curs.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = curs.fetchone()
            if busy and busy[0]:
                log.warning("forget: the WAL could not be truncated now (a reader holds it); "
                            "it is at the next checkpoint")


class PostgresErasure(SQLErasure):
    """Mixed into the PostgreSQL store recorder, in the store's schema. `reclaim` vacuums the
    tables an erasure touches, so their dead tuples are pruned, and rebuilds the search index's
    GIN index. The write-ahead log (pg_wal, and any WAL archive or backup) still holds the rows
    until its segments are removed: the README says what an operator does about it."""

    dialect: Literal["sqlite", "postgres"] = "postgres"
    tombstones_table: Composable
    forgotten_ids_table: Composable
    data_keys_table: Composable
    _prefix: str

    def erasure_table_statements(self, prefix: str, agents_table: Composable
                                 ) -> list[Composed]:
        schema = Identifier(self.datastore.schema)
        self._prefix = prefix
        self.tombstones_table = t = SQL("{}.{}").format(schema, Identifier(f"{prefix}_tombstones"))
        self.forgotten_ids_table = f = SQL("{}.{}").format(
            schema, Identifier(f"{prefix}_forgotten_ids"))
        self.data_keys_table = k = SQL("{}.{}").format(schema, Identifier(f"{prefix}_{DATA_KEYS}"))
        function = SQL("{}.{}").format(schema, Identifier(f"{prefix}_not_forgotten"))
        trigger = Identifier(f"{prefix}_agents_not_forgotten")
        return [
            data_keys_postgres(k, self.datastore.originator_id_type),
            SQL("CREATE TABLE IF NOT EXISTS {} (agent_id text PRIMARY KEY, tenant text NOT NULL, "
                "forgotten_us bigint NOT NULL, forgotten_by text NOT NULL)").format(t),
            SQL("CREATE TABLE IF NOT EXISTS {} (tenant text NOT NULL, digest bytea NOT NULL, "
                "PRIMARY KEY (tenant, digest))").format(f),
            SQL("CREATE OR REPLACE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS $body$ "
                "BEGIN IF EXISTS (SELECT 1 FROM {t} WHERE agent_id = NEW.agent_id) THEN "
                "RAISE EXCEPTION 'ctxstore: agent % was forgotten', NEW.agent_id "
                "USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NEW; END "
                "$body$").format(f=function, t=t),
            # Made once: a CREATE TRIGGER at every start would lock the catalogue each time.
            SQL("DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = {name} "
                "AND tgrelid = {table}::regclass) THEN CREATE TRIGGER {trigger} BEFORE INSERT "
                "ON {agents} FOR EACH ROW EXECUTE FUNCTION {f}(); END IF; END $do$").format(
                name=SQLLiteral(f"{prefix}_agents_not_forgotten"),
                table=SQLLiteral(f'"{self.datastore.schema}"."{prefix}_agents"'),
                trigger=trigger, agents=agents_table, f=function),
        ]

    def agents_and_tombstones(self, tenant: str, keys: Sequence[str]
                              ) -> tuple[dict[str, AgentSummary], dict[str, Tombstone]]:
        """The catalogue rows of these agents and the tenant's tombstones of those without
        one, in one statement (ContextStore.rows_and_tombstones), taken as the index's reads
        are (without the pool's round trip, again on a checked connection if need be)."""
        found, stones, _ = self.agents_tombstones_and_point(tenant, keys, None)
        return found, stones

    def agents_tombstones_and_point(self, tenant: str, keys: Sequence[str],
                                    point: tuple[UUID, int] | None
                                    ) -> tuple[dict[str, AgentSummary], dict[str, Tombstone],
                                               PointRows | None]:
        """`agents_and_tombstones`, and the rows of a read of agent `point[0]` at version
        `point[1]` (the index's `point_rows`), the two statements pipelined: one round trip."""
        wanted = list(dict.fromkeys(keys))
        r: Any = self  # the recorder this is mixed into: its agents table, its index reads
        reads: list[Read] = []
        if wanted:
            columns = ", ".join("a." + c for c in r._AGENT_COLUMNS.split(", "))  # AgentSummary
            reads.append((
                SQL("SELECT k.key, t.tenant, t.forgotten_us, t.forgotten_by, " + columns
                    + " FROM unnest(%s::text[]) AS k(key) LEFT JOIN {agents} AS a "
                    "ON a.agent_id = k.key LEFT JOIN {stones} AS t ON a.agent_id IS NULL "
                    "AND t.tenant = %s AND t.agent_id = k.key").format(
                        agents=r.agents_table, stones=self.tombstones_table),
                (text_array(wanted), tenant), True))
        if point is not None:
            reads.append(r._point_read(*point))
        results = r._fetch_all(reads) if reads else []
        found: dict[str, AgentSummary] = {}
        stones: dict[str, Tombstone] = {}
        for key, t_tenant, t_us, t_by, *row in results[0] if wanted else ():
            if row[0] is not None:
                found[key] = AgentSummary(*row)
            elif t_tenant is not None:
                stones[key] = Tombstone(key, t_tenant, int(t_us), t_by)
        rows = r._point_rows(*point, results[-1]) if point is not None else None
        return found, stones, rows

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A pooled connection (autocommit) outside any transaction: each of these reads is
        one statement, which sees a snapshot of its own, so BEGIN and ROLLBACK were two round
        trips more (a fork command into a new agent asks its tombstone, a batch writing new
        agents theirs)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            yield curs

    def _event_tables(self) -> dict[str, str | Composable]:
        r: Any = self
        schema = Identifier(self.datastore.schema)
        return {"events": SQL("{}.{}").format(schema, Identifier(r.events_table_name)),
                "snapshots": SQL("{}.{}").format(schema,
                                                 Identifier(f"{self._prefix}_snapshots"))}

    def table(self, name: str) -> str | Composable:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(name))

    def exists(self, curs: Any, name: str) -> bool:
        curs.execute("SELECT to_regclass(%s) AS t", (f'"{self.datastore.schema}"."{name}"',))
        return _first(curs.fetchone()) is not None

    def _oid(self, originator_id: UUID) -> Any:
        return originator_id if self.datastore.originator_id_type == "uuid" else str(
            originator_id)

    def _view_names(self) -> list[str]:
        return [f"{POSTGRES_VIEWS_PREFIX}_{v}" for v in VIEW_TABLES]

    def _hold_views(self, curs: Any) -> None:
        # The projection's commit moves its tracking row first: holding that row orders the
        # two transactions (a batch's later statements then see this one's tombstone).
        tracking = f"{POSTGRES_VIEWS_PREFIX}_tracking"
        curs.execute("SELECT to_regclass(%s) AS t",
                     (f'"{self.datastore.schema}"."{tracking}"',))
        if _first(curs.fetchone()) is not None:
            curs.execute(SQL("SELECT 1 FROM {}.{} FOR UPDATE").format(
                Identifier(self.datastore.schema), Identifier(tracking)))
        # Then the events table, as every writer takes it before its side rows: a writer
        # inserting a (redelivered) event id this erasure deletes would otherwise wait on it
        # while holding the lock the erasure needs next.
        curs.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self._tables()["events"]))

    def _view_tables(self, curs: Any) -> list[str | Composable]:
        curs.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                     "AND table_name = ANY(%s)", (self.datastore.schema, self._view_names()))
        schema = Identifier(self.datastore.schema)
        return [SQL("{}.{}").format(schema, Identifier(_first(r)))
                for r in sorted(curs.fetchall(), key=_first)]

    def reclaim(self) -> None:
        from psycopg.sql import Composable  # a class here, not an annotation (pg_lazy)

        tables: Sequence[Composable] = [
            v for k, v in self._tables().items() if isinstance(v, Composable)
            and k not in ("tombstones", "forgotten_ids")]
        with self.datastore.get_connection() as conn:  # autocommit: VACUUM runs outside one
            views = self._view_tables(conn.cursor())
            for table in [*tables, *views]:
                conn.execute(SQL("VACUUM {}").format(table))
            # A GIN index never removes a word's entry, only its postings: the search index
            # would keep the agent's words (or blind tokens). Rebuilt beside the old one, which
            # goes at the next checkpoint; writers are not blocked meanwhile.
            schema = self.datastore.schema
            gin = conn.execute(
                "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am a ON a.oid = i.relam "
                "JOIN pg_namespace n ON n.oid = t.relnamespace "
                "WHERE a.amname = 'gin' AND n.nspname = %s AND t.relname = ANY(%s)",
                (schema, self._view_names())).fetchall()
            for row in gin:
                conn.execute(SQL("REINDEX INDEX CONCURRENTLY {}.{}").format(
                    Identifier(schema), Identifier(_first(row))))


def forgotten_in(curs: Any, dialect: Literal["sqlite", "postgres"], tombstones: Any,
                 agent_ids: Collection[str]) -> list[str]:
    """Which of these agents (by key) were forgotten: what a projection batch must not leave
    rows of (it may have read their events before the erasure deleted them)."""
    keys = sorted(agent_ids)
    if not keys:
        return []
    if dialect == "postgres":
        curs.execute(SQL("SELECT agent_id FROM {} WHERE agent_id = ANY(%s)").format(tombstones),
                     (keys,))
        return [_first(r) for r in curs.fetchall()]
    found: list[str] = []
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i:i + _CHUNK]
        curs.execute(f"SELECT agent_id FROM {tombstones} WHERE agent_id IN "
                     f"({','.join('?' * len(chunk))})", chunk)
        found.extend(_first(r) for r in curs.fetchall())
    return found
