"""Snapshots every N events while contexts are small; spaced by growth once they are large."""

from __future__ import annotations

import random
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from ctxstore.application.snapshot_policy import SnapshotMark, SnapshotPolicy
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.persistence.dsn import libpq_dsn
from ctxstore.infrastructure.settings import Settings
from tests.support import make_settings


def test_policy_is_the_plain_interval_until_snapshots_are_large() -> None:
    policy = SnapshotPolicy(interval=10, growth=0.5)
    agent = uuid.uuid4()
    assert [v for v in range(1, 31) if policy.due(agent, v)] == [10, 20, 30]
    policy.recorded(events=100, stored_bytes=100 * 100)  # 100 bytes an event
    policy.taken(agent, 30, size=300)  # small snapshot: 10 events (1,000 B) outgrow it
    assert policy.due(agent, 40) and not policy.due(agent, 39)
    policy.taken(agent, 40, size=10_000)  # large: wait for 5,000 new bytes = 50 events
    assert [v for v in range(41, 120) if policy.due(agent, v)] == list(range(90, 120))


@examples(max_examples=400, deadline=None)
@given(interval=st.integers(1, 50), growth=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 3.7]),
       events=st.integers(0, 1_000), event_bytes=st.integers(0, 200_000),
       mark=st.one_of(st.none(), st.tuples(st.integers(0, 300), st.integers(0, 50_000))),
       pending=st.booleans(), version=st.integers(1, 400))
def test_first_due_is_the_first_version_due_says(
        interval: int, growth: float, events: int, event_bytes: int,
        mark: tuple[int, int] | None, pending: bool, version: int) -> None:
    """What a batch compares each version with (first_due) is where asking `due` at every
    version would first have said yes, marks taken or pending, means whole or fractional."""
    policy = SnapshotPolicy(interval=interval, growth=growth)
    agent = uuid.uuid4()
    if events:
        policy.recorded(events=events, stored_bytes=event_bytes)
    marks: dict[uuid.UUID, SnapshotMark] = {}
    if mark is not None and pending:
        marks[agent] = SnapshotMark(*mark)
    elif mark is not None:
        policy.taken(agent, *mark)
    first = policy.first_due(agent, version, marks)
    horizon = version + 5_000
    said = next((v for v in range(version, horizon) if policy.due(agent, v, marks)), None)
    assert first == said or (said is None and first >= horizon)


def stored_bytes(settings: Settings, table: str, column: str) -> int:
    """Stored bytes of one column of one of the store's tables (`events`, `snapshots`,
    `parts`)."""
    if settings.engine == "sqlite":
        with sqlite3.connect(settings.sqlite_file) as lite:
            row = lite.execute(f"SELECT coalesce(sum(length({column})), 0) "
                               f"FROM stored_{table}").fetchone()
        return int(row[0])
    with psycopg.connect(libpq_dsn(settings.database_url)) as conn:
        found = conn.execute(f'SELECT coalesce(sum(octet_length({column})), 0) '
                             f'FROM "{settings.database_schema}".ctxstore_{table}').fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.parametrize("parts", [True, False], ids=["as_parts", "whole"])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_growing_context_snapshots_stay_linear_and_reads_stay_right(
        backend: str, parts: bool, tmp_path: Path, postgres_dsn: str) -> None:
    """Whole snapshots (a store without a part store, or before parts) are spaced by growth;
    snapshots kept as parts write what changed, so they come every N events and their bytes
    still grow linearly with the history."""
    settings = make_settings(backend, tmp_path, postgres_dsn, snapshot_interval=10,
                             snapshot_growth=0.5)
    store = build_store(settings)
    if not parts:
        store.part_content = None
    total = 600
    # incompressible text, so the context really grows with every event
    texts = [random.Random(i).randbytes(300).hex() for i in range(total)]
    for start in range(0, total, 50):
        store.record([make_envelope("grower", "message",
                                    {"role": "user", "content": f"{i} {texts[i]}"},
                                    event_id=f"g{i}") for i in range(start, start + 50)])
    agent_id = store.agent_at("grower").id
    versions = [s.originator_version for s in store.snapshots.get(agent_id)]
    assert versions[:3] == [10, 20, 30]  # small context: every N events
    if parts:
        assert versions == list(range(10, total + 1, 10))
        events = stored_bytes(settings, "events", "state")
        snapshots = (stored_bytes(settings, "snapshots", "state")
                     + stored_bytes(settings, "parts", "data"))
        # Each page is kept once per snapshot that saw it grow (64 messages, 10 a snapshot:
        # 7 partial copies, 3.5 pages' bytes; measured 2.6x): linear, not quadratic.
        assert snapshots < 4 * events, (snapshots, events)
    else:
        assert len(versions) < total // 10 / 2, versions  # large context: far fewer than N
        gaps = [b - a for a, b in zip(versions, versions[1:], strict=False)]
        assert all(gap >= 10 for gap in gaps) and max(gaps) > 10
    # every point still reads back exactly: snapshot + events equals the plain fold
    fresh = build_store(settings)  # new process: no cache
    for version in (1, 9, 10, 11, versions[-1], min(versions[-1] + 1, total), total):
        state = fresh.context("grower", version=version)
        assert len(state["messages"]) == version
        assert state["messages"][-1]["content"].startswith(f"{version - 1} ")
