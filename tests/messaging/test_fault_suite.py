"""The fault suite (devtools/faults.py) at a reduced size: every fault still falls once, on
real servers the suite starts (three NATS nodes with R3 streams, its own PostgreSQL, two
ingest workers under their supervisor), and not one event is lost, recorded twice or out of
order. `make faults` runs the full size and prints the figures."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from support import make_settings

from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store
from devtools.faults import FaultConfig, read_back, run, verdict
from devtools.services import libpq_dsn


@pytest.mark.timeout(600)
def test_nothing_is_lost_duplicated_or_reordered_under_every_fault(tmp_path: Path) -> None:
    lines: list[str] = []
    # ~40 s of publishing: the faults take ~30 s from the first, which falls at 10 %, and the
    # last 10 % wait for their end, so some events go out before, during and after them.
    result = run(FaultConfig(events=2000, rate=50, after_faults=0.1, work_dir=tmp_path,
                             log=lines.append))
    assert result["events_published"] == 2000
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0, result
    assert result["agents_reordered"] == 0, result
    assert result["events_recorded"] == 2000
    # Every agent's state read back through its snapshot's parts, as a fold of its events.
    assert result["states_read_back"] == result["agents"], result
    assert (result["states_unreadable"], result["states_mismatched"]) == (0, 0), result
    assert result["dead_lettered"] == 0
    faults = [f["fault"] for f in result["faults"]]
    assert sum("worker SIGKILLed" in f for f in faults) == 3
    assert result["ingest_log"]["worker_exits_killed"] == 3  # as the supervisor saw them
    assert {"PostgreSQL stopped (fast)", "PostgreSQL started", "network to PostgreSQL cut for 10s",
            "network to PostgreSQL restored", "NATS node started again"} <= set(faults)
    latency = result["publish_to_commit_ms"]
    assert all(latency[phase]["n"] > 0 for phase in ("before_faults", "during_faults",
                                                     "after_faults")), latency


def test_the_verdict_sees_each_kind_of_damage() -> None:
    published = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"], "c": ["c1"]}
    clean = verdict(published, {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"], "c": ["c1"]}, 6)
    assert (clean["lost"], clean["duplicated"], clean["agents_reordered"]) == (0, 0, 0)
    damaged = verdict(published, {"a": ["a1", "a3"], "b": ["b2", "b1", "b1"]}, 5)
    assert damaged["lost"] == 2  # a2, and c1 with its whole agent
    assert damaged["duplicated"] == 1
    assert damaged["reordered_examples"] == ["b"]  # a lost one, but what is left is in order
    stranger = verdict({"a": ["a1"]}, {"a": ["a1", "x9"]}, 2)
    assert stranger["agents_reordered"] == 1  # an event it never published


def test_the_read_back_sees_a_lost_part(tmp_path: Path, postgres_dsn: str) -> None:
    """What the suite checks each state with: a snapshot whose part is gone is reported
    unreadable, though a plain reader would fold the events instead."""
    settings = make_settings("postgres", tmp_path, postgres_dsn, snapshot_interval=5)
    agents = ["read-back-1", "read-back-2"]
    store = build_store(settings)
    try:
        store.record([make_envelope(a, "message", {"role": "user", "content": f"m{i}"},
                                    event_id=f"{a}-{i}") for a in agents for i in range(12)])
        whole = read_back(agents, store)
        with psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True) as conn:
            conn.execute(f'DELETE FROM "{settings.database_schema}".ctxstore_parts')
        store.part_content.cache.clear()  # type: ignore[union-attr]
        after = read_back(agents, store)
    finally:
        store.close()
    assert (whole["states_read_back"], whole["snapshots_read_back"]) == (2, 2)
    assert (whole["states_unreadable"], whole["states_mismatched"]) == (0, 0)
    assert after["states_unreadable"] == 2, after
    assert "PartMissing" in after["state_examples"][0]
