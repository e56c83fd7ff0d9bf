"""Setting up our recorders for the eventsourcing library's own recorder test cases.

Shared by every test module that runs those cases (the context recorders, the package
recorders): SQLite in memory or in a file, and PostgreSQL in a fresh schema per test (the
library's `drop_tables` helper targets its own `eventsourcing` database, so a schema of our own
gives the same clean start without touching anything else). A test class names its recorder
in `recorder_class`. The in-memory recorders (infrastructure.persistence.memory) run the same
cases, with nothing to set up.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from typing import Any, ClassVar, Literal
from unittest import TestCase
from urllib.parse import unquote, urlsplit
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from devtools.services import libpq_dsn


class MemoryRecorderSetup(TestCase):
    """A new in-memory recorder per `create_recorder`; threads share it as they are."""

    recorder_class: ClassVar[type[Any]]

    def create_recorder(self) -> Any:
        return self.recorder_class()

    def prepare_concurrency(self, connections: int) -> None:
        """One lock guards the recorder: any number of threads may use it."""


class SQLiteRecorderSetup(TestCase):
    """In memory unless a test sets `db_uri` (e.g. to `file_uri()`, for a file that goes)."""

    recorder_class: ClassVar[type[Any]]
    db_uri = ":memory:"
    originator_id_type: Literal["uuid", "text"] = "uuid"

    def setUp(self) -> None:
        super().setUp()
        self.tmp_dir = tempfile.mkdtemp(prefix="ctx_recorder_")

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        super().tearDown()

    def file_uri(self) -> str:
        return f"file:{self.tmp_dir}/{uuid4().hex}.sqlite"

    def prepare_concurrency(self, connections: int) -> None:
        """Threads on ":memory:" would each get a database of their own: use a file."""
        if self.db_uri == ":memory:":
            self.db_uri = self.file_uri()

    def create_recorder(self) -> Any:
        recorder = self.recorder_class(SQLiteDatastore(
            db_name=self.db_uri, pool_size=100, originator_id_type=self.originator_id_type))
        recorder.create_table()
        return recorder


class SQLiteFileSetup(SQLiteRecorderSetup):
    def setUp(self) -> None:
        super().setUp()
        self.db_uri = self.file_uri()


class PostgresRecorderSetup(TestCase):
    """Like the library's SetupPostgresDatastore, in a fresh schema dropped after the test."""

    recorder_class: ClassVar[type[Any]]
    pool_size = 1
    max_overflow = 0
    max_waiting = 0
    originator_id_type: Literal["uuid", "text"] = "uuid"
    enable_db_functions = False
    events_table_name = "ctx_events"
    dsn: str

    @pytest.fixture(autouse=True)
    def _postgres(self, postgres_dsn: str) -> None:
        type(self).dsn = libpq_dsn(postgres_dsn)

    def setUp(self) -> None:
        super().setUp()
        self.schema = f"rc_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        url = urlsplit(self.dsn)
        self.datastore = PostgresDatastore(
            unquote(url.path.lstrip("/")) or "postgres",
            url.hostname or "127.0.0.1",
            str(url.port or 5432),
            unquote(url.username or "postgres"),
            unquote(url.password or ""),
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            max_waiting=self.max_waiting,
            schema=self.schema,
            originator_id_type=self.originator_id_type,
            enable_db_functions=self.enable_db_functions,
        )

    def tearDown(self) -> None:
        self.datastore.close()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        super().tearDown()

    def create_recorder(self) -> Any:
        recorder = self.recorder_class(self.datastore, events_table_name=self.events_table_name)
        recorder.create_table()
        return recorder

    def resize_pool(self, size: int) -> None:
        """For the cases that need more than one connection."""
        self.datastore.pool.open()
        self.datastore.pool.resize(size, size)

    def prepare_concurrency(self, connections: int) -> None:
        self.resize_pool(connections)


class ConcurrentCases:
    """Mixed in before the library's ApplicationRecorderTestCase: its two concurrency cases
    (many writer threads, readers alongside; neither asserts anything about time) run for real,
    on a database that many threads can share (`prepare_concurrency`: a file for SQLite, a pool
    of connections for PostgreSQL). Each recorder production uses runs them, side tables and
    all, with both kinds of originator id."""

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.prepare_concurrency(12)  # type: ignore[attr-defined]  # 10 writers, 2 readers
        super().test_concurrent_no_conflicts(initial_position)  # type: ignore[misc]

    def test_concurrent_throughput(self) -> None:
        self.prepare_concurrency(10)  # type: ignore[attr-defined]
        super().test_concurrent_throughput()  # type: ignore[misc]


class TextOriginatorIds:
    """Mixed in first: the same cases with text originator ids instead of UUIDs."""

    originator_id_type: Literal["uuid", "text"] = "text"

    def new_originator_id(self) -> UUID | str:
        return "test-" + str(uuid4())
