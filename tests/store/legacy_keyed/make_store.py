"""Makes `store.sqlite`, `store.postgres.sql` and `expected.<backend>.json`: a store
written WITH API keys by the release before tenant namespaces (main at 6464295), and what
that release answered for each tenant.

Kept to show how the fixture was made; it was run once with that release's code, from the
repository root: `python tests/store/legacy_keyed/make_store.py`. Re-running it with newer code
would make a store of the newer layout, which is not what the upgrade test needs.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from ctxstore.infrastructure.bootstrap import bootstrap  # noqa: E402
from ctxstore.infrastructure.http.app import create_app  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402

KEYS = "key-a:tenant-a,key-b:tenant-b"
DSN = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "legacy_keyed"
AGENTS = {"key-a": ["support-bot-1", "planner"], "key-b": ["triage"]}


def envelope(agent: str, n: int, text: str) -> dict[str, Any]:
    return {"event_id": f"{agent}-e{n}", "agent_id": agent, "type": "message",
            "occurred_at": f"2026-01-0{n}T10:00:00+00:00", "session_id": "s1",
            "data": {"role": "user" if n % 2 else "assistant", "content": text}}


def main(backend: str) -> None:
    tmp = Path(tempfile.mkdtemp())
    if backend == "sqlite":
        settings = Settings(storage_backend="sqlite", storage_path=tmp / "store",
                            api_keys=KEYS, checkpoint_interval_minutes=0)
    else:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.execute(f"CREATE SCHEMA {SCHEMA}")
        settings = Settings(storage_backend="postgres", database_url=DSN,
                            database_schema=SCHEMA, storage_path=tmp / "store",
                            api_keys=KEYS, checkpoint_interval_minutes=0)
    expected: dict[str, Any] = {}
    with TestClient(create_app(bootstrap(settings))) as c:
        packages: dict[str, list[str]] = {}
        for key, agents in AGENTS.items():
            h = {"X-API-Key": key}
            packages[key] = []
            for agent in agents:
                for n in (1, 2, 3):
                    r = c.post(f"/api/v1/agents/{agent}/events", headers=h,
                               json=envelope(agent, n, f"{key} {agent} says {n}"))
                    assert r.status_code == 201, r.text
                for level in ("private", "public"):
                    r = c.post(f"/api/v1/context/capture/{agent}", headers=h,
                               json={"label": f"{agent} {level}", "access_level": level})
                    assert r.status_code in (200, 201), r.text
                    packages[key].append(r.json()["package_id"])
        for key, agents in AGENTS.items():
            h = {"X-API-Key": key}
            mine = {"agents": c.get("/api/v1/agents", headers=h).json(),
                    "contexts": {}, "packages": c.get("/api/v1/context/packages",
                                                      headers=h).json()}
            for agent in agents:
                mine["contexts"][agent] = c.get(f"/api/v1/agents/{agent}/context",
                                                headers=h).json()
            expected[key] = mine
    (HERE / f"expected.{backend}.json").write_text(
        json.dumps(expected, indent=1, sort_keys=True) + "\n")
    if backend == "postgres":
        # Schema and rows as plain SQL; the test loads it into a schema of its own.
        dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "--inserts",
                               f"--schema={SCHEMA}",
                               DSN], check=True, capture_output=True, text=True).stdout
        (HERE / "store.postgres.sql").write_text(dump)
        shutil.rmtree(tmp)
        return
    # The backup API copies what is still in the write-ahead log too, into one file.
    (HERE / "store.sqlite").unlink(missing_ok=True)
    with sqlite3.connect(settings.storage_path / "ctxstore.sqlite") as src, \
            sqlite3.connect(HERE / "store.sqlite") as dst:
        src.backup(dst)
    dst.close()
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main("sqlite")
    main("postgres")
