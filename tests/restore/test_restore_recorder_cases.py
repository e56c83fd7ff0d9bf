"""The package recorders (what bootstrap now uses) still pass the eventsourcing library's own
application recorder test cases, and write package rows atomically with their event."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from unittest import TestCase
from urllib.parse import unquote, urlsplit
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from application.package_port import PackageRecorder, PackageRow
from infrastructure.persistence.packages_postgres import PostgresPackageRecorder
from infrastructure.persistence.packages_sqlite import SQLitePackageRecorder
from infrastructure.services import libpq_dsn


class PackageRowChecks:
    """Mixed into the TestCase classes below."""

    def create_recorder(self) -> PackageRecorder:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_package_rows_commit_and_prune_with_their_event(self) -> None:
        recorder = self.create_recorder()
        assert isinstance(recorder, PackageRecorder)
        originator = uuid4()

        def event(version: int) -> StoredEvent:
            return StoredEvent(originator, version, "topic", b"state")

        def row(package_id: str, version: int) -> PackageRow:
            return PackageRow(package_id, "agent", version, version + 1, version, b"meta",
                              b"body-" + package_id.encode())

        recorder.insert_events([event(1)], package_rows=[row("p1", 0)])  # type: ignore[attr-defined]
        recorder.insert_events([event(2)], package_rows=[row("p2", 1)])  # type: ignore[attr-defined]
        # A conflicting event rolls its package row and its prune back with it.
        with pytest.raises(IntegrityError):
            recorder.insert_events(  # type: ignore[attr-defined]
                [event(2)], package_rows=[row("p3", 1)], pruned_package_ids=["p1"])
        assert [r.package_id for r in recorder.select_packages("agent")] == ["p1", "p2"]
        recorder.insert_events(  # type: ignore[attr-defined]
            [event(3)], package_rows=[row("p3", 2)], pruned_package_ids=["p1"])
        assert [r.package_id for r in recorder.select_packages()] == ["p2", "p3"]
        assert recorder.select_packages("nobody") == []
        full = recorder.select_package("p3")
        assert full is not None and full.body == b"body-p3" and full.event_version == 3
        listed = recorder.select_package("p3", with_body=False)
        assert listed is not None and listed.body is None and listed.meta == b"meta"
        assert recorder.select_package("p1") is None
        imported = PackageRow("p9", "other", 7, None, 9, b"m", b"b")
        recorder.insert_package(imported)
        assert recorder.select_package("p9") == imported
        with pytest.raises(IntegrityError):
            recorder.insert_package(imported)


class SQLiteSetup(TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.tmp_dir = tempfile.mkdtemp(prefix="ctx_pkg_recorder_")
        self.db_uri = f"file:{self.tmp_dir}/{uuid4().hex}.sqlite"

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        super().tearDown()

    def create_recorder(self) -> SQLitePackageRecorder:
        recorder = SQLitePackageRecorder(SQLiteDatastore(db_name=self.db_uri, pool_size=100))
        recorder.create_table()
        return recorder


class TestSQLitePackageRecorder(SQLiteSetup, ApplicationRecorderTestCase, PackageRowChecks):
    # The library's concurrency cases exercise the parent recorder, unchanged here.
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        pass

    def test_concurrent_throughput(self) -> None:
        pass


class PostgresSetup(TestCase):
    dsn: str

    @pytest.fixture(autouse=True)
    def _postgres(self, postgres_dsn: str) -> None:
        type(self).dsn = libpq_dsn(postgres_dsn)

    def setUp(self) -> None:
        super().setUp()
        self.schema = f"pk_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        url = urlsplit(self.dsn)
        self.datastore = PostgresDatastore(
            unquote(url.path.lstrip("/")) or "postgres", url.hostname or "127.0.0.1",
            str(url.port or 5432), unquote(url.username or "postgres"),
            unquote(url.password or ""), pool_size=2, max_overflow=0, schema=self.schema,
        )

    def tearDown(self) -> None:
        self.datastore.close()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        super().tearDown()

    def create_recorder(self) -> PostgresPackageRecorder:
        recorder = PostgresPackageRecorder(self.datastore, events_table_name="ctx_events")
        recorder.create_table()
        return recorder


class TestPostgresPackageRecorder(PostgresSetup, ApplicationRecorderTestCase, PackageRowChecks):
    def test_insert_subscribe(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(2, 2)
        super().optional_test_insert_subscribe()

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        pass

    def test_concurrent_throughput(self) -> None:
        pass
