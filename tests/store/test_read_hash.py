"""A read of a version already read does not hash its content again (issue 16 item 4), on a
real trace, on SQLite and PostgreSQL; the hash it answers is still the content's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import make_settings

from ctxstore.application.store import ContextStore
from ctxstore.domain import state as domain_state
from ctxstore.domain.state import content_hash
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContextStore]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    s = build_store(make_settings(request.param, tmp_path, dsn, snapshot_interval=10))
    yield s
    s.close()


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the content hash is computed (the real function, counted)."""
    calls: list[int] = []
    real = domain_state.content_hash

    def counted(content: dict[str, Any]) -> str:
        calls.append(1)
        return real(content)

    monkeypatch.setattr(domain_state, "content_hash", counted)
    return calls


def test_a_version_read_again_is_not_hashed_again(store: ContextStore,
                                                  hashes: list[int]) -> None:
    agent = load_trace(TRACES / "tau-bench" / "gpt-4o-airline.first-5-runs.json")[0]
    assert store.record(agent.envelopes).recorded == len(agent.envelopes)
    key = agent.agent_id
    for version in (None, 20, 7):
        first = store.context(key, version=version)
        assert len(hashes) == 1
        again = store.context(key, version=version)
        assert len(hashes) == 1, "the second read of a version hashed again"
        assert again == first
        assert first["content_hash"] == content_hash(first)  # still the content's hash
        hashes.clear()
    # A new version is another content: hashed once, and its own.
    before = store.context(key)["content_hash"]
    store.record([agent.envelopes[0].model_copy(update={"event_id": "one-more"})])
    hashes.clear()
    after = store.context(key)
    assert len(hashes) == 1 and after["content_hash"] != before
    assert after["content_hash"] == content_hash(after)
