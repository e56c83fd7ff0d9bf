"""The package recorders (what bootstrap now uses) still pass the eventsourcing library's own
application recorder test cases, and write package rows atomically with their event; so does
the in-memory recorder the application's tests can run on."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.tests.persistence import ApplicationRecorderTestCase
from recorder_setup import (
    ConcurrentCases,
    MemoryRecorderSetup,
    PostgresRecorderSetup,
    SQLiteFileSetup,
)

from ctxstore.application.package_port import PackageRecorder, PackageRow
from ctxstore.infrastructure.persistence.memory import MemoryStoreRecorder
from ctxstore.infrastructure.persistence.packages_postgres import PostgresStoreRecorder
from ctxstore.infrastructure.persistence.packages_sqlite import SQLiteStoreRecorder


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
        # Package ids are per tenant: another tenant's p3 and p9 are rows of their own...
        theirs = [PackageRow("p3", "t-b/agent", 1, None, 10, b"m3", b"b3", tenant="t-b"),
                  PackageRow("p9", "t-b/agent", 1, None, 11, b"m9", b"b9", tenant="t-b")]
        for package in theirs:
            recorder.insert_package(package)
        assert recorder.select_package("p9", tenant="t-b") == theirs[1]
        assert recorder.select_package("p9") == imported
        assert recorder.select_package("p1", tenant="t-b") is None
        assert [(r.tenant, r.meta) for r in recorder.select_package_rows("p3")] == [
            ("local", b"meta"), ("t-b", b"m3")]
        # ...which survive the prune of the captured p3 of the local tenant's agent.
        recorder.insert_events(  # type: ignore[attr-defined]
            [event(4)], package_rows=[], pruned_package_ids=["p3"])
        assert [r.tenant for r in recorder.select_package_rows("p3")] == ["t-b"]


class TestMemoryStoreRecorder(ConcurrentCases, MemoryRecorderSetup,
                              ApplicationRecorderTestCase, PackageRowChecks):
    recorder_class = MemoryStoreRecorder


class TestSQLiteStoreRecorder(ConcurrentCases, SQLiteFileSetup,
                                ApplicationRecorderTestCase, PackageRowChecks):
    recorder_class = SQLiteStoreRecorder


class TestPostgresStoreRecorder(ConcurrentCases, PostgresRecorderSetup,
                                  ApplicationRecorderTestCase, PackageRowChecks):
    recorder_class = PostgresStoreRecorder

    def test_insert_subscribe(self) -> None:
        self.resize_pool(2)
        super().optional_test_insert_subscribe()
