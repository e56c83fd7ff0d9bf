"""Our recorders against the eventsourcing library's own recorder test cases, on real databases.

The library's cases (eventsourcing.tests.persistence) are subclassed here the way its own suite
subclasses them for SQLite and PostgreSQL (tests/persistence_tests/test_sqlite.py and
test_postgres.py), set up by tests/recorder_setup.py: in-memory and file SQLite, and PostgreSQL
in a fresh schema per test. Below them, checks that our side tables are written in the events'
transaction.

`AggregateRecorderTestCase` does not fit: it expects `insert_events` to return None, as only an
aggregate recorder does (the library runs it against its aggregate recorders only); ours are
application recorders, which return notification ids. Snapshots use the library's own aggregate
recorder unchanged.
"""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, ProgrammingError, StoredEvent
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)
from recorder_setup import (
    ConcurrentCases,
    MemoryRecorderSetup,
    PostgresRecorderSetup,
    SQLiteFileSetup,
    SQLiteRecorderSetup,
    TextOriginatorIds,
)

from ctxstore.application.ports import AgentRow, EventIndexRow
from ctxstore.infrastructure.persistence.memory import MemoryStoreRecorder
from ctxstore.infrastructure.persistence.postgres import (
    PostgresIndexedEventRecorder,
    PostgresSnapshotRecorder,
)
from ctxstore.infrastructure.persistence.sqlite import SQLiteIndexedEventRecorder

# SQLite ---------------------------------------------------------------------------------------


class SQLiteSetup(SQLiteRecorderSetup):
    recorder_class = SQLiteIndexedEventRecorder


class TestSQLiteIndexedEventRecorder(ConcurrentCases, SQLiteSetup, ApplicationRecorderTestCase):
    def test_concurrent_no_conflicts_in_memory_db(self) -> None:
        self.db_uri = f"file:{uuid4().hex}?mode=memory&cache=shared"
        ApplicationRecorderTestCase.test_concurrent_no_conflicts(self)

    def test_concurrent_throughput_in_memory_db(self) -> None:
        self.db_uri = f"file:{uuid4().hex}?mode=memory&cache=shared"
        ApplicationRecorderTestCase.test_concurrent_throughput(self)


class TestSQLiteIndexedEventRecorderFile(ConcurrentCases, SQLiteFileSetup,
                                    ApplicationRecorderTestCase):
    recorder_class = SQLiteIndexedEventRecorder


class TestSQLiteIndexedEventRecorderTextIDs(TextOriginatorIds, ConcurrentCases, SQLiteSetup,
                                       ApplicationRecorderTestCase):
    pass


class TestSQLiteNonInterleaving(SQLiteFileSetup, NonInterleavingNotificationIDsBaseCase):
    recorder_class = SQLiteIndexedEventRecorder


# PostgreSQL -----------------------------------------------------------------------------------


class PostgresSetup(PostgresRecorderSetup):
    recorder_class = PostgresIndexedEventRecorder


class TestPostgresIndexedEventRecorder(ConcurrentCases, PostgresSetup, ApplicationRecorderTestCase):
    def test_insert_subscribe(self) -> None:
        self.resize_pool(2)
        super().optional_test_insert_subscribe()


class TestPostgresIndexedEventRecorderTextIDs(TextOriginatorIds, ConcurrentCases, PostgresSetup,
                                         ApplicationRecorderTestCase):
    pass


class TestPostgresIndexedEventRecorderDbFunctions(ConcurrentCases, PostgresSetup,
                                             ApplicationRecorderTestCase):
    enable_db_functions = True


class TestPostgresSnapshotRecorder(PostgresSetup, AggregateRecorderTestCase):
    recorder_class = PostgresSnapshotRecorder


class TestPostgresSnapshotRecorderTextIDs(TextOriginatorIds, PostgresSetup,
                                          AggregateRecorderTestCase):
    recorder_class = PostgresSnapshotRecorder


class TestPostgresNonInterleaving(PostgresSetup, NonInterleavingNotificationIDsBaseCase):
    def setUp(self) -> None:
        super().setUp()
        self.resize_pool(2)


class TestPostgresLongTableName(PostgresSetup):
    def test_side_table_names_too_long_raise(self) -> None:
        # The library refuses an events table name over 63 bytes rather than let PostgreSQL
        # truncate it; the side tables' names follow the same rule.
        with pytest.raises(ProgrammingError):
            PostgresIndexedEventRecorder(self.datastore, events_table_name="s" * 55 + "_events")


# Side tables in the events' transaction -------------------------------------------------------


def _events(originator_id: UUID, versions: range) -> list[StoredEvent]:
    return [StoredEvent(originator_id, v, "topic", b"state") for v in versions]


def _rows(originator_id: UUID, versions: range, prefix: str) -> list[EventIndexRow]:
    return [EventIndexRow(f"{prefix}-{v}", originator_id, v, 1_000_000 * v) for v in versions]


def _agent(originator_id: UUID, version: int) -> AgentRow:
    return AgentRow(f"agent-{originator_id.hex[:8]}", originator_id, version, 1, version, "local")


class SideTablesCases:
    """Shared by both backends: what commits together and what does not."""

    def create_recorder(self) -> (SQLiteIndexedEventRecorder | PostgresIndexedEventRecorder
                                  | MemoryStoreRecorder):
        raise NotImplementedError

    def test_side_rows_written_with_events(self) -> None:
        recorder = self.create_recorder()
        oid = uuid4()
        recorder.insert_events(_events(oid, range(1, 4)), index_rows=_rows(oid, range(1, 4), "a"),
                               agent_rows=[_agent(oid, 3)])
        known = recorder.known_event_ids(["a-1", "a-2", "a-3", "missing"])
        assert known == {"a-1": (oid, 1), "a-2": (oid, 2), "a-3": (oid, 3)}
        assert recorder.timestamps(oid, [1, 2, 3]) == {1: 1_000_000, 2: 2_000_000, 3: 3_000_000}
        assert recorder.version_at(oid, 2_500_000) == 2
        assert recorder.version_at(oid, 999_999) == 0
        summary = recorder.agent(f"agent-{oid.hex[:8]}")
        assert summary is not None and summary.version == 3

    def test_events_without_side_rows(self) -> None:
        recorder = self.create_recorder()
        oid = uuid4()
        ids = recorder.insert_events(_events(oid, range(1, 3)))
        assert ids is not None and len(ids) == 2
        assert len(recorder.select_events(oid)) == 2
        assert recorder.timestamps(oid, [1, 2]) == {}

    def test_duplicate_version_leaves_no_side_rows(self) -> None:
        recorder = self.create_recorder()
        oid = uuid4()
        recorder.insert_events(_events(oid, range(1, 2)), index_rows=_rows(oid, range(1, 2), "a"))
        with pytest.raises(IntegrityError):
            # Version 1 again, with versions 2 and 3 and their new index rows.
            recorder.insert_events(_events(oid, range(1, 4)),
                                   index_rows=_rows(oid, range(1, 4), "b"),
                                   agent_rows=[_agent(oid, 3)])
        assert recorder.known_event_ids(["b-1", "b-2", "b-3"]) == {}
        assert recorder.timestamps(oid, [2, 3]) == {}
        assert recorder.agent(f"agent-{oid.hex[:8]}") is None
        assert [e.originator_version for e in recorder.select_events(oid)] == [1]

    def test_duplicate_event_id_fails_whole_insert(self) -> None:
        recorder = self.create_recorder()
        first, second = uuid4(), uuid4()
        recorder.insert_events(_events(first, range(1, 2)),
                               index_rows=_rows(first, range(1, 2), "a"))
        max_id = recorder.max_notification_id()
        rows = _rows(second, range(1, 3), "b")
        rows[1] = EventIndexRow("a-1", second, 2, 2)  # already recorded for `first`
        with pytest.raises(IntegrityError):
            recorder.insert_events(_events(second, range(1, 3)), index_rows=rows,
                                   agent_rows=[_agent(second, 2)])
        assert recorder.select_events(second) == []
        assert recorder.known_event_ids(["a-1", "b-1"]) == {"a-1": (first, 1)}
        assert recorder.timestamps(second, [1, 2]) == {}
        assert recorder.agent(f"agent-{second.hex[:8]}") is None
        assert recorder.max_notification_id() == max_id
        # And the recorder still works afterwards.
        recorder.insert_events(_events(second, range(1, 2)),
                               index_rows=_rows(second, range(1, 2), "c"))
        assert recorder.known_event_ids(["c-1"]) == {"c-1": (second, 1)}

    def test_event_ids_are_per_tenant(self) -> None:
        recorder = self.create_recorder()
        mine, theirs = uuid4(), uuid4()
        recorder.insert_events(_events(mine, range(1, 2)), index_rows=_rows(mine, range(1, 2), "e"))
        # The same event id for another tenant is a new row, not a conflict...
        recorder.insert_events(_events(theirs, range(1, 3)), index_rows=[
            EventIndexRow("e-1", theirs, 1, 1, "t-b"), EventIndexRow("e-2", theirs, 2, 2, "t-b")])
        # ...and each tenant sees its own only.
        assert recorder.known_event_ids(["e-1", "e-2"]) == {"e-1": (mine, 1)}
        assert recorder.known_event_ids(["e-1", "e-2"], "t-b") == {"e-1": (theirs, 1),
                                                                   "e-2": (theirs, 2)}
        assert recorder.known_event_ids(["e-1"], "t-c") == {}
        with pytest.raises(IntegrityError):  # within a tenant an id is recorded once
            recorder.insert_events(_events(theirs, range(3, 4)),
                                   index_rows=[EventIndexRow("e-2", theirs, 3, 3, "t-b")])

    def test_agent_catalogue_keeps_highest_version(self) -> None:
        recorder = self.create_recorder()
        oid = uuid4()
        recorder.insert_events(_events(oid, range(1, 3)), agent_rows=[_agent(oid, 2)])
        recorder.insert_events(_events(oid, range(3, 4)), agent_rows=[_agent(oid, 3)])
        summaries = recorder.agents()
        assert [(s.agent_id, s.version) for s in summaries] == [(f"agent-{oid.hex[:8]}", 3)]
        assert recorder.agents("other") == []
        name = f"agent-{oid.hex[:8]}"
        assert recorder.owners([name, "never-written"]) == {name: "local"}
        assert recorder.owners([]) == {}


class TestSQLiteSideTablesMemory(SQLiteSetup, SideTablesCases):
    pass


class TestSQLiteSideTablesFile(SQLiteFileSetup, SideTablesCases):
    recorder_class = SQLiteIndexedEventRecorder


class TestPostgresSideTables(PostgresSetup, SideTablesCases):
    pass


class TestPostgresSideTablesDbFunctions(PostgresSetup, SideTablesCases):
    enable_db_functions = True


class TestMemorySideTables(MemoryRecorderSetup, SideTablesCases):
    recorder_class = MemoryStoreRecorder
