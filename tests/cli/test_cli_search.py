"""The search commands as a user runs them (typer's runner, settings from the environment), on
SQLite and PostgreSQL: `checkpoints --keyword` (all must match), `memory-search` (a fork finds
what its source finds), `evolution --analysis --time-period`, `search`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from search_support import LETTA, embed
from support import make_settings, run_cli

from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.cli import common
from ctxstore.infrastructure.importers import load_trace


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A store holding the Letta trace with memory embeddings, as the agent `letta`."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    settings = make_settings(request.param, tmp_path, dsn)
    store = build_store(settings)
    envelopes = []
    for e in load_trace(LETTA)[0].envelopes:
        data: dict[str, Any] = e.data.model_dump(exclude_none=True)
        if e.type == "memory_stored":
            data["embedding"] = embed(data["content"])
        envelopes.append(e.model_copy(update={"agent_id": "letta", "data": type(e.data)(**data)}))
    assert not store.record(envelopes).rejected
    store.close()
    common.reset()
    yield {"CONTEXT_STORAGE_BACKEND": settings.storage_backend,
           "CONTEXT_STORAGE_PATH": str(settings.storage_path),
           "CONTEXT_DATABASE_URL": settings.database_url,
           "CONTEXT_DATABASE_SCHEMA": settings.database_schema, "COLUMNS": "200"}
    common.reset()


run = run_cli


def listed(env: dict[str, str], *keywords: str) -> set[str]:
    args = [a for k in keywords for a in ("--keyword", k)]
    return {c["package_id"] for c in json.loads(run(env, "checkpoints", *args, "--json").output)}


def test_checkpoints_by_keywords_all_of_which_must_match(env: dict[str, str]) -> None:
    trace = json.loads(run(env, "checkpoint", "letta", "--label", "convo", "--json").output)
    # Version 1 holds only the persona memory; the user's (with "Himalayas") comes next.
    early = json.loads(run(env, "checkpoint", "letta", "--version", "1", "--label", "convo",
                           "--json").output)
    both = {trace["package_id"], early["package_id"]}
    assert listed(env, "CONVO") == both
    assert listed(env, "convo", "Himalayas") == {trace["package_id"]}
    assert listed(env, "convo", "Himalayas", "no-such-word") == set()
    assert listed(env, "letta") == both  # the agent id
    result = run(env, "checkpoints", "--keyword", " ", ok=False)
    assert result.exit_code != 0 and "keywords.0" in result.output


def test_memory_search_finds_the_same_in_a_fork(env: dict[str, str]) -> None:
    query = json.dumps(embed("Formula 1 Sailing Himalayas Berkeley"))
    source = json.loads(run(env, "memory-search", "letta", "--embedding", query,
                            "--json").output)
    assert source["matches"][0]["memory_id"] == "human" and source["compared"] == 2
    run(env, "restore", "letta", "--version", str(source["version"]), "--into", "letta-fork")
    fork = json.loads(run(env, "memory-search", "letta-fork", "--embedding", query,
                          "--json").output)
    assert fork["matches"] == source["matches"]
    table = run(env, "memory-search", "letta-fork", "--embedding", query, "--kind",
                "long_term").output
    assert "human" in table and "persona" in table
    for args, words in ((("--embedding", "[1, 2]"), "embedding: has 2 dimensions"),
                        (("--embedding", "[]"), "embedding: must not be empty"),
                        (("--embedding", "[NaN, 1]"), "embedding.0: must be finite"),
                        (("--embedding", "[1"), "--embedding: not JSON"),
                        ((), "give --embedding"),
                        (("--embedding", query, "--kind", "dream"), "--kind")):
        result = run(env, "memory-search", "letta", *args, ok=False)
        assert result.exit_code != 0 and words in result.output, (args, result.output)


def test_evolution_analysis_of_a_period_and_search(env: dict[str, str]) -> None:
    run(env, "checkpoint", "letta", "--version", "40")
    run(env, "checkpoint", "letta")
    data = json.loads(run(env, "evolution", "letta", "--analysis", "--time-period", "7d",
                          "--json").output)
    assert data["time_period"] == "P7D" and data["total_packages"] == 2
    assert data["size_trend"]["direction"] == "growing"
    assert data["compression_efficiency"]["bytes_saved"] > 0
    text = run(env, "evolution", "letta", "--analysis", "--time-period", "P1D").output
    assert "2 packages" in text
    bad = run(env, "evolution", "letta", "--time-period", "soon", ok=False)
    assert bad.exit_code != 0 and "--time-period" in bad.output
    hits = json.loads(run(env, "search", "Himalayas", "--json").output)
    assert hits and hits[0]["agent_id"] == "letta"
