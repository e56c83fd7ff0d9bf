"""Makes `store.sqlite`, `store.postgres.sql` and `expected.<backend>.json`: a store written
by the last release without a schema version (commit 0e47313), and what that release answered.

Kept to show how the fixture was made; it was run once with that release's code, from the
repository root: `python tests/store/release_0e47313/make_store.py`. Re-running it with newer
code would make a store of the newer schema, which is not what the migration test needs.

The store holds two tenants (API keys), events of three agents with memories and a tool call,
and checkpoints of each access level, so the migrations meet every table with rows in it.
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
SCHEMA = "release_0e47313"
AGENTS = {"key-a": ["support-bot-1", "planner"], "key-b": ["triage"]}
SYSTEM = "You are a careful support agent. Answer briefly and cite the ticket number."


def envelopes(agent: str, key: str) -> list[dict[str, Any]]:
    base = {"agent_id": agent, "session_id": "s1"}
    return [
        {**base, "event_id": f"{agent}-e1", "type": "message",
         "occurred_at": "2026-01-01T10:00:00+00:00",
         "data": {"role": "system", "content": SYSTEM}},
        {**base, "event_id": f"{agent}-e2", "type": "message",
         "occurred_at": "2026-01-02T10:00:00+00:00",
         "data": {"role": "user", "content": f"{key} {agent}: my order 1234 is late"}},
        {**base, "event_id": f"{agent}-e3", "type": "memory_stored",
         "occurred_at": "2026-01-03T10:00:00+00:00",
         "data": {"memory_id": "m1", "kind": "semantic", "content": f"{agent} handles orders"}},
        {**base, "event_id": f"{agent}-e4", "type": "tool_call",
         "occurred_at": "2026-01-04T10:00:00+00:00",
         "data": {"call_id": "c1", "tool": "lookup_order", "arguments": {"order": 1234}}},
        {**base, "event_id": f"{agent}-e4b", "type": "tool_result",
         "occurred_at": "2026-01-04T11:00:00+00:00",
         "data": {"call_id": "c1", "output": {"status": "shipping"}}},
        {**base, "event_id": f"{agent}-e5", "type": "message",
         "occurred_at": "2026-01-05T10:00:00+00:00",
         "data": {"role": "assistant", "content": f"{agent}: order 1234 ships tomorrow"}},
    ]


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
        for key, agents in AGENTS.items():
            h = {"X-API-Key": key}
            for agent in agents:
                r = c.post(f"/api/v1/agents/{agent}/events", headers=h,
                           json=envelopes(agent, key))
                assert r.status_code == 201, r.text
                for level in ("private", "public"):
                    r = c.post(f"/api/v1/context/capture/{agent}", headers=h,
                               json={"label": f"{agent} {level}", "access_level": level})
                    assert r.status_code in (200, 201), r.text
        for key, agents in AGENTS.items():
            h = {"X-API-Key": key}
            mine: dict[str, Any] = {
                "agents": c.get("/api/v1/agents", headers=h).json(), "contexts": {},
                "packages": c.get("/api/v1/context/packages", headers=h).json()}
            for agent in agents:
                mine["contexts"][agent] = c.get(f"/api/v1/agents/{agent}/context",
                                                headers=h).json()
            expected[key] = mine
    (HERE / f"expected.{backend}.json").write_text(
        json.dumps(expected, indent=1, sort_keys=True) + "\n")
    if backend == "postgres":
        # Schema and rows as plain SQL; the test loads it into a schema of its own.
        dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "--inserts",
                               f"--schema={SCHEMA}", DSN],
                              check=True, capture_output=True, text=True).stdout
        (HERE / "store.postgres.sql").write_text(dump)
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
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
