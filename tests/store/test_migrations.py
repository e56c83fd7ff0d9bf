"""The schema version and its migrations (infrastructure.persistence.migrations).

A store made by release 0e47313 (tests/store/release_0e47313, made by its make_store.py with
that release) has no schema version. The embedded store is migrated when it is opened; a
PostgreSQL schema is refused with one line until `ctxstore migrate` runs. Either way it then
answers what that release answered (its content hashes now in the tree scheme, the release's
`sha256:` ones verifying the same content), and its checkpoints restore. A store newer than the code
is refused with one line, by the server's start-up and by every command.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from support import make_settings

from ctxstore.domain.pages import hash_like
from ctxstore.infrastructure.bootstrap import bootstrap, build_store, store_schema
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.persistence.migrations import LATEST, SchemaError
from ctxstore.infrastructure.persistence.migrations.schema import VERSION_TABLE
from ctxstore.infrastructure.settings import Settings

RELEASE = Path(__file__).resolve().parent / "release_0e47313"
KEYS = "key-a:tenant-a,key-b:tenant-b"
CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))
# What the release wrote of each package that no later change of the list's shape touches.
PACKAGE_FIELDS = ("package_id", "agent_id", "version", "label", "access_level",
                  "integrity_hash", "original_size_bytes", "compressed_size_bytes",
                  "message_count", "memory_count", "tool_invocation_count")


def release_store(backend: str, tmp: Path, dsn: str) -> Settings:
    """A copy of the release's store, as these settings open it."""
    settings = make_settings(backend, tmp, dsn, api_keys=KEYS, checkpoint_interval_minutes=0)
    if backend == "sqlite":
        settings.storage_path.mkdir(parents=True)
        shutil.copy(RELEASE / "store.sqlite", settings.sqlite_file)
        return settings
    schema = settings.database_schema
    lines = (RELEASE / "store.postgres.sql").read_text().splitlines()
    script = "\n".join(line for line in lines if not line.startswith("\\")
                       and line != "CREATE SCHEMA release_0e47313;")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(script.replace("release_0e47313.", f'"{schema}".'))  # type: ignore[arg-type]
    return settings


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": settings.storage_backend,
           "CONTEXT_STORAGE_PATH": str(settings.storage_path),
           "CONTEXT_DATABASE_URL": settings.database_url,
           "CONTEXT_DATABASE_SCHEMA": settings.database_schema, "COLUMNS": "200"}
    return subprocess.run([CTXSTORE, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def versions(settings: Settings) -> list[int]:
    """The migrations the store's version table records."""
    if settings.storage_backend == "sqlite":
        with sqlite3.connect(settings.sqlite_file) as conn:
            rows = conn.execute(f"SELECT version FROM {VERSION_TABLE} ORDER BY 1").fetchall()
    else:
        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute(f'SELECT version FROM "{settings.database_schema}".'  # type: ignore[arg-type]
                                f"{VERSION_TABLE} ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def reads_as_the_release_did(settings: Settings) -> None:
    expected: dict[str, Any] = json.loads(
        (RELEASE / f"expected.{settings.storage_backend}.json").read_text())
    with TestClient(create_app(bootstrap(settings))) as c:
        for key, answers in expected.items():
            h = {"X-API-Key": key}
            assert c.get("/api/v1/agents", headers=h).json() == answers["agents"]
            for agent, state in answers["contexts"].items():
                read = c.get(f"/api/v1/agents/{agent}/context", headers=h).json()
                # The hash is now of the tree scheme (domain.pages); the release's `sha256:`
                # one still verifies the same content.
                assert read["content_hash"].startswith("sha256-tree1:")
                assert hash_like(read, state["content_hash"]) == state["content_hash"]
                assert {**read, "content_hash": state["content_hash"]} == state
            listed = c.get("/api/v1/context/packages", headers=h).json()
            got = {p["package_id"]: p for p in listed["items"]}
            assert len(got) == len(answers["packages"]["items"]) > 0
            for package in answers["packages"]["items"]:
                mine = got[package["package_id"]]
                assert {f: mine[f] for f in PACKAGE_FIELDS} == {
                    f: package[f] for f in PACKAGE_FIELDS}
                # Its body reads back: restored into a new agent, it has the same content.
                target = f"restored-{package['package_id'][-8:]}"
                r = c.post(f"/api/v1/context/restore/{package['package_id']}", headers=h,
                           json={"target_agent_id": target,
                                 "validation_level": "comprehensive"})
                assert r.status_code == 200, r.text
                state = c.get(f"/api/v1/agents/{target}/context", headers=h).json()
                assert hash_like(state, package["integrity_hash"]) == package["integrity_hash"]
                assert r.json()["content_hash"] == state["content_hash"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_release_store_is_migrated_and_reads_back(backend: str, tmp_path: Path,
                                                     postgres_dsn: str) -> None:
    settings = release_store(backend, tmp_path, postgres_dsn)
    assert store_schema(settings).status().current == 0
    status = cli(settings, "migrate", "--status")
    assert status.returncode == 0 and f"schema version 0; this ctxstore's is {LATEST}" in (
        status.stdout), status
    if backend == "postgres":
        # A shared schema is not changed by whichever service starts first.
        with pytest.raises(SchemaError, match="run `ctxstore migrate`"):
            build_store(settings)
        refused = cli(settings, "agents")
        assert refused.returncode == 1
        assert refused.stderr.strip().count("\n") == 0, refused.stderr
        assert "has schema version 0, this ctxstore needs" in refused.stderr
        assert "ctxstore migrate" in refused.stderr
        done = cli(settings, "migrate")
        assert done.returncode == 0, done.stderr
        assert f"migrated from schema version 0 to {LATEST}" in done.stdout
    reads_as_the_release_did(settings)  # the embedded store migrates as it opens
    assert versions(settings) == list(range(1, LATEST + 1))
    again = cli(settings, "migrate")
    assert again.returncode == 0 and f"already at schema version {LATEST}" in again.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_new_store_starts_at_the_latest_version(backend: str, tmp_path: Path,
                                                  postgres_dsn: str) -> None:
    settings = make_settings(backend, tmp_path, postgres_dsn)
    assert store_schema(settings).status().current is None
    build_store(settings)
    assert store_schema(settings).status().current == LATEST
    assert versions(settings) == [LATEST]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_store_newer_than_the_code_is_refused(backend: str, tmp_path: Path,
                                               postgres_dsn: str) -> None:
    settings = make_settings(backend, tmp_path, postgres_dsn)
    build_store(settings)
    newer = LATEST + 1
    if backend == "sqlite":
        with sqlite3.connect(settings.sqlite_file) as conn:
            conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES (?, 'from the future', '', NULL)",
                         (newer,))
    else:
        with psycopg.connect(settings.database_url) as conn:
            conn.execute(f'INSERT INTO "{settings.database_schema}".{VERSION_TABLE} '  # type: ignore[arg-type]
                         "VALUES (%s, 'from the future', '', NULL)", (newer,))
    message = f"has schema version {newer}, newer than this ctxstore knows ({LATEST})"
    with pytest.raises(SchemaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_store(settings)
    for args in (("agents",), ("migrate",)):
        refused = cli(settings, *args)
        assert refused.returncode == 1, refused
        assert message in refused.stderr and "upgrade ctxstore" in refused.stderr
        assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert versions(settings)[-1] == newer  # nothing was written


def test_an_embedded_store_is_in_wal_mode_before_its_own_connections_open_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers starting together on a new file each had eventsourcing switch it to WAL, and
    SQLite may refuse that switch at once ("database is locked", when waiting could
    deadlock). The schema check puts the file in WAL mode first, asking again while refused:
    here a connection that never waits (timeout 0) is refused while another reads the file,
    and succeeds once the reader lets go."""
    from ctxstore.infrastructure.persistence.migrations import schema as schema_module

    path = tmp_path / "new.sqlite"
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("CREATE TABLE held (x INTEGER)")
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM held").fetchall()  # a read lock, kept
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        reader.execute("COMMIT")  # the reader lets go once the switch was refused

    monkeypatch.setattr(schema_module.time, "sleep", wait)
    impatient = sqlite3.connect(path, timeout=0, isolation_level=None)
    schema_module._write_ahead_log(impatient)
    assert waits == [0.01]  # refused once while the reader read, then switched
    assert impatient.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    impatient.close()
    reader.close()

    # A new store's check leaves its file in WAL mode, before any connection of the store.
    settings = Settings(storage_backend="sqlite", storage_path=tmp_path / "store")
    store_schema(settings).prepare()
    check = sqlite3.connect(settings.sqlite_file)
    assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    check.close()
