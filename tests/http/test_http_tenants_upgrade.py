"""A store written WITH API keys before tenants had namespaces keeps working after.

The fixture (tests/store/legacy_keyed, made by its make_store.py with the release before) holds
two tenants' agents, events and checkpoints, as a SQLite file and as a PostgreSQL dump, and what
that release answered each tenant. Migrated once (migration 1: the embedded store by the server
at start-up, PostgreSQL by `ctxstore migrate`; one log line), it answers the same, still knows
its event ids as duplicates (per tenant), and its agents keep their aggregate ids: the local
tenant, whose keys are plain agent ids, cannot write into them (the store's owner check), and
another tenant's agent of the same id is its own.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from http_support import LiveServer, serve
from support import make_settings

from ctxstore.application.store import ContextStore
from ctxstore.domain.events import parse_envelope
from ctxstore.domain.pages import hash_like
from ctxstore.domain.state import content_hash, content_of
from ctxstore.infrastructure.bootstrap import store_schema
from ctxstore.infrastructure.settings import Settings

LEGACY = Path(__file__).resolve().parents[1] / "store" / "legacy_keyed"
KEYS = "key-a:tenant-a,key-b:tenant-b"


def legacy_settings(backend: str, tmp: Path, dsn: str) -> Settings:
    settings = make_settings(backend, tmp, dsn, api_keys=KEYS, checkpoint_interval_minutes=0)
    if backend == "sqlite":
        settings.storage_path.mkdir(parents=True)
        shutil.copy(LEGACY / "store.sqlite", settings.storage_path / "ctxstore.sqlite")
        return settings
    # The dump's schema becomes this test's; psql's own commands (\restrict) are not SQL.
    schema = settings.database_schema
    lines = (LEGACY / "store.postgres.sql").read_text().splitlines()
    script = "\n".join(line for line in lines if not line.startswith("\\")
                       and line != "CREATE SCHEMA legacy_keyed;")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(script.replace("legacy_keyed.", f'"{schema}".'))  # type: ignore[arg-type]
    return settings


@pytest.fixture(params=["sqlite", "postgres"])
def legacy(request: pytest.FixtureRequest, postgres_dsn: str, tmp_path: Path,
           caplog: pytest.LogCaptureFixture) -> Iterator[tuple[LiveServer, list[str]]]:
    settings = legacy_settings(request.param, tmp_path, postgres_dsn)
    with caplog.at_level(logging.WARNING, logger="ctxstore.upgrade"):
        if request.param == "postgres":  # a shared schema waits for `ctxstore migrate`
            store_schema(settings).migrate()
        for server in serve(settings):
            lines = [r.getMessage() for r in caplog.records if r.name == "ctxstore.upgrade"]
            yield server, lines


def expected(server: LiveServer) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (LEGACY / f"expected.{server.settings.storage_backend}.json").read_text())
    return data


def as_the_release_before(page: dict[str, Any]) -> dict[str, Any]:
    """The package list as the release before wrote it: it had no `shared_with` (none of its
    checkpoints names any tenant, so each is empty now), its `compression_ratio` was
    original ÷ compressed (today's is the seed plan's compressed ÷ original, with
    `space_saving` beside it, read back from the very rows that release wrote), and it had no
    compression target (made before CONTEXT_DEFAULT_COMPRESSION_RATIO: none). Issue 14 added
    the seed's `packages` (the same list as `items`) and each package's `size_bytes` (its
    compressed size) and `parts` (what it holds: a checkpoint of before holds every part);
    issue 17 its `chain_head` (the hash-chain link it was built from: none before chains)."""
    assert page.pop("packages") == page["items"]
    items = []
    for item in page["items"]:
        assert item.pop("shared_with") == []
        assert item.pop("target_compression_ratio") is None
        assert item.pop("target_met") is None
        assert item.pop("size_bytes") == item["compressed_size_bytes"]
        assert item.pop("parts") == ["conversation", "memory", "mcp_state"]
        assert item.pop("chain_head") is None
        original, compressed = item["original_size_bytes"], item["compressed_size_bytes"]
        assert item.pop("compression_ratio") == round(compressed / original, 4) < 1
        assert item.pop("space_saving") == round(1 - compressed / original, 4) > 0
        item["compression_ratio"] = round(original / compressed, 3)
        items.append(item)
    return {**page, "items": items}


def assert_same_state(got: dict[str, Any], recorded: dict[str, Any]) -> None:
    """The state the release read: the same, but for the hash's scheme. A read now reports
    the current scheme; the content still hashes to the recorded value in the old one."""
    got, recorded = dict(got), dict(recorded)
    new, old = got.pop("content_hash"), recorded.pop("content_hash")
    assert got == recorded
    assert new == content_hash(content_of(got)) and new.startswith("sha256-tree1:")
    assert hash_like(content_of(got), old) == old


def test_upgraded_once_and_reads_the_same(legacy: tuple[LiveServer, list[str]],
                                          caplog: pytest.LogCaptureFixture) -> None:
    server, lines = legacy
    assert len(lines) == 1 and "upgraded" in lines[0] and "per-tenant" in lines[0], lines
    for key, answers in expected(server).items():
        with server.client(key) as c:
            assert c.get("/api/v1/agents").json() == answers["agents"]
            for agent, state in answers["contexts"].items():
                assert_same_state(c.get(f"/api/v1/agents/{agent}/context").json(), state)
            packages = c.get("/api/v1/context/packages").json()
            assert as_the_release_before(packages) == answers["packages"]
            for package in answers["packages"]["items"]:
                r = c.get(f"/api/v1/context/packages/{package['package_id']}/export")
                assert r.status_code == 200
    # Started again on the upgraded store: nothing more to do, nothing logged.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ctxstore.upgrade"):
        for again in serve(server.settings):
            with again.client("key-a") as c:
                assert c.get("/api/v1/agents").json() == expected(server)["key-a"]["agents"]
    assert not [r for r in caplog.records if r.name == "ctxstore.upgrade"]


def test_old_event_ids_stay_duplicates_within_their_tenant(
        legacy: tuple[LiveServer, list[str]]) -> None:
    server, _ = legacy
    old = {"event_id": "support-bot-1-e2", "agent_id": "support-bot-1", "type": "message",
           "data": {"role": "user", "content": "again"}}
    with server.client("key-a") as a, server.client("key-b") as b:
        r = a.post("/api/v1/agents/support-bot-1/events", json=old)
        assert r.status_code == 200 and r.json()["outcomes"][0]["version"] == 2, r.text
        # Tenant B never used that id: it is B's to use, on B's own agent of that name.
        r = b.post("/api/v1/agents/support-bot-1/events", json=old)
        assert r.status_code == 201 and r.json()["version"] == 1, r.text
        r = b.post("/api/v1/agents/triage/events", json={**old, "event_id": "triage-e1",
                                                         "agent_id": "triage"})
        assert r.status_code == 200 and r.json()["outcomes"][0]["version"] == 1, r.text
        # A's agent goes on where it was, under its old aggregate id.
        new = {**old, "event_id": "support-bot-1-e9"}
        r = a.post("/api/v1/agents/support-bot-1/events", json=new)
        assert r.status_code == 201 and r.json()["version"] == 6, r.text
        state = a.get("/api/v1/agents/support-bot-1/context").json()
        assert [m["content"] for m in state["messages"]][-1] == "again"
        assert len(state["messages"]) == 4


def test_the_local_tenant_cannot_write_into_an_old_keyed_agent(
        legacy: tuple[LiveServer, list[str]]) -> None:
    """Before namespaces, tenant A's `support-bot-1` got the aggregate id every store derives
    from the agent id alone, which is also the local tenant's key for that id (events over
    NATS, the CLI). The store's owner check is all that keeps such a write out of A's agent."""
    server, _ = legacy
    store: ContextStore = server.app.state.api.store
    envelope = parse_envelope({"event_id": "nats-1", "agent_id": "support-bot-1",
                               "type": "message", "data": {"role": "user", "content": "x"}})
    result = store.record([envelope])
    assert [o.status for o in result.outcomes] == ["rejected"]
    assert "another tenant" in (result.outcomes[0].reason or "")
    with server.client("key-a") as a:
        state = a.get("/api/v1/agents/support-bot-1/context").json()
    assert_same_state(state, expected(server)["key-a"]["contexts"]["support-bot-1"])
