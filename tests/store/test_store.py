"""The context store on real SQLite and real PostgreSQL: batches, idempotency, points in time,
history, rejections, concurrent writers, snapshots, compression and the content hash."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from hash_rule import independent_hash
from support import make_settings

from ctxstore.application.checkpoint_changes import changed_after
from ctxstore.application.results import EventOutcome
from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import AGENT_NAMESPACE, aggregate_id
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.domain.pages import hash_like
from ctxstore.infrastructure.bootstrap import bootstrap, build_store, build_views
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.infrastructure.settings import Settings
from ctxstore.projections.catalogue import CatalogueFilter
from devtools.services import libpq_dsn

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEGACY_STORE = Path(__file__).resolve().parent / "legacy_keyed" / "store.sqlite"


def msg(agent: str, text: str, *, event_id: str | None = None,
        at: datetime | None = None, role: str = "user", session: str | None = None
        ) -> AnyEnvelope:
    return make_envelope(agent, "message", {"role": role, "content": text},
                         event_id=event_id or str(uuid.uuid4()), occurred_at=at,
                         session_id=session)


def env(agent: str, type: str, data: dict[str, Any], *, at: datetime | None = None
        ) -> AnyEnvelope:
    return make_envelope(agent, type, data, event_id=str(uuid.uuid4()), occurred_at=at)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_factory(backend: str, tmp_path: Path, request: pytest.FixtureRequest
                     ) -> Iterator[Callable[..., Settings]]:
    """Settings for fresh isolated stores; PostgreSQL schemas are dropped afterwards."""
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    made: list[Settings] = []

    def make(**overrides: Any) -> Settings:
        settings = make_settings(backend, tmp_path / f"s{len(made)}", dsn, **overrides)
        made.append(settings)
        return settings

    yield make
    if dsn is not None:
        with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
            for settings in made:
                conn.execute(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')


@pytest.fixture
def open_store(settings_factory: Callable[..., Settings]) -> Iterator[Callable[[Settings],
                                                                            ContextStore]]:
    """Build stores from settings (several per settings = several processes' caches)."""
    stores: list[ContextStore] = []

    def open_(settings: Settings) -> ContextStore:
        store = build_store(settings)
        stores.append(store)
        return store

    yield open_
    for store in stores:
        store.close()


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(snapshot_interval=10)


@pytest.fixture
def store(open_store: Callable[[Settings], ContextStore], settings: Settings) -> ContextStore:
    return open_store(settings)


def count_insert_calls(store: ContextStore) -> list[int]:
    """Wrap the real recorder's insert_events to note how many events each call carries."""
    calls: list[int] = []
    original = store.recorder.insert_events

    def insert_events(stored_events: Any, **kwargs: Any) -> Any:
        calls.append(len(stored_events))
        return original(stored_events, **kwargs)

    store.recorder.insert_events = insert_events  # type: ignore[method-assign]
    return calls


def count_conflicts(store: ContextStore) -> list[int]:
    """Wrap the real recorder's insert_events to note each IntegrityError (version conflict)."""
    conflicts: list[int] = []
    original = store.recorder.insert_events

    def insert_events(stored_events: Any, **kwargs: Any) -> Any:
        try:
            return original(stored_events, **kwargs)
        except IntegrityError:
            conflicts.append(len(stored_events))
            raise

    store.recorder.insert_events = insert_events  # type: ignore[method-assign]
    return conflicts


def count_selected_events(store: ContextStore) -> list[int]:
    """Wrap the real recorder's select_events, and its point_rows (a read at a version in one
    statement, PostgreSQL), to note how many events each read returns."""
    counts: list[int] = []
    original = store.recorder.select_events
    original_point = store.index.point_rows

    def select_events(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        counts.append(len(result))
        return result

    def point_rows(*args: Any, **kwargs: Any) -> Any:
        rows = original_point(*args, **kwargs)
        if rows is not None:
            counts.append(len(rows.events))
        return rows

    store.recorder.select_events = select_events  # type: ignore[method-assign]
    store.index.point_rows = point_rows  # type: ignore[method-assign]
    return counts


# Batches --------------------------------------------------------------------------------------


def test_batch_for_many_agents_is_one_transaction(store: ContextStore, backend: str,
                                                   settings: Settings) -> None:
    agents = [f"agent-{i}" for i in range(7)]
    batch = [msg(agents[i % 7], f"m{i}") for i in range(50)]
    calls = count_insert_calls(store)
    result = store.record(batch)
    assert calls == [50]  # every agent's events in one insert, so one transaction
    assert result.recorded == 50 and result.duplicates == 0 and result.rejected == []
    assert result.versions == {a: (8 if i == 0 else 7) for i, a in enumerate(agents)}
    assert [(s.agent_id, s.version) for s in store.agents()] == sorted(result.versions.items())
    for outcome, envelope in zip(result.outcomes, batch, strict=True):
        assert outcome.event_id == envelope.event_id and outcome.status == "recorded"
    if backend == "postgres":
        # One transaction: every row of the batch, events and side rows, has the same xmin.
        with psycopg.connect(libpq_dsn(settings.database_url), autocommit=True) as conn:
            schema = settings.database_schema
            xmins = set()
            for table in ("ctxstore_events", "ctxstore_event_ids", "ctxstore_versions",
                          "ctxstore_agents"):
                rows = conn.execute(f'SELECT DISTINCT xmin::text FROM "{schema}"."{table}"')
                xmins |= {r[0] for r in rows.fetchall()}
            assert len(xmins) == 1


def test_agent_versions_and_summaries(store: ContextStore) -> None:
    store.record([msg("alpha", "a1"), msg("beta", "b1"), msg("alpha", "a2")])
    store.record([msg("beta", "b2"), msg("beta", "b3")])
    summaries = {s.agent_id: s for s in store.agents()}
    assert {k: s.version for k, s in summaries.items()} == {"alpha": 2, "beta": 3}
    assert summaries["beta"].updated_us >= summaries["beta"].created_us
    assert store.agents(tenant="someone-else") == []
    assert store.context("beta")["version"] == 3


# Idempotency ----------------------------------------------------------------------------------


def test_event_id_is_recorded_once_forever(open_store: Callable[[Settings], ContextStore],
                                           settings: Settings) -> None:
    store = open_store(settings)
    first = msg("idem", "one", event_id="evt-1")
    again_in_batch = msg("idem", "one again", event_id="evt-1")
    result = store.record([first, msg("idem", "two", event_id="evt-2"), again_in_batch])
    assert [o.status for o in result.outcomes] == ["recorded", "recorded", "duplicate"]
    assert result.versions == {"idem": 2}

    result = store.record([msg("idem", "one", event_id="evt-1"), msg("idem", "three")])
    assert [o.status for o in result.outcomes] == ["duplicate", "recorded"]
    assert result.outcomes[0].version == 1  # where it was recorded
    assert store.context("idem")["version"] == 3

    # Same event id for another agent: still the same event, still a duplicate.
    result = store.record([msg("other-agent", "x", event_id="evt-2")])
    assert result.outcomes[0].status == "duplicate" and result.versions == {}

    # A restart: a new store from the same settings knows every id from the database.
    store.close()
    restarted = open_store(settings)
    result = restarted.record([msg("idem", "one", event_id="evt-1"),
                               msg("idem", "two", event_id="evt-2"),
                               msg("idem", "four", event_id="evt-4")])
    assert [o.status for o in result.outcomes] == ["duplicate", "duplicate", "recorded"]
    assert [o.version for o in result.outcomes] == [1, 2, 4]
    history = restarted.history("idem")
    assert [h.data["content"] for h in history] == ["one", "two", "three", "four"]
    assert [h.event_id for h in history][:2] == ["evt-1", "evt-2"]


# Points in time -------------------------------------------------------------------------------


def test_read_now_at_version_and_at_time(store: ContextStore) -> None:
    times = [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)]
    store.record([msg("clock", f"m{i}", at=t) for i, t in enumerate(times)])
    # Older than the previous event: recorded at the previous event's time (time never goes
    # backwards within an agent, so "the state at T" is well defined).
    store.record([msg("clock", "late", at=T0 + timedelta(seconds=5))])
    history = store.history("clock")
    recorded = [datetime.fromisoformat(h.recorded_at) for h in history]
    assert recorded == [*times, times[2]]

    now = store.context("clock")
    assert now["version"] == 4 and [m["content"] for m in now["messages"]] == [
        "m0", "m1", "m2", "late"]
    assert datetime.fromisoformat(now["as_of"]) == times[2]

    at_v2 = store.context("clock", version=2)
    assert at_v2["version"] == 2 and [m["content"] for m in at_v2["messages"]] == ["m0", "m1"]

    assert store.context("clock", at=T0 + timedelta(seconds=15))["version"] == 2
    assert store.context("clock", at=T0 + timedelta(seconds=10))["version"] == 2
    assert store.context("clock", at=T0 + timedelta(seconds=9, microseconds=999_999)
                         )["version"] == 1
    assert store.context("clock", at=times[2])["version"] == 4  # the clamped one too
    assert store.context("clock", at=T0 + timedelta(days=1))["version"] == 4
    before = store.context("clock", at=T0 - timedelta(seconds=1))
    assert before["version"] == 0 and before["messages"] == []
    assert store.version_at("clock", T0) == 1

    empty = store.context("clock", version=0)
    assert empty["version"] == 0 and empty["messages"] == []


def test_default_time_is_now(store: ContextStore) -> None:
    before = datetime.now(UTC)
    store.record([msg("nowish", "hello")])
    after = datetime.now(UTC)
    as_of = datetime.fromisoformat(store.context("nowish")["as_of"])
    assert before <= as_of <= after


def test_unknown_points_are_errors(store: ContextStore) -> None:
    from ctxstore.application.errors import AgentNotFound, PointNotFound

    store.record([msg("known", "x")])
    with pytest.raises(AgentNotFound):
        store.context("never-seen")
    with pytest.raises(AgentNotFound):
        store.context("never-seen", at=T0)
    with pytest.raises(PointNotFound, match="latest is 1"):
        store.context("known", version=5)
    with pytest.raises(PointNotFound):
        store.context("known", version=1, at=T0)


@pytest.mark.parametrize("version", [-1, 2**63, 2**64])
def test_versions_outside_64_bits_are_a_client_error(store: ContextStore, version: int) -> None:
    """Every door reads through the store: a version or cursor outside 0..2**63-1 is an
    InvalidRequest naming the argument, never the driver's OverflowError."""
    from ctxstore.application.errors import InvalidRequest
    from ctxstore.domain.points import InvalidPoint, Point

    store.record([msg("known", "x")])
    with pytest.raises(InvalidRequest, match="^version: "):
        store.context("known", version=version)
    with pytest.raises(InvalidRequest, match="^after_version: "):
        store.history("known", after_version=version)
    with pytest.raises(InvalidPoint, match="^version: "):
        Point.of_version(version)
    with pytest.raises(InvalidPoint, match="^version: "):
        Point.parse(str(abs(version)) if version > 0 else "v" + "9" * 20)
    assert [h.version for h in store.history("known", after_version=0)] == [1]


# History --------------------------------------------------------------------------------------


def test_history_paging_and_types(store: ContextStore) -> None:
    batch: list[AnyEnvelope] = []
    for i in range(12):
        batch.append(msg("pager", f"m{i}", session="s1" if i < 6 else "s2"))
        if i % 3 == 0:
            batch.append(env("pager", "reasoning", {"thread_id": "t", "content": f"r{i}"}))
    store.record(batch)  # 12 messages, 4 reasoning steps = 16 events
    everything = store.history("pager", limit=1000)
    assert [h.version for h in everything] == list(range(1, 17))

    page1 = store.history("pager", limit=5)
    page2 = store.history("pager", after_version=page1[-1].version, limit=5)
    page3 = store.history("pager", after_version=page2[-1].version, limit=5)
    page4 = store.history("pager", after_version=page3[-1].version, limit=5)
    assert [h.version for h in page1 + page2 + page3 + page4] == list(range(1, 17))
    assert store.history("pager", after_version=16) == []

    steps = store.history("pager", types=["reasoning"])
    assert [h.data["content"] for h in steps] == ["r0", "r3", "r6", "r9"]
    later = store.history("pager", types=["reasoning"], after_version=steps[1].version, limit=1)
    assert [h.data["content"] for h in later] == ["r6"]
    both = store.history("pager", types=["reasoning", "message"], limit=3)
    assert [h.type for h in both] == ["message", "reasoning", "message"]
    assert everything[0].session_id == "s1" and everything[-1].session_id == "s2"
    assert store.context("pager")["sessions"] == [
        {"session_id": "s1", "first_version": 1, "last_version": 8},
        {"session_id": "s2", "first_version": 9, "last_version": 16},
    ]
    # iter_history pages through the recorder in small pages without losing any.
    assert [h.version for h in store.iter_history("pager", page=3)] == list(range(1, 17))
    assert [h.version for h in store.iter_history("pager", after_version=4, upto_version=9,
                                                  page=2)] == list(range(5, 10))


# Rejections -----------------------------------------------------------------------------------


def test_rejected_event_reported_rest_recorded(store: ContextStore) -> None:
    batch = [
        msg("memo", "hi"),
        env("memo", "memory_updated", {"memory_id": "nope", "content": "x"}),
        env("memo", "memory_stored", {"memory_id": "m1", "kind": "semantic", "content": "a"}),
        env("memo", "memory_updated", {"memory_id": "m1", "content": "b", "importance": 0.5}),
        env("memo", "memory_forgotten", {"memory_id": "ghost"}),
        msg("other", "unaffected"),
    ]
    result = store.record(batch)
    statuses = [o.status for o in result.outcomes]
    assert statuses == ["recorded", "rejected", "recorded", "recorded", "rejected", "recorded"]
    rejected = result.rejected
    assert [r.event_id for r in rejected] == [batch[1].event_id, batch[4].event_id]
    assert all(r.field == "data.memory_id" for r in rejected)
    assert "'nope'" in (rejected[0].reason or "") and "not stored" in (rejected[0].reason or "")
    assert "'ghost'" in (rejected[1].reason or "")
    assert result.versions == {"memo": 3, "other": 1}
    # Made without the dataclass's __init__: equal, field for field, to what it makes.
    recorded = result.outcomes[-1]
    made = EventOutcome(batch[5].event_id, "other", "recorded", version=1)
    assert recorded == made and list(vars(recorded).items()) == list(vars(made).items())
    state = store.context("memo")
    assert state["memories"] == {"m1": {"kind": "semantic", "content": "b", "importance": 0.5}}
    assert [h.version for h in store.history("memo")] == [1, 2, 3]
    # A rejected event's id is not taken: it can be sent again once it applies.
    store.record([env("memo", "memory_stored",
                      {"memory_id": "nope", "kind": "episodic", "content": "now"})])
    retry = store.record([batch[1]])
    assert retry.outcomes[0].status == "recorded"


# Concurrent writers ---------------------------------------------------------------------------


def _write_sequence(store: ContextStore, agent: str, writer: str, count: int, seed: int,
                    start: threading.Barrier | None = None) -> None:
    rng = random.Random(seed)
    if start is not None:
        start.wait(timeout=60)
    i = 0
    while i < count:
        size = min(rng.randint(1, 8), count - i)
        store.record([msg(agent, f"{writer}:{i + j}") for j in range(size)])
        i += size
        time.sleep(rng.random() * 0.01)  # a pause, as real agents make: the writers overlap


def _check_writers(store: ContextStore, agent: str, writers: dict[str, int],
                   conflicts: int) -> None:
    """Every writer's events are there, once each, in that writer's order, versions gapless."""
    history = list(store.iter_history(agent))
    assert [h.version for h in history] == list(range(1, sum(writers.values()) + 1))
    contents = [h.data["content"] for h in history]
    for writer, count in writers.items():
        mine = [int(c.split(":")[1]) for c in contents if c.startswith(writer + ":")]
        assert mine == list(range(count)), f"{writer}'s events lost or reordered"
    state = store.context(agent)
    assert [m["content"] for m in state["messages"]] == contents
    # Otherwise the writers never collided, and the test proved nothing about retries.
    assert conflicts >= 1, "no version conflict happened: nothing was retried"


def test_two_writers_in_threads_lose_nothing(open_store: Callable[[Settings], ContextStore],
                                             settings: Settings) -> None:
    # Two stores = two processes' worth of caches, writing one agent at once.
    stores = [open_store(settings), open_store(settings)]
    conflicts = [count_conflicts(s) for s in stores]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            _write_sequence(stores[k], "shared", f"w{k}", 300, seed=k, start=start)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
            start.abort()

    stores[0].record([msg("shared", "seed:0")])
    stores[1].context("shared")  # both caches now hold the agent at version 1
    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    _check_writers(open_store(settings), "shared", {"seed": 1, "w0": 300, "w1": 300},
                   sum(map(len, conflicts)))
    # Both writers' caches agree with the database afterwards.
    for s in stores:
        assert s.context("shared")["version"] == 601


def _process_writer(settings: Settings, writer: str, count: int, seed: int,
                    start: Any, results: Any) -> None:
    store = build_store(settings)
    conflicts = count_conflicts(store)
    try:
        _write_sequence(store, "proc-shared", writer, count, seed, start=start)
    finally:
        store.close()
        results.put(len(conflicts))


def test_two_writer_processes_lose_nothing(open_store: Callable[[Settings], ContextStore],
                                           settings: Settings) -> None:
    open_store(settings)  # creates the tables before the writers race
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_process_writer, args=(settings, f"p{k}", 300, k, start, results))
        for k in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    for p in procs:
        if p.exitcode is None:  # pragma: no cover - only when a writer hangs
            p.terminate()
            p.join(timeout=10)
    assert [p.exitcode for p in procs] == [0, 0]
    conflicts = results.get(timeout=5) + results.get(timeout=5)
    _check_writers(open_store(settings), "proc-shared", {"p0": 300, "p1": 300}, conflicts)


def _start_and_record(settings: Settings, k: int, start: Any) -> None:
    start.wait(timeout=60)
    store = build_store(settings)  # creates (or finds) the tables, all at once
    try:
        store.record([msg(f"starter-{k}", "up")])
    finally:
        store.close()


def test_workers_starting_together_on_a_new_store(open_store: Callable[[Settings],
                                                                      ContextStore],
                                                  settings: Settings) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    procs = [ctx.Process(target=_start_and_record, args=(settings, k, start)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert [a.agent_id for a in open_store(settings).agents()] == [
        "starter-0", "starter-1", "starter-2"]


def _start_views(settings: Settings, start: Any) -> None:
    start.wait(timeout=60)
    views = build_views(settings)  # creates (or finds) the projections' tables
    views.close()


def test_servers_starting_together_make_the_projection_tables_once(
        open_store: Callable[[Settings], ContextStore], settings: Settings) -> None:
    """`serve --workers N` on a new store: each worker opens the projections' views at once,
    after the store's tables exist; none may fail on a table another is making."""
    open_store(settings)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_start_views, args=(settings, start)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]


# Snapshots, compression, hash -----------------------------------------------------------------


def test_snapshots_bound_the_events_read(open_store: Callable[[Settings], ContextStore],
                                         settings_factory: Callable[..., Settings]) -> None:
    interval = 7
    snap_settings = settings_factory(snapshot_interval=interval)
    store = open_store(snap_settings)
    rng = random.Random(3)
    total = 0
    while total < 75:
        size = rng.randint(1, 12)
        store.record([msg("snappy", f"m{total + j}") for j in range(size)])
        total += size
    snapshots = store.snapshots.recorder.select_events(aggregate_id("snappy"))  # type: ignore
    assert [s.originator_version for s in snapshots] == list(range(interval, total + 1,
                                                                   interval))
    assert all(s.state.startswith(ZSTD_MAGIC) for s in snapshots)

    fresh = open_store(snap_settings)  # no cache: every read goes to the database
    counts = count_selected_events(fresh)
    for version in range(1, total + 1):
        counts.clear()
        state = fresh.context("snappy", version=version)
        assert [m["content"] for m in state["messages"]] == [f"m{i}" for i in range(version)]
        assert sum(counts) <= interval - 1 if version >= interval else sum(counts) == version


def test_events_are_stored_compressed(store: ContextStore) -> None:
    long_text = "the same sentence again and again. " * 40
    store.record([msg("squash", long_text), msg("squash", "short")])
    stored: list[StoredEvent] = list(store.recorder.select_events(aggregate_id("squash")))
    assert len(stored) == 2
    assert all(s.state.startswith(ZSTD_MAGIC) for s in stored)
    assert len(stored[0].state) < len(long_text) / 4
    assert long_text[:30].encode() not in stored[0].state


def test_content_hash_is_the_tree_of_the_canonical_content(store: ContextStore) -> None:
    store.record([
        msg("hashy", "héllo ✓", session="s1"),
        env("hashy", "tool_call", {"call_id": "c1", "tool": "search", "arguments": {"q": "ü"}}),
        env("hashy", "tool_result", {"call_id": "c1", "output": {"hits": [1, 2]}}),
        env("hashy", "memory_stored", {"memory_id": "m", "kind": "long_term", "content": "c",
                                       "embedding": [0.25, -1.5]}),
        env("hashy", "mcp_state", {"server": "fs", "state": {"cwd": "/"}}),
        env("hashy", "reasoning", {"thread_id": "t1", "content": "think", "step": 1}),
        env("hashy", "memory_linked", {"source_id": "m", "target_id": "m", "relation": "self"}),
    ])
    state = store.context("hashy")
    content = {k: state[k] for k in ("messages", "reasoning", "tool_calls", "memories",
                                     "memory_links", "mcp_servers")}
    assert state["content_hash"] == independent_hash(content)  # domain.pages' rule
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    legacy = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert hash_like(content, legacy) == legacy  # the scheme before stays verifiable
    # Not hashed: id, version, time and sessions.
    other = store.context("hashy", version=7)
    assert other["content_hash"] == state["content_hash"]
    assert store.context("hashy", version=6)["content_hash"] != state["content_hash"]


def test_heads_are_the_latest_snapshot_then_the_events_after_it(
        open_store: Callable[[Settings], ContextStore],
        settings_factory: Callable[..., Settings]) -> None:
    store = open_store(settings_factory(snapshot_interval=10))
    store.record([msg("snapped", f"m{i}") for i in range(13)])
    store.record([msg("plain", f"m{i}") for i in range(4)])
    never = aggregate_id("never-written")
    heads = store.index.heads([aggregate_id("snapped"), aggregate_id("plain"), never,
                               aggregate_id("plain")])
    assert set(heads) == {aggregate_id("snapped"), aggregate_id("plain")}
    snapped = heads[aggregate_id("snapped")]
    assert [s.originator_version for s in snapped] == [10, 11, 12, 13]
    assert snapped[0].topic.endswith("Snapshot") and not snapped[1].topic.endswith("Snapshot")
    assert [s.originator_version for s in heads[aggregate_id("plain")]] == [1, 2, 3, 4]
    assert all(isinstance(s.state, bytes) for s in snapped)
    assert store.index.heads([]) == {}


def test_agents_beyond_the_cache_are_loaded_in_one_query_a_batch(
        open_store: Callable[[Settings], ContextStore],
        settings_factory: Callable[..., Settings]) -> None:
    """Many agents interleaved, as ingest sees them, with a cache of one: each batch reads
    every agent it touches with one `heads` query, never the library's two per agent, and
    every agent folds to what a full replay gives."""
    settings = settings_factory(snapshot_interval=4, aggregate_cache_size=1)
    store = open_store(settings)
    agents = [f"many-{i}" for i in range(30)]
    heads_calls: list[int] = []
    original_heads = store.index.heads

    def heads(ids: Any) -> Any:
        heads_calls.append(len(ids))
        return original_heads(ids)

    store.index.heads = heads  # type: ignore[method-assign]
    repository_gets: list[Any] = []
    original_get = store.repository.get

    def get(*args: Any, **kwargs: Any) -> Any:
        repository_gets.append(args)
        return original_get(*args, **kwargs)

    store.repository.get = get  # type: ignore[method-assign]
    for round_ in range(9):
        batch = [msg(a, f"{a} says {round_}") for a in agents]
        result = store.record(batch)
        assert result.recorded == 30
    assert repository_gets == []
    assert heads_calls == [29] * 8  # the first batch creates them; then one stays cached
    assert store.record(batch).duplicates == 30
    assert heads_calls == [29] * 8  # a batch of duplicates reads no agent back
    reader = open_store(settings)
    for agent in agents:
        state = reader.context(agent)
        assert state["version"] == 9
        assert [m["content"] for m in state["messages"]] == [f"{agent} says {r}"
                                                            for r in range(9)]


def test_snapshots_are_written_by_our_binary_recorder_on_postgres(store: ContextStore,
                                                                   backend: str) -> None:
    from ctxstore.infrastructure.persistence.postgres import PostgresSnapshotRecorder

    store.record([msg("snap-writer", f"m{i}") for i in range(25)])  # interval 10: 2 snapshots
    assert isinstance(store.snapshots.recorder, PostgresSnapshotRecorder) == (  # type: ignore[union-attr]
        backend == "postgres")
    snaps = store.snapshots.recorder.select_events(aggregate_id("snap-writer"))  # type: ignore[union-attr]
    assert [s.originator_version for s in snaps] == [10, 20]
    assert store.context("snap-writer", version=20)["messages"][-1]["content"] == "m19"


# Tenants ---------------------------------------------------------------------------------------


def test_two_tenants_and_the_local_one_write_one_agent_id(store: ContextStore) -> None:
    first = store.record([msg("bot", "a1", event_id="e1"), msg("bot", "a2", event_id="e2")],
                         tenant="t-a")
    # The same agent id and event id from another tenant: its own agent, not a duplicate.
    second = store.record([msg("bot", "b1", event_id="e1")], tenant="t-b")
    local = store.record([msg("bot", "l1", event_id="e2")])
    assert [o.status for o in (*first.outcomes, *second.outcomes, *local.outcomes)] == [
        "recorded"] * 4
    assert first.versions == {"bot": 2} and second.versions == local.versions == {"bot": 1}
    keys = {t: store.key_for(t, "bot") for t in ("t-a", "t-b", "local")}
    assert keys["local"] == "bot" and len(set(keys.values())) == 3
    # The local tenant keeps the aggregate id every store derived before tenants.
    assert aggregate_id(keys["local"]) == uuid.uuid5(AGENT_NAMESPACE, "bot")
    texts = {t: [m["content"] for m in store.context(k)["messages"]] for t, k in keys.items()}
    assert texts == {"t-a": ["a1", "a2"], "t-b": ["b1"], "local": ["l1"]}
    assert {t: store.context(k)["agent_id"] for t, k in keys.items()} == dict.fromkeys(
        keys, "bot")
    assert [a.agent_id for a in store.agents("t-b")] == [keys["t-b"]]
    # Within a tenant an event id stays a duplicate, with that tenant's version.
    again = store.record([msg("bot", "b1", event_id="e1"), msg("bot", "x", event_id="e2")],
                         tenant="t-b")
    assert [(o.status, o.version) for o in again.outcomes] == [("duplicate", 1),
                                                                ("recorded", 2)]


def test_tenants_write_one_agent_id_at_the_same_moment(
        open_store: Callable[[Settings], ContextStore], settings: Settings) -> None:
    """Three tenants' writers, on two store instances (two processes' caches), all released
    at once on the same agent id and the same event ids: each tenant's agent gets exactly its
    own events, in order, and none is taken for another tenant's duplicate."""
    stores = [open_store(settings), open_store(settings)]
    tenants, batches = ["t-a", "t-b", "local"], 15
    start = threading.Barrier(len(tenants) * 2)
    failures: list[BaseException] = []

    def write(tenant: str, half: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(half, batches * 2, 2):
                result = stores[half].record(
                    [msg("same-bot", f"{tenant}-{i}", event_id=f"e{i}")], tenant=tenant)
                assert [o.status for o in result.outcomes] == ["recorded"], result.outcomes
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            failures.append(e)

    threads = [threading.Thread(target=write, args=(t, h)) for t in tenants for h in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    for tenant in tenants:
        state = stores[0].context(stores[0].key_for(tenant, "same-bot"))
        texts = [m["content"] for m in state["messages"]]
        assert state["version"] == batches * 2
        assert sorted(texts) == sorted(f"{tenant}-{i}" for i in range(batches * 2))
        # Each writer's own events stay in its order.
        for half in (0, 1):
            mine = [t for t in texts if int(t.rsplit("-", 1)[1]) % 2 == half]
            assert mine == [f"{tenant}-{i}" for i in range(half, batches * 2, 2)]


def test_an_old_keyed_agent_is_not_the_local_tenants(tmp_path: Path) -> None:
    """On a store written with API keys before namespaces (the SQLite fixture; PostgreSQL's is
    in tests/http/test_http_tenants_upgrade.py), tenant-a's `support-bot-1` has the aggregate id
    of the local tenant's `support-bot-1`. Writers of both, at the same moment: the local ones
    are refused (the store's owner check), tenant-a's all land."""
    settings = make_settings("sqlite", tmp_path)
    settings.storage_path.mkdir(parents=True)
    shutil.copy(LEGACY_STORE, settings.storage_path / "ctxstore.sqlite")
    store = build_store(settings)
    assert store.key_for("tenant-a", "support-bot-1") == "support-bot-1"
    start = threading.Barrier(2)
    outcomes: dict[str, list[str]] = {"tenant-a": [], "local": []}

    def write(tenant: str) -> None:
        start.wait(timeout=30)
        for i in range(10):
            result = store.record([msg("support-bot-1", f"{tenant} {i}",
                                       event_id=f"late-{tenant}-{i}")], tenant=tenant)
            outcomes[tenant].extend(o.status for o in result.outcomes)

    threads = [threading.Thread(target=write, args=(t,)) for t in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes == {"tenant-a": ["recorded"] * 10, "local": ["rejected"] * 10}
    texts = [m["content"] for m in store.context("support-bot-1")["messages"]]
    assert not [t for t in texts if t.startswith("local")]
    assert texts[-10:] == [f"tenant-a {i}" for i in range(10)]
    assert store.owner("support-bot-1") == "tenant-a"
    store.close()


def test_a_store_made_before_the_move_into_ctxstore_reads_checks_and_projects(
        tmp_path: Path) -> None:
    """The fixture's rows name their classes `domain.aggregate:…` (the layers were top-level
    packages then). They decode into the same contexts, a checkpoint event among them still
    ends the "changed since its checkpoint" search, and a rebuilt projection sees every one."""
    settings = make_settings("sqlite", tmp_path)
    settings.storage_path.mkdir(parents=True)
    copied = settings.storage_path / "ctxstore.sqlite"
    shutil.copy(LEGACY_STORE, copied)
    with closing(sqlite3.connect(copied)) as db:
        topics = {t for (t,) in db.execute("SELECT DISTINCT topic FROM stored_events")}
    assert topics == {"domain.aggregate:AgentContext.Recorded",
                      "domain.aggregate:AgentContext.CheckpointTaken"}
    expected = json.loads((LEGACY_STORE.parent / "expected.sqlite.json").read_text())
    services = bootstrap(settings)
    store = services.store
    keys = []
    for api_key, tenant in (("key-a", "tenant-a"), ("key-b", "tenant-b")):
        for agent, answer in expected[api_key]["contexts"].items():
            key = store.key_for(tenant, agent)
            keys.append(key)
            read = store.context(key)  # its content: the old `sha256:` hash verifies it
            assert hash_like(read, answer["content_hash"]) == answer["content_hash"]
            # each agent's newest events are checkpoints: nothing changed since
            assert changed_after(store, key, 0) is False
    store.record([msg("planner", "after the move", event_id="after-move")], tenant="tenant-a")
    assert changed_after(store, store.key_for("tenant-a", "planner"), 0) is True

    views = services.views
    # its catalogue table predates the parts and target columns: they are added, and old
    # checkpoints project into it as whole ones without a target
    ProjectionWorker(store, views).run_once()
    kept = views.checkpoints(CatalogueFilter())
    assert len(kept) == 6
    assert {tuple(e.as_dict()["parts"]) for e in kept} == {("conversation", "memory",
                                                             "mcp_state")}
    assert {e.target_met for e in kept} == {None}
    views.drop()
    ProjectionWorker(store, views).rebuild()
    projected = views.dump()
    assert {row[0] for row in projected["agents"]} == set(keys)
    assert len(projected["checkpoints"]) == 6  # every stored CheckpointTaken, old topic and all
    store.close()
