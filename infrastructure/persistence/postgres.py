"""PostgreSQL recorder: the eventsourcing application recorder plus ctxstore's side tables.

Side rows go in with one `unnest` statement each, in the transaction (and pipeline) that inserts
the events, so an event and its index entries commit together or not at all. They go in once the
events table's lock is held, so concurrent writers queue on that one lock and never deadlock on
the side tables' keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, retry
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier
from psycopg_pool import PoolTimeout

from ctxstore.application.chain import ChainRow
from ctxstore.application.chain_port import ChainHead, ChainIndex
from ctxstore.application.ports import (
    AgentRow,
    AgentSummary,
    ContextIndex,
    EventIndexRow,
    PointRows,
)
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.persistence.connection_pin import ConnectionPin
from ctxstore.infrastructure.persistence.dsn import libpq_options
from ctxstore.infrastructure.persistence.pg_arrays import (
    PackedArray,
    bytea_array,
    id_array,
    int8_array,
    register_dumpers,
    text_array,
)
from ctxstore.infrastructure.persistence.pipeline_mode import PIPELINES, pipelined_transaction
from ctxstore.infrastructure.persistence.pool_check import first_take_unchecked, use_purging_check
from ctxstore.infrastructure.persistence.pool_order import hand_out_last_given_back
from ctxstore.infrastructure.persistence.pool_wait import OneWaitPerCommand

register_dumpers()  # before this store's first connection (pg_arrays)


@contextmanager
def schema_setup_lock(dsn: str, schema: str) -> Iterator[None]:
    """Hold a session advisory lock on the schema while tables are created.

    Ingest workers start together on a fresh schema; the library's CREATE OR REPLACE FUNCTION
    and concurrent CREATE TYPE / CREATE TABLE IF NOT EXISTS then fail ("tuple concurrently
    updated", duplicate pg_type keys). One creator at a time makes the rest find it all done.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"ctxstore-ddl:{schema}",))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"ctxstore-ddl:{schema}",))


def _insert_statement(recorder: PostgresAggregateRecorder, returning: str = "") -> SQL | Any:
    """The library's insert of stored events, with binary arrays (see _binary_rows) instead of
    its composite type in text: psycopg escapes every value of that text form with regular
    expressions, which was most of the client's time at 1,000 events per transaction."""
    return SQL(
        "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest(%b::{}[], %b::bigint[], %b::text[], %b::bytea[])" + returning
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name),
             Identifier(recorder.datastore.originator_id_type))


def _binary_rows(recorder: PostgresAggregateRecorder, stored_events: Sequence[StoredEvent]
                 ) -> tuple[PackedArray, ...]:
    return (
        id_array([e.originator_id for e in stored_events], recorder.datastore.originator_id_type),
        int8_array([e.originator_version for e in stored_events]),
        text_array([e.topic for e in stored_events]),
        bytea_array([e.state for e in stored_events]),
    )


class PostgresSnapshotRecorder(PostgresAggregateRecorder):
    """The library's aggregate recorder, which keeps snapshots, inserting binary arrays."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self._insert_binary = _insert_statement(self)

    def _insert_stored_events(self, curs: Cursor[DictRow],
                              stored_events: Sequence[StoredEvent], **_: Any) -> None:
        curs.execute(self._insert_binary, _binary_rows(self, stored_events), prepare=True)


T = TypeVar("T")
# A read of the index: its query, its parameters, and whether its rows come as tuples.
Read = tuple[Any, Sequence[Any], bool]


def _flattened(chunks: Iterable[tuple[Sequence[StoredEvent], Sequence[EventIndexRow]]]
               ) -> tuple[list[StoredEvent], list[EventIndexRow]]:
    """A batch's chunks as one: its events and its index rows, in order."""
    events: list[StoredEvent] = []
    rows: list[EventIndexRow] = []
    for chunk_events, chunk_rows in chunks:
        events.extend(chunk_events)
        rows.extend(chunk_rows)
    return events, rows


def _unchecked_first(statement: Callable[[], T], again: Callable[[], T]) -> T:
    """`statement` on a connection taken without the pool's check (pool_check), then `again`
    (on checked connections) when it failed as on a broken connection. Not when its wait for
    a connection timed out: the database is not answering, and the caller says so now
    (pool_wait)."""
    try:
        with first_take_unchecked():
            return statement()
    except (InterfaceError, OperationalError) as e:
        if isinstance(e.__cause__, PoolTimeout):
            raise
        return again()


class ContextPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, making snapshot recorders that insert binary arrays,
    over connections that also get the URL's own parameters (POSTGRES_CONNECTION_OPTIONS: a
    query string; see dsn.libpq_options), which the library has no setting for."""

    aggregate_recorder_class = PostgresSnapshotRecorder
    POSTGRES_CONNECTION_OPTIONS = "POSTGRES_CONNECTION_OPTIONS"

    def __init__(self, env: Environment | Mapping[str, str] | None):
        super().__init__(env)
        pool = self.datastore.pool
        options = libpq_options(self.env.get(self.POSTGRES_CONNECTION_OPTIONS) or "")
        if options:  # before the pool opens: every connection it makes has them
            base = pool.kwargs if isinstance(pool.kwargs, dict) else {}
            pool.kwargs = {**base, **options}
        if self.datastore.pre_ping:
            use_purging_check(pool)  # one ended connection: the others checked at once
        OneWaitPerCommand(pool)  # a statement's retries do not wait the pool's timeout again
        hand_out_last_given_back(pool)  # one hot backend for consecutive commands (pool_order)
        # A command's statements share one connection, checked once (connection_pin).
        self.connection_pin = ConnectionPin(pool)
        read_transactions_commit(self.datastore)


def read_transactions_commit(datastore: PostgresDatastore) -> None:
    """The library's `transaction(commit=False)` (every read transaction here: the part
    store's, the views', the operation log's...) begins READ ONLY and commits, where it rolled
    back: psycopg clears a connection's prepared statements at every rollback (a rolled back
    DDL may have changed what they refer to) and sends DEALLOCATE ALL, so each read threw away
    what every statement had prepared (69 times in 100 forks), and the next use of each
    parsed it again at the cost of a round trip. READ ONLY keeps the promise that nothing such
    a block does is kept: PostgreSQL refuses a write in it."""
    library = datastore.transaction

    @contextmanager
    def transaction(*, commit: bool = False) -> Iterator[Cursor[DictRow]]:
        if commit:
            with library(commit=True) as curs:
                yield curs
            return
        with datastore.get_connection() as conn:
            conn.read_only = True
            try:
                with conn.transaction():
                    yield conn.cursor()
            finally:
                try:
                    conn.read_only = False
                except psycopg.Error:
                    conn.close()  # never back in the pool read-only: the pool replaces it

    datastore.transaction = transaction  # type: ignore[method-assign]


class PostgresIndexedEventRecorder(PostgresApplicationRecorder, ContextIndex, ChainIndex):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        prefix = events_table_name.rsplit("_events", 1)[0]
        for suffix in ("_event_ids", "_versions", "_agents", "_agents_by_plain_id"):
            # PostgreSQL would silently truncate a longer name: refuse it as the library does.
            self.check_identifier_length(prefix + suffix)
        schema = Identifier(self.datastore.schema)
        # Side tables key on the events' originator id type (uuid, or text for text ids).
        id_type = Identifier(self.datastore.originator_id_type)
        self.event_ids_table = SQL("{}.{}").format(schema, Identifier(f"{prefix}_event_ids"))
        self.versions_table = SQL("{}.{}").format(schema, Identifier(f"{prefix}_versions"))
        self.agents_table = SQL("{}.{}").format(schema, Identifier(f"{prefix}_agents"))
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (event_id text NOT NULL, "
                    "originator_id {} NOT NULL, originator_version bigint NOT NULL, "
                    "tenant text NOT NULL DEFAULT {}, PRIMARY KEY (tenant, event_id))"
                ).format(self.event_ids_table, id_type, LOCAL_TENANT),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (originator_id {} NOT NULL, "
                    "originator_version bigint NOT NULL, ts_us bigint NOT NULL, link bytea, "
                    "PRIMARY KEY (originator_id, originator_version))"
                ).format(self.versions_table, id_type),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (agent_id text PRIMARY KEY, "
                    "originator_id {} NOT NULL, version bigint NOT NULL, "
                    "created_us bigint NOT NULL, updated_us bigint NOT NULL, "
                    "tenant text NOT NULL, chain_head bytea)"
                ).format(self.agents_table, id_type),
                # The API's agent list pages through this (agents_page), a tenant at a time.
                SQL("CREATE INDEX IF NOT EXISTS {} ON {} (tenant, " + self._PLAIN_ID + ")"
                    ).format(Identifier(f"{prefix}_agents_by_plain_id"), self.agents_table),
            ]
        )
        self._create_record_function(prefix, schema, id_type)
        self._select_known = SQL(
            "SELECT event_id, originator_id, originator_version FROM {} "
            "WHERE tenant = %s AND event_id = ANY(%b::text[])"
        ).format(self.event_ids_table).as_bytes(None)
        # Side rows go as binary arrays (%b) too, packed by pg_arrays.
        self._insert_events_binary = _insert_statement(self, " RETURNING notification_id")
        self._insert_ids = SQL(
            "INSERT INTO {} SELECT * FROM unnest(%b::text[], %b::{}[], %b::bigint[], "
            "%b::text[])"
        ).format(self.event_ids_table, id_type)
        self._insert_versions = SQL(
            "INSERT INTO {} SELECT * FROM unnest(%b::{}[], %b::bigint[], %b::bigint[], "
            "%b::bytea[])"
        ).format(self.versions_table, id_type)
        # Latest snapshot, then the events after it, of many aggregates in one statement:
        # two index scans an id (LATERAL), no sort of the states.
        self._select_heads = SQL(
            "WITH ids AS (SELECT DISTINCT unnest(%b::{i}[]) AS id), "
            "snap AS (SELECT ids.id, s.originator_version, s.topic, s.state FROM ids "
            "CROSS JOIN LATERAL (SELECT originator_version, topic, state FROM {s} "
            "WHERE originator_id = ids.id ORDER BY originator_version DESC LIMIT 1) s) "
            "SELECT id, originator_version, topic, state FROM snap UNION ALL "
            "SELECT ids.id, e.originator_version, e.topic, e.state FROM ids "
            "LEFT JOIN snap USING (id) CROSS JOIN LATERAL (SELECT originator_version, topic, "
            "state FROM {e} WHERE originator_id = ids.id "
            "AND originator_version > coalesce(snap.originator_version, 0)) e"
        ).format(i=id_type, s=SQL("{}.{}").format(schema, Identifier(f"{prefix}_snapshots")),
                 e=SQL("{}.{}").format(schema, Identifier(self.events_table_name)))
        # A read at a version: its latest snapshot there with the chain's link at that
        # snapshot's version, then the events after it up to the version (application.ports
        # PointRows); one statement where it was three.
        self._select_point = SQL(
            "WITH s AS (SELECT originator_version, topic, state FROM {s} "
            "WHERE originator_id = %s AND originator_version <= %s "
            "ORDER BY originator_version DESC LIMIT 1) "
            "SELECT true AS snapshot, s.originator_version, s.topic, s.state, v.link FROM s "
            "LEFT JOIN {v} v ON v.originator_id = %s "
            "AND v.originator_version = s.originator_version "
            "UNION ALL SELECT false, e.originator_version, e.topic, e.state, NULL FROM {e} e "
            "WHERE e.originator_id = %s AND e.originator_version <= %s "
            "AND e.originator_version > coalesce((SELECT originator_version FROM s), 0)"
        ).format(s=SQL("{}.{}").format(schema, Identifier(f"{prefix}_snapshots")),
                 v=self.versions_table,
                 e=SQL("{}.{}").format(schema, Identifier(self.events_table_name))
                 ).as_bytes(None)
        self._upsert_agents = SQL(
            "INSERT INTO {t} AS a SELECT * FROM unnest(%b::text[], %b::{i}[], %b::bigint[], "
            "%b::bigint[], %b::bigint[], %b::text[], %b::bytea[]) ON CONFLICT (agent_id) "
            "DO UPDATE SET version = GREATEST(a.version, excluded.version), "
            "updated_us = excluded.updated_us, chain_head = CASE WHEN excluded.version > "
            "a.version THEN excluded.chain_head ELSE a.chain_head END"
        ).format(t=self.agents_table, i=id_type)

    def _create_record_function(self, prefix: str, schema: Identifier, id_type: Identifier
                                ) -> None:
        """A batch's whole write as one function: one statement, its own transaction.

        The pipelined write is ten statements (begin, lock timeout, lock, notify, three side
        tables, events, commit, sync), each a round of psycopg's client work: most of the
        client CPU of a one-event transaction. The function takes them all as arrays.
        """
        name = f"{prefix}_record"
        self.check_identifier_length(name)
        function = SQL("{}.{}").format(schema, Identifier(name))
        self.sql_create_statements.append(SQL(
            "CREATE OR REPLACE FUNCTION {f}(e_ids {i}[], e_versions bigint[], e_topics text[], "
            "e_states bytea[], x_event_ids text[], x_ids {i}[], x_versions bigint[], "
            "x_tenants text[], x_ts bigint[], x_links bytea[], a_agents text[], a_ids {i}[], "
            "a_versions bigint[], a_created bigint[], a_updated bigint[], a_tenants text[], "
            "a_heads bytea[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ BEGIN "
            "SET LOCAL lock_timeout = '{timeout}s'; "
            "LOCK TABLE {events} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "INSERT INTO {ids} SELECT * FROM unnest(x_event_ids, x_ids, x_versions, x_tenants); "
            "INSERT INTO {versions} SELECT * FROM unnest(x_ids, x_versions, x_ts, x_links); "
            "INSERT INTO {agents} AS a SELECT * FROM unnest(a_agents, a_ids, a_versions, "
            "a_created, a_updated, a_tenants, a_heads) ON CONFLICT (agent_id) DO UPDATE SET "
            "version = GREATEST(a.version, excluded.version), updated_us = excluded.updated_us, "
            "chain_head = CASE WHEN excluded.version > a.version THEN excluded.chain_head "
            "ELSE a.chain_head END; "
            "RETURN QUERY INSERT INTO {events} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(e_ids, e_versions, e_topics, e_states) "
            "RETURNING notification_id; "
            "END $body$"
        ).format(f=function, i=id_type, timeout=SQL(str(int(self.datastore.lock_timeout))),
                 events=SQL("{}.{}").format(schema, Identifier(self.events_table_name)),
                 channel=Identifier(self.channel_name), ids=self.event_ids_table,
                 versions=self.versions_table, agents=self.agents_table))
        # As bytes: psycopg then converts the query once (its cache), not at every call.
        self._call_record = SQL(
            "SELECT * FROM {}(%b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b) "
            "AS r(notification_id)"
        ).format(function).as_bytes(None)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not any(v for k, v in kwargs.items() if k not in ("index_rows", "agent_rows")):
            rows = (stored_events, kwargs.get("index_rows", ()), kwargs.get("agent_rows", ()))
            # Without the pool's round trip; a connection found broken by the statement
            # itself means more tries on checked ones (pool_check).
            return _unchecked_first(lambda: self._record_statement(*rows),
                                    lambda: self._insert_in_one_statement(*rows))
        if self.datastore.enable_db_functions and any(kwargs.values()):
            return self._insert_with_db_function(stored_events, **kwargs)
        return self._insert_pipelined(stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_in_one_statement(self, stored_events: Sequence[StoredEvent],
                                 index_rows: Sequence[EventIndexRow],
                                 agent_rows: Sequence[AgentRow]) -> list[int]:
        return self._record_statement(stored_events, index_rows, agent_rows)

    def _record_statement(self, stored_events: Sequence[StoredEvent],
                          index_rows: Sequence[EventIndexRow],
                          agent_rows: Sequence[AgentRow]) -> list[int]:
        """The events and their side rows through the record function (one statement, one
        transaction: the connection is in autocommit)."""
        params = self._record_params(stored_events, index_rows, agent_rows)
        # Tuple rows: the library's cursor would make a dict of each of the batch's rows.
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self._call_record, params, prepare=True)
            return [r[0] for r in curs.fetchall()]

    def _record_params(self, stored_events: Sequence[StoredEvent],
                       index_rows: Sequence[EventIndexRow],
                       agent_rows: Sequence[AgentRow]) -> tuple[PackedArray, ...]:
        events = _binary_rows(self, stored_events)
        aligned = len(index_rows) == len(stored_events) and all(
            r.version == e.originator_version and (r.originator_id is e.originator_id
                                                   or r.originator_id == e.originator_id)
            for r, e in zip(index_rows, stored_events, strict=True))
        # The store's rows line up with its events: their ids and versions are packed once.
        return (*events, *self._index_arrays(index_rows, events[:2] if aligned else None),
                *self._agent_arrays(agent_rows))

    def insert_chunks(
        self,
        chunks: Iterable[tuple[Sequence[StoredEvent], Sequence[EventIndexRow]]],
        agent_rows: Callable[[], Sequence[AgentRow]],
    ) -> None:
        """The application.ports ChunkedEventWriter: each chunk through the record function
        as it comes, pipelined in one transaction (PostgreSQL inserts a chunk while the store
        makes the next), then the agent rows. On a connection found broken, the whole batch
        once more in one statement on checked connections (pool_check); without pipeline
        mode, in one statement from the start."""
        if not PIPELINES:  # the batch in one statement, as before chunks
            events, rows = _flattened(chunks)
            self.insert_events(events, index_rows=rows, agent_rows=agent_rows())
            return
        sent: list[tuple[Sequence[StoredEvent], Sequence[EventIndexRow]]] = []

        def taken() -> Iterator[tuple[Sequence[StoredEvent], Sequence[EventIndexRow]]]:
            for chunk in chunks:
                sent.append(chunk)
                yield chunk

        def whole() -> list[int]:
            # What was sent, and what was not made yet.
            return self._insert_in_one_statement(*_flattened([*sent, *chunks]), agent_rows())

        _unchecked_first(lambda: self._record_pipelined(taken(), agent_rows), whole)

    def _record_pipelined(
        self,
        chunks: Iterable[tuple[Sequence[StoredEvent], Sequence[EventIndexRow]]],
        agent_rows: Callable[[], Sequence[AgentRow]],
    ) -> None:
        # A conflict raises as itself whenever its result comes (at the latest with the
        # commit's Sync), and the transaction rolls back (pipelined_transaction); inside
        # get_connection, so translated to eventsourcing's errors.
        with self.datastore.get_connection() as conn, pipelined_transaction(conn), \
                conn.cursor(row_factory=tuple_row) as curs:
            for events, rows in chunks:  # each sent before the next is made
                curs.execute(self._call_record, self._record_params(events, rows, ()),
                             prepare=True)
            curs.execute(self._call_record, self._record_params((), (), agent_rows()),
                         prepare=True)

    def _index_arrays(self, rows: Sequence[EventIndexRow],
                      ids_versions: Sequence[PackedArray] | None = None
                      ) -> tuple[PackedArray, ...]:
        """event ids, originator ids, versions, tenants, timestamps, links."""
        ids, versions = ids_versions or (self._ids([r.originator_id for r in rows]),
                                         int8_array([r.version for r in rows]))
        return (text_array([r.event_id for r in rows]), ids, versions,
                text_array([r.tenant for r in rows]), int8_array([r.timestamp_us for r in rows]),
                bytea_array([r.link for r in rows]))

    def _agent_arrays(self, rows: Sequence[AgentRow]) -> tuple[PackedArray, ...]:
        return (text_array([a.agent_id for a in rows]), self._ids([a.originator_id for a in rows]),
                int8_array([a.version for a in rows]), int8_array([a.created_us for a in rows]),
                int8_array([a.updated_us for a in rows]), text_array([a.tenant for a in rows]),
                bytea_array([a.chain_head for a in rows]))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_pipelined(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # eventsourcing's pipelined insert with one change: a failed statement leaves the
        # transaction block as an exception, so the transaction rolls back
        # (pipelined_transaction). The library catches it inside the block, which then tries
        # to commit an aborted pipeline and, depending on when the failed result arrived,
        # raises PipelineAborted (an OperationalError) instead of the taken version's
        # IntegrityError: a write conflict reported as a storage failure (seen once in a full
        # run under load).
        ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn, pipelined_transaction(conn) as pipeline:
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
            if len(stored_events) > 0:
                with conn.cursor() as curs:
                    self._insert_stored_events(curs, stored_events, **kwargs)
                    pipeline.sync()  # a conflict raises here, as IntegrityError
                    ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_with_db_function(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        index_rows: Sequence[EventIndexRow] = (),
        agent_rows: Sequence[AgentRow] = (),
        **kwargs: Any,
    ) -> Sequence[int]:
        # The library's function inserts events in a transaction of its own; side rows must
        # share it, so call it inside an explicit one (subclasses' `_insert_events` too).
        pg_stored_events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic,
                                           e.state)
            for e in stored_events
        ]
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)
            curs.execute(self.sql_invoke_pg_function_insert_events, (pg_stored_events,),
                         prepare=True)
            ids = [r[self.pg_function_name_insert_events] for r in curs.fetchall()]
            self._insert_side_rows(curs, index_rows, agent_rows)
        return ids

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        *,
        index_rows: Sequence[EventIndexRow] = (),
        agent_rows: Sequence[AgentRow] = (),
        **kwargs: Any,
    ) -> None:
        # The library's statement, with binary arrays instead of its composite type in text.
        # The side rows go first, right after the lock: the database inserts them while the
        # events are inserted.
        # Any conflict, on either, is raised by the library's sync as one IntegrityError.
        self._lock_table(curs)
        self._notify_channel(curs)
        if index_rows or agent_rows:
            # Another cursor: the caller reads the events' notification ids from `curs`.
            with curs.connection.cursor() as side:
                self._insert_side_rows(side, index_rows, agent_rows)
        curs.execute(self._insert_events_binary, _binary_rows(self, stored_events),
                     prepare=True)

    def _insert_side_rows(
        self,
        curs: Cursor[DictRow],
        index_rows: Sequence[EventIndexRow],
        agent_rows: Sequence[AgentRow],
    ) -> None:
        if index_rows:
            event_ids, ids, versions, tenants, times, links = self._index_arrays(index_rows)
            curs.execute(self._insert_ids, (event_ids, ids, versions, tenants), prepare=True)
            curs.execute(self._insert_versions, (ids, versions, times, links), prepare=True)
        if agent_rows:
            curs.execute(self._upsert_agents, self._agent_arrays(agent_rows), prepare=True)

    def _ids(self, ids: Sequence[UUID | str]) -> PackedArray:
        return id_array(ids, self.datastore.originator_id_type)

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None,
                      lte: int | None = None, desc: bool = False, limit: int | None = None
                      ) -> Sequence[StoredEvent]:
        """The library's select of an agent's events (a held agent's newer ones, at every read
        of an agent's latest; a history; a replay), taken without the pool's round trip like
        the index's reads: a read, so run once more through the library's own (checked
        connections, its retries) when its connection was found broken (see pool_check)."""
        plain = PostgresApplicationRecorder.select_events
        kwargs = {"gt": gt, "lte": lte, "desc": desc, "limit": limit}
        return _unchecked_first(
            lambda: plain.__wrapped__(self, originator_id, **kwargs),  # type: ignore[attr-defined]
            lambda: plain(self, originator_id, **kwargs))

    def _fetch(self, query: Any, params: Sequence[Any], *, as_tuples: bool = False
               ) -> list[Any]:
        """A read of the index (an agent's row, event ids, a point's rows...), often a
        command's first statement: taken without the pool's round trip, and run once more on a
        checked connection when its own found the connection broken (a read, so safely; see
        pool_check)."""
        return _unchecked_first(lambda: self._fetch_once(query, params, as_tuples),
                                lambda: self._fetch_once(query, params, as_tuples))

    def _fetch_all(self, reads: Sequence[Read]) -> list[list[Any]]:
        """`_fetch` of each read, several in one round trip (`_fetch_together`); one alone
        goes as `_fetch` sends it (a pipeline around one statement costs a Sync more)."""
        if len(reads) == 1:
            [(query, params, as_tuples)] = reads
            return [self._fetch(query, params, as_tuples=as_tuples)]
        return _unchecked_first(lambda: self._fetch_together(reads),
                                lambda: self._fetch_together(reads))

    def _fetch_once(self, query: Any, params: Sequence[Any], as_tuples: bool = False
                    ) -> list[Any]:
        """`as_tuples`: rows as tuples (a point's: tens of rows, each a dict otherwise)."""
        with self.datastore.get_connection() as conn, conn.cursor(
                row_factory=tuple_row if as_tuples else conn.row_factory) as curs:
            # Binary results: a point's rows are bytea (its snapshot and events), which text
            # results send as hex, twice the bytes, for the server to write and this process
            # to unescape.
            curs.execute(query, params, prepare=True, binary=True)
            return curs.fetchall()

    def _fetch_together(self, reads: Sequence[Read]) -> list[list[Any]]:
        """Each read's rows, as `_fetch_once` reads them, the reads pipelined: one round
        trip, each statement its own implicit transaction (one by one without pipelines)."""
        with self.datastore.get_connection() as conn, ExitStack() as cursors_open:
            cursors = [cursors_open.enter_context(conn.cursor(
                row_factory=tuple_row if as_tuples else conn.row_factory))
                for _, _, as_tuples in reads]
            with conn.pipeline() if PIPELINES else nullcontext():
                for curs, (query, params, _) in zip(cursors, reads, strict=True):
                    curs.execute(query, params, prepare=True, binary=True)
            return [curs.fetchall() for curs in cursors]

    def known_event_ids(self, event_ids: Iterable[str], tenant: str = LOCAL_TENANT
                        ) -> dict[str, tuple[UUID, int]]:
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return {}
        rows = self._fetch(self._select_known, (tenant, text_array(ids)))
        return {r["event_id"]: (r["originator_id"], r["originator_version"]) for r in rows}

    def heads(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        if not originator_ids:
            return {}
        heads: dict[UUID, list[StoredEvent]] = {}
        for r in self._fetch(self._select_heads, (self._ids(originator_ids),)):
            heads.setdefault(r["id"], []).append(StoredEvent(
                r["id"], r["originator_version"], r["topic"], bytes(r["state"])))
        for stored in heads.values():
            stored.sort(key=lambda e: e.originator_version)  # the snapshot comes first
        return heads

    def point_rows(self, originator_id: UUID, upto: int) -> PointRows | None:
        query, params, as_tuples = self._point_read(originator_id, upto)
        return self._point_rows(originator_id, upto,
                                self._fetch(query, params, as_tuples=as_tuples))

    def agents_with_point(self, agent_ids: Sequence[str], originator_id: UUID, upto: int
                          ) -> tuple[dict[str, AgentSummary], PointRows | None]:
        if not agent_ids:
            return {}, self.point_rows(originator_id, upto)
        agents, point = self._fetch_all([self._agents_read(agent_ids),
                                         self._point_read(originator_id, upto)])
        return self._agents(agents), self._point_rows(originator_id, upto, point)

    def _point_read(self, originator_id: UUID, upto: int) -> Read:
        oid: UUID | str = (originator_id if self.datastore.originator_id_type == "uuid"
                           else str(originator_id))
        return self._select_point, (oid, upto, oid, oid, upto), True

    @staticmethod
    def _point_rows(originator_id: UUID, upto: int, rows: list[Any]) -> PointRows:
        snapshot, link, events = None, None, []
        for is_snapshot, version, topic, state, link_bytes in rows:
            stored = StoredEvent(originator_id, version, topic, bytes(state))
            if is_snapshot:
                snapshot, link = stored, (bytes(link_bytes) if link_bytes is not None else None)
            else:
                events.append(stored)
        events.sort(key=lambda e: e.originator_version)
        return PointRows(upto, snapshot, link,
                         snapshot.originator_version if snapshot is not None else 0, events)

    def version_at(self, originator_id: UUID, timestamp_us: int) -> int:
        rows = self._fetch(
            SQL(
                "SELECT max(originator_version) AS v FROM {} "
                "WHERE originator_id = %s AND ts_us <= %s"
            ).format(self.versions_table),
            (originator_id, timestamp_us),
        )
        return int(rows[0]["v"] or 0)

    def timestamps(self, originator_id: UUID, versions: Sequence[int]) -> dict[int, int]:
        if not versions:
            return {}
        rows = self._fetch(
            SQL(
                "SELECT originator_version, ts_us FROM {} "
                "WHERE originator_id = %s AND originator_version = ANY(%s)"
            ).format(self.versions_table),
            (originator_id, list(versions)),
        )
        return {r["originator_version"]: r["ts_us"] for r in rows}

    _AGENT_COLUMNS = "agent_id, version, created_us, updated_us, tenant"

    def agents(self, tenant: str | None = None) -> list[AgentSummary]:
        if tenant is None:
            query = SQL("SELECT " + self._AGENT_COLUMNS + " FROM {} ORDER BY agent_id").format(
                self.agents_table
            )
            rows = self._fetch(query, ())
        else:
            query = SQL(
                "SELECT " + self._AGENT_COLUMNS + " FROM {} WHERE tenant = %s ORDER BY agent_id"
            ).format(self.agents_table)
            rows = self._fetch(query, (tenant,))
        return [AgentSummary(**r) for r in rows]

    # The agent id as its tenant knows it, in code-point order (the API's), as the index has it.
    _PLAIN_ID = "(regexp_replace(agent_id, '^.*/', '') COLLATE \"C\")"

    def agents_page(self, tenant: str, after: str | None, limit: int) -> list[AgentSummary]:
        query = SQL("SELECT " + self._AGENT_COLUMNS + " FROM {} WHERE tenant = %s AND "
                    + self._PLAIN_ID + " > %s ORDER BY " + self._PLAIN_ID + " LIMIT %s"
                    ).format(self.agents_table)
        rows = self._fetch(query, (tenant, after or "", limit))
        return [AgentSummary(**r) for r in rows]

    def owners(self, agent_ids: Sequence[str]) -> dict[str, str]:
        if not agent_ids:
            return {}
        rows = self._fetch(
            SQL("SELECT agent_id, tenant FROM {} WHERE agent_id = ANY(%s)").format(
                self.agents_table
            ),
            (text_array(list(agent_ids)),),
        )
        return {r["agent_id"]: r["tenant"] for r in rows}

    def agents_of(self, agent_ids: Sequence[str]) -> dict[str, AgentSummary]:
        if not agent_ids:
            return {}
        query, params, _ = self._agents_read(agent_ids)
        return self._agents(self._fetch(query, params))

    def _agents_read(self, agent_ids: Sequence[str]) -> Read:
        return (SQL("SELECT " + self._AGENT_COLUMNS + " FROM {} WHERE agent_id = ANY(%s)"
                    ).format(self.agents_table),
                (text_array(list(dict.fromkeys(agent_ids))),), False)

    @staticmethod
    def _agents(rows: list[Any]) -> dict[str, AgentSummary]:
        return {r["agent_id"]: AgentSummary(**r) for r in rows}

    def agent(self, agent_id: str) -> AgentSummary | None:
        rows = self._fetch(
            SQL("SELECT " + self._AGENT_COLUMNS + " FROM {} WHERE agent_id = %s").format(
                self.agents_table
            ),
            (agent_id,),
        )
        return AgentSummary(**rows[0]) if rows else None


    # The hash chain (the ChainIndex port) -----------------------------------------------------
    def chain_links(self, wanted: Mapping[UUID, int]) -> dict[UUID, bytes]:
        if not wanted:
            return {}
        rows = self._fetch(
            SQL("SELECT v.originator_id AS id, v.link FROM {} v JOIN unnest(%b::{}[], "
                "%b::bigint[]) AS w(id, version) ON v.originator_id = w.id "
                "AND v.originator_version = w.version WHERE v.link IS NOT NULL").format(
                self.versions_table, Identifier(self.datastore.originator_id_type)),
            (self._ids(list(wanted)), int8_array(list(wanted.values()))),
        )
        return {r["id"]: bytes(r["link"]) for r in rows}

    def chain_heads(self, agent_ids: list[str] | None = None) -> list[ChainHead]:
        select = "SELECT agent_id, originator_id, version, chain_head FROM {}"
        if agent_ids is None:
            rows = self._fetch(SQL(select + " ORDER BY agent_id").format(self.agents_table), ())
        else:
            rows = self._fetch(SQL(select + " WHERE agent_id = ANY(%s) ORDER BY agent_id"
                                   ).format(self.agents_table), (list(agent_ids),))
        return [ChainHead(r["agent_id"], r["originator_id"], r["version"],
                          bytes(r["chain_head"]) if r["chain_head"] is not None else None)
                for r in rows]

    def chain_rows(self, originator_id: UUID) -> Iterator[ChainRow]:
        rows = self._fetch(
            SQL("SELECT coalesce(e.originator_version, v.originator_version) AS version, "
                "e.topic, e.state, v.link FROM (SELECT * FROM {e} WHERE originator_id = %s) e "
                "FULL JOIN (SELECT * FROM {v} WHERE originator_id = %s) v "
                "ON v.originator_version = e.originator_version ORDER BY 1").format(
                e=SQL("{}.{}").format(Identifier(self.datastore.schema),
                                      Identifier(self.events_table_name)),
                v=self.versions_table),
            (originator_id, originator_id),
        )
        for r in rows:
            yield ChainRow(r["version"], r["topic"],
                           bytes(r["state"]) if r["state"] is not None else None,
                           bytes(r["link"]) if r["link"] is not None else None)
