"""The seed plan's metrics: capture and restore times (automatic captures too), compression
ratios, sizes, restores attempted / succeeded / failed / rejected with the success rate, on
`/metrics` and `GET /api/v1/context/metrics/summary`, counted from the store: another process's
operations add to the same figures, and a tenant sees only its own.

Real HTTP (FastAPI's TestClient over the app the composition root builds), SQLite and
PostgreSQL, a real agent trace, and the installed `ctxstore` command as the second process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from support import make_settings
from test_http_ratio import record_trace

from ctxstore.application.errors import (
    AgentNotFound,
    CorruptedCheckpoint,
    InvalidRequest,
    PackageTooLarge,
    WriteConflict,
)
from ctxstore.application.operation_log import outcome_of
from ctxstore.domain.agent_id import InvalidAgentId
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.persistence.dsn import libpq_dsn
from ctxstore.infrastructure.settings import Settings

SUMMARY = "/api/v1/context/metrics/summary"
CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))
KEYS = "key-a:tenant-a,key-b:tenant-b"


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn, checkpoint_interval_minutes=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(bootstrap(settings))) as c:
        yield c


def services_of(c: TestClient) -> Services:
    services: Services = c.app.state.api.services  # type: ignore[attr-defined]
    return services


def corrupt_package_body(settings: Settings, package_id: str) -> None:
    """Flip a byte of a stored checkpoint body, as damage on disk would."""
    if settings.storage_backend == "sqlite":
        with sqlite3.connect(settings.sqlite_file) as lite:
            (body,) = lite.execute("SELECT body FROM stored_packages WHERE package_id = ?",
                                   (package_id,)).fetchone()
            lite.execute("UPDATE stored_packages SET body = ? WHERE package_id = ?",
                         (body[:-6] + bytes([body[-6] ^ 0x55]) + body[-5:], package_id))
        return
    table = f'"{settings.database_schema}"."ctxstore_packages"'
    with psycopg.connect(libpq_dsn(settings.database_url), autocommit=True) as conn:
        row = conn.execute(f"SELECT body FROM {table} WHERE package_id = %s",  # type: ignore
                           (package_id,)).fetchone()
        assert row is not None
        body = bytes(row[0])
        conn.execute(f"UPDATE {table} SET body = %s WHERE package_id = %s",  # type: ignore
                     (body[:-6] + bytes([body[-6] ^ 0x55]) + body[-5:], package_id))


def prometheus(c: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]],
                                                     float]:
    r = c.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_empty_store_has_nothing_to_average(client: TestClient) -> None:
    summary = client.get(SUMMARY).json()
    assert summary["avg_capture_time_ms"] is None and summary["avg_compression_ratio"] is None
    assert summary["avg_restoration_time_ms"] is None
    assert summary["restore_success_rate"] is None
    assert summary["total_storage_saved_bytes"] == 0
    assert summary["restores"] == {"attempted": 0, "succeeded": 0, "failed": 0,
                                   "rejected": 0, "success_rate": None}


def test_every_outcome_counted_with_the_plans_figures(client: TestClient,
                                                      settings: Settings) -> None:
    agent = record_trace(client)
    first = client.post(f"/api/v1/context/capture/{agent}").json()
    # A restore that works, one the client got wrong (404), one the store fails (409).
    ok = client.post(f"/api/v1/context/restore/{first['package_id']}",
                     json={"target_agent_id": "fork-1"})
    assert ok.status_code == 200, ok.text
    wrong = client.post("/api/v1/agents/fork-2/restore",
                        json={"source_agent_id": agent, "version": 10_000})
    assert wrong.status_code == 404, wrong.text
    corrupt_package_body(settings, first["package_id"])
    damaged = client.post(f"/api/v1/context/restore/{first['package_id']}",
                          json={"target_agent_id": "fork-3"})
    assert damaged.status_code == 409, damaged.text
    # An automatic round (what the checkpoint runner does every interval): the fork changed.
    report = services_of(client).checkpoints.capture_changed()
    assert [c.agent_id for c in report.captured] == ["fork-1"]
    second = report.captured[0]

    summary = client.get(SUMMARY).json()
    captured = [(first["original_size_bytes"], first["compressed_size_bytes"]),
                (second.original_size_bytes, second.compressed_size_bytes)]
    assert summary["captures"] == {"attempted": 2, "succeeded": 2, "failed": 0, "rejected": 0,
                                   "success_rate": 1.0}
    assert summary["automatic_captures"] == 1
    assert summary["restores"] == {"attempted": 3, "succeeded": 1, "failed": 1, "rejected": 1,
                                   "success_rate": 0.5}
    assert summary["restore_success_rate"] == 0.5
    assert summary["total_original_bytes"] == sum(o for o, _ in captured)
    assert summary["total_compressed_bytes"] == sum(c for _, c in captured)
    assert summary["total_storage_saved_bytes"] == sum(o - c for o, c in captured)
    assert summary["avg_storage_size_bytes"] == sum(c for _, c in captured) / 2
    ratios = [c / o for o, c in captured]
    assert summary["avg_compression_ratio"] == pytest.approx(sum(ratios) / 2, abs=1e-4)
    assert summary["avg_compression_ratio"] < 0.8
    assert summary["avg_space_saving"] == pytest.approx(1 - summary["avg_compression_ratio"])
    assert summary["avg_capture_time_ms"] > 0 and summary["avg_restoration_time_ms"] > 0

    metrics = prometheus(client)

    def gauge(name: str, **labels: str) -> float:
        return metrics[(name, tuple(sorted(labels.items())))]

    assert gauge("ctxstore_operations", operation="restore", outcome="failed",
                 trigger="request") == 1
    assert gauge("ctxstore_operations", operation="restore", outcome="rejected",
                 trigger="request") == 1
    assert gauge("ctxstore_operations", operation="capture", outcome="succeeded",
                 trigger="automatic") == 1
    assert gauge("ctxstore_operations", operation="capture", outcome="succeeded",
                 trigger="request") == 1
    assert gauge("ctxstore_operation_duration_ms_sum", operation="capture",
                 outcome="succeeded", trigger="automatic") > 0
    assert gauge("ctxstore_restore_success_rate") == 0.5
    assert gauge("ctxstore_checkpoint_bytes", kind="saved") == summary[
        "total_storage_saved_bytes"]
    assert gauge("ctxstore_checkpoint_compression_ratio") == summary["avg_compression_ratio"]


def cli_environment(settings: Settings) -> dict[str, str]:
    return {**os.environ, "CONTEXT_STORAGE_BACKEND": settings.storage_backend,
            "CONTEXT_STORAGE_PATH": str(settings.storage_path),
            "CONTEXT_DATABASE_URL": settings.database_url,
            "CONTEXT_DATABASE_SCHEMA": settings.database_schema,
            "CONTEXT_CHECKPOINT_INTERVAL_MINUTES": "0"}


def ctxstore(settings: Settings, *args: str) -> dict[str, Any]:
    proc = subprocess.run([CTXSTORE, *args, "--json"], env=cli_environment(settings),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def test_another_process_adds_to_the_same_figures(client: TestClient,
                                                  settings: Settings) -> None:
    agent = record_trace(client)
    mine = client.post(f"/api/v1/context/capture/{agent}").json()
    # The other process: the installed command, with its own connections to the same store.
    theirs = ctxstore(settings, "checkpoint", agent, "--label", "from the CLI")
    restored = ctxstore(settings, "restore", agent, "--checkpoint", theirs["package_id"],
                        "--into", "cli-fork")
    assert restored["target_agent_id"] == "cli-fork"
    summary = client.get(SUMMARY).json()
    assert summary["captures"]["succeeded"] == 2
    assert summary["restores"]["succeeded"] == 1
    sizes = [(mine["original_size_bytes"], mine["compressed_size_bytes"]),
             (theirs["original_size_bytes"], theirs["compressed_size_bytes"])]
    assert summary["total_storage_saved_bytes"] == sum(o - c for o, c in sizes)
    # And a second server process (a fresh app over the same store) answers the same.
    with TestClient(create_app(bootstrap(settings))) as other:
        assert other.get(SUMMARY).json() == summary


def test_tenants_see_only_their_own(settings: Settings) -> None:
    keyed = settings.model_copy(update={"api_keys": KEYS})
    with TestClient(create_app(bootstrap(keyed))) as c:
        a, b = {"X-API-Key": "key-a"}, {"X-API-Key": "key-b"}
        c.headers.update(a)
        agent = record_trace(c)
        cp = c.post(f"/api/v1/context/capture/{agent}").json()
        assert c.post(f"/api/v1/context/restore/{cp['package_id']}",
                      json={"target_agent_id": "a-fork"}).status_code == 200
        c.headers.clear()
        mine = c.get(SUMMARY, headers=a).json()
        assert mine["captures"]["succeeded"] == 1 and mine["restores"]["succeeded"] == 1
        assert mine["total_storage_saved_bytes"] > 0
        other = c.get(SUMMARY, headers=b).json()
        assert other["captures"]["attempted"] == 0 and other["restores"]["attempted"] == 0
        assert other["total_storage_saved_bytes"] == 0
        assert other["avg_compression_ratio"] is None
        assert c.get(SUMMARY).status_code == 401


@pytest.mark.parametrize(("error", "outcome"), [
    (CorruptedCheckpoint("altered"), "failed"),
    (WriteConflict("kept changing"), "failed"),
    (psycopg.OperationalError("connection lost"), "failed"),
    (AgentNotFound("nobody"), "rejected"),
    (PackageTooLarge("too big"), "rejected"),
    (InvalidRequest("merge_strategy: no"), "rejected"),
    (InvalidAgentId("agent_id 'a b'"), "rejected"),
])
def test_failures_are_the_stores_and_rejections_the_clients(error: Exception,
                                                            outcome: str) -> None:
    assert outcome_of(error) == outcome
