"""A read of a version already read does not hash its content again, and a read of a new
version hashes only the parts that changed (issue 16 item 4), on a real trace, on SQLite and
PostgreSQL; the hash it answers is still the content's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import make_settings

from ctxstore.application.store import ContextStore
from ctxstore.domain.state import canonical_json, content_hash, content_of
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContextStore]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    s = build_store(make_settings(request.param, tmp_path, dsn, snapshot_interval=10))
    yield s
    s.close()


def test_a_read_hashes_only_what_changed(store: ContextStore, hashed: list[int]) -> None:
    # The trace's five runs, three times over, as one agent: several pages of each part.
    runs = load_trace(TRACES / "tau-bench" / "gpt-4o-airline.first-5-runs.json")
    key = "long-agent"
    envelopes = [e.model_copy(update={"agent_id": key, "event_id": f"{n}-{e.event_id}"})
                 for n in range(3) for run in runs for e in run.envelopes]
    assert store.record(envelopes).recorded == len(envelopes)
    for version in (None, 20, 7):
        first = store.context(key, version=version)
        hashed.clear()
        again = store.context(key, version=version)
        assert hashed == [], "the second read of a version hashed again"
        assert again == first
        assert first["content_hash"] == content_hash(first)  # still the content's hash
    # A new version is another content: only the parts its event touched are hashed (its
    # page, the group above it, the root), not the whole content; by the write when it takes
    # a snapshot there (as here: version 730, interval 10), else by the read.
    whole = len(canonical_json(content_of(store.context(key))))
    before = store.context(key)["content_hash"]
    hashed.clear()
    store.record([envelopes[0].model_copy(update={"event_id": "one-more"})])
    after = store.context(key)
    read_cost = sum(hashed)
    assert after["content_hash"] != before
    assert after["content_hash"] == content_hash(after)
    assert 0 < read_cost < whole / 4, (read_cost, whole)
    # A read at a version from a snapshot starts with the snapshot's addresses: it hashes
    # what the events after the snapshot changed.
    version = after["version"] - 1
    store.content_hashes._items.clear()
    hashed.clear()
    at = store.context(key, version=version)
    assert 0 < sum(hashed) < whole / 4, (sum(hashed), whole)
    assert at["content_hash"] == before
