"""A large batch goes to PostgreSQL in chunks, each sent while the next is made, in one
transaction (application.ports ChunkedEventWriter, infrastructure.persistence.postgres): what
it commits is what one statement committed, and a failure anywhere commits none of it."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.cipher import AESCipher
from support import calls_of, count_round_trips, end_backends, make_settings

from ctxstore.application.chained_batch import ChainedBatch
from ctxstore.application.store import WRITE_CHUNK, ContextStore
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.infrastructure.bootstrap import bootstrap, build_store
from ctxstore.infrastructure.persistence import postgres
from ctxstore.infrastructure.persistence.postgres import PostgresIndexedEventRecorder

AGENTS = ("a", "b", "c", "d", "e")


def batch(count: int, start: int = 0) -> list[AnyEnvelope]:
    """`count` events of AGENTS interleaved, as ingest hands them over: messages, and tool
    calls with their results (a result needs its call: the fold's check runs as usual)."""
    out: list[AnyEnvelope] = []
    for i in range(start, start + count):
        agent = AGENTS[i % len(AGENTS)]
        if i % 7 == 3:
            out.append(make_envelope(agent, "tool_call", {
                "call_id": f"call-{i}", "tool": "search", "arguments": {"q": str(i)}},
                event_id=str(uuid.uuid4())))
        else:
            out.append(make_envelope(agent, "message", {
                "role": "user", "content": f"{agent} says {i} " + "x" * (i % 300)},
                event_id=str(uuid.uuid4())))
    return out


def hashes(store: ContextStore) -> dict[str, tuple[int, str]]:
    return {a: (s["version"], s["content_hash"]) for a in AGENTS
            for s in [store.context(a)]}


def versions(store: ContextStore, agent: str) -> list[int]:
    return [h.version for h in store.history(agent, limit=10_000)]


def assert_gapless(store: ContextStore, events: list[AnyEnvelope]) -> None:
    """Each agent of `events` has exactly one version for each of its events, from 1."""
    for agent in dict.fromkeys(e.agent_id for e in events):
        count = sum(1 for e in events if e.agent_id == agent)
        assert versions(store, agent) == list(range(1, count + 1)), agent


@pytest.fixture
def chunk_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The events of each chunk PostgreSQL is sent."""
    sizes: list[int] = []
    real = PostgresIndexedEventRecorder._record_params

    def counted(self: Any, stored: Any, index_rows: Any, agent_rows: Any) -> Any:
        if stored:
            sizes.append(len(stored))
        return real(self, stored, index_rows, agent_rows)

    monkeypatch.setattr(PostgresIndexedEventRecorder, "_record_params", counted)
    return sizes


def test_a_large_batch_commits_in_chunks_what_one_statement_did(
        tmp_path: Path, postgres_dsn: str, chunk_sizes: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    events = batch(3 * WRITE_CHUNK + 50)
    # Snapshots in the middle of the batch: their events were stored and linked before the
    # commit (ChainedBatch.link_now), and go in the chunks all the same.
    sqlite = bootstrap(make_settings("sqlite", tmp_path, snapshot_interval=40,
                                     checkpoint_interval_minutes=0))
    pg = bootstrap(make_settings("postgres", tmp_path, postgres_dsn, snapshot_interval=40,
                                 checkpoint_interval_minutes=0))
    try:
        chunks = calls_of(monkeypatch, ChainedBatch, "chunks")
        assert sqlite.store.record(events).recorded == len(events)
        assert chunk_sizes == []  # SQLite: one transaction of its own, no chunks
        waits = count_round_trips(monkeypatch)
        pipelined_waits: list[list[str]] = []
        pipelined = PostgresIndexedEventRecorder._record_pipelined

        def waited(*args: Any) -> None:
            waits.clear()
            pipelined(*args)
            pipelined_waits.append(list(waits))

        monkeypatch.setattr(PostgresIndexedEventRecorder, "_record_pipelined", waited)
        assert pg.store.record(events).recorded == len(events)
        assert len(chunks) == 2 and chunks[1][2:] == (WRITE_CHUNK,)  # the second: PostgreSQL's
        assert sum(chunk_sizes) == len(events) and len(chunk_sizes) >= 3, chunk_sizes
        # Every chunk, the agent rows and the commit: one wait on the server, the Sync's.
        assert pipelined_waits == [["sync"]]
        assert all(size >= WRITE_CHUNK for size in chunk_sizes[:-1]), chunk_sizes
        # What it committed: every event at its version, the same contents and hashes as
        # SQLite's, each agent's catalogue row at its last version, the chain unbroken.
        expected = hashes(sqlite.store)
        fresh = build_store(pg.settings)  # reads what PostgreSQL holds, nothing cached
        try:
            assert hashes(fresh) == expected
            assert_gapless(fresh, events)
            for agent in AGENTS:
                summary = fresh.summary(agent)
                assert summary is not None and summary.version == len(versions(fresh, agent))
            known = fresh.index.known_event_ids([e.event_id for e in events])
            assert len(known) == len(events)
        finally:
            fresh.close()
        report = pg.integrity.verify()
        assert report.clean and report.events == len(events), [
            f.line() for f in report.findings]
        # A batch at most one chunk long goes as one statement, as before.
        chunk_sizes.clear()
        small = batch(WRITE_CHUNK, start=len(events))
        assert pg.store.record(small).recorded == WRITE_CHUNK
        assert chunk_sizes == [WRITE_CHUNK]
    finally:
        sqlite.close()
        pg.close()


def test_one_agents_batch_is_cut_within_its_events(
        tmp_path: Path, postgres_dsn: str, chunk_sizes: list[int]) -> None:
    """One agent's events, none stored before the commit (no snapshot in the batch), go in
    chunks of WRITE_CHUNK, the chain running on across them."""
    events = [e.model_copy(update={"agent_id": "solo"}) for e in batch(2 * WRITE_CHUNK + 90)]
    sqlite = bootstrap(make_settings("sqlite", tmp_path, snapshot_interval=10_000,
                                     checkpoint_interval_minutes=0))
    pg = bootstrap(make_settings("postgres", tmp_path, postgres_dsn, snapshot_interval=10_000,
                                 checkpoint_interval_minutes=0))
    try:
        assert sqlite.store.record(events).recorded == len(events)
        assert pg.store.record(events).recorded == len(events)
        assert chunk_sizes == [WRITE_CHUNK, WRITE_CHUNK, 90]
        fresh = build_store(pg.settings)
        try:
            assert fresh.context("solo")["content_hash"] == \
                sqlite.store.context("solo")["content_hash"]
            assert versions(fresh, "solo") == list(range(1, len(events) + 1))
        finally:
            fresh.close()
        report = pg.integrity.verify()
        assert report.clean and report.events == len(events), [
            f.line() for f in report.findings]
    finally:
        sqlite.close()
        pg.close()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_new_process_chunks_agents_it_does_not_hold(
        tmp_path: Path, postgres_dsn: str, chunk_sizes: list[int], encrypted: bool) -> None:
    """A process that holds none of the agents (a restart) loads them, their chain heads and
    data keys, then sends the batch in chunks: each agent's chain runs on from the first
    process's events, and encrypted rows read back."""
    extra: dict[str, Any] = ({"encryption_enabled": True,
                              "encryption_key": AESCipher.create_key(32)} if encrypted else {})
    settings = make_settings("postgres", tmp_path, postgres_dsn, integrity_key="chunks",
                             checkpoint_interval_minutes=0, **extra)
    first = build_store(settings)
    try:
        assert first.record(batch(10)).recorded == 10
    finally:
        first.close()
    events = batch(3 * WRITE_CHUNK, start=10)
    services = bootstrap(settings)
    try:
        assert services.store.record(events).recorded == len(events)
        assert len(chunk_sizes) >= 4  # the first store's one statement, then chunks
        report = services.integrity.verify()
        assert report.clean and report.events == 10 + len(events), [
            f.line() for f in report.findings]
        fresh = build_store(settings)
        try:
            assert_gapless(fresh, batch(10) + events)
            for agent in AGENTS:
                assert fresh.context(agent)["messages"][-1] == \
                    services.store.context(agent)["messages"][-1]
        finally:
            fresh.close()
    finally:
        services.close()


def test_without_pipeline_mode_a_large_batch_goes_in_one_statement(
        tmp_path: Path, postgres_dsn: str, chunk_sizes: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A libpq before 14 has no pipeline mode (psycopg's `Pipeline.is_supported()`): the
    batch goes as one statement, as before chunks, and commits the same."""
    monkeypatch.setattr(postgres, "PIPELINES", False)
    pipelined = calls_of(monkeypatch, PostgresIndexedEventRecorder, "_record_pipelined")
    store = build_store(make_settings("postgres", tmp_path, postgres_dsn))
    try:
        events = batch(3 * WRITE_CHUNK)
        assert store.record(events).recorded == len(events)
        assert chunk_sizes == [len(events)] and pipelined == []
        assert_gapless(store, events)
    finally:
        store.close()


def test_a_known_event_id_in_the_last_chunk_commits_nothing_then_is_a_duplicate(
        tmp_path: Path, postgres_dsn: str, chunk_sizes: list[int]) -> None:
    store = build_store(make_settings("postgres", tmp_path, postgres_dsn))
    try:
        first = batch(10)
        assert store.record(first).recorded == 10
        events = batch(3 * WRITE_CHUNK, start=10)
        # The last event reuses an id recorded before: the commit fails on the event-id
        # index after the chunks before it were sent, and the batch is done again, asking.
        events[-1] = events[-1].model_copy(update={"event_id": first[3].event_id})
        chunk_sizes.clear()
        result = store.record(events)
        assert len(chunk_sizes) > 3  # the chunked try, then the try that asked
        assert result.recorded == len(events) - 1 and result.duplicates == 1
        assert result.outcomes[-1].status == "duplicate"
        assert_gapless(store, first + events[:-1])
    finally:
        store.close()


@pytest.mark.parametrize("taken", ["a", "e"], ids=["first-chunk", "last-chunk"])
def test_a_version_another_writer_took_fails_the_whole_batch_which_is_done_again(
        tmp_path: Path, postgres_dsn: str, chunk_sizes: list[int], taken: str) -> None:
    settings = make_settings("postgres", tmp_path, postgres_dsn)
    store, other = build_store(settings), build_store(settings)
    try:
        assert store.record(batch(10)).recorded == 10  # held by `store` at these versions
        # Another process writes to the batch's first or last agent: `store`'s first try
        # conflicts on that agent's next version, in the batch's first or last chunk.
        late = make_envelope(taken, "message", {"role": "user", "content": "meanwhile"},
                             event_id=str(uuid.uuid4()))
        assert other.record([late]).recorded == 1
        events = batch(3 * WRITE_CHUNK, start=10)
        result = store.record(events)
        assert result.recorded == len(events)
        assert len(chunk_sizes) > 4  # chunks sent twice: the conflict, then the retry
        fresh = build_store(settings)
        try:
            assert_gapless(fresh, [*batch(10), late, *events])
            assert [h.event_id for h in fresh.history(taken, limit=10_000)].count(
                late.event_id) == 1
        finally:
            fresh.close()
        assert bootstrap(settings, store=store).integrity.verify().clean
    finally:
        store.close()
        other.close()


def test_connections_ended_while_the_chunks_go_record_the_batch_once(
        tmp_path: Path, fresh_pg_db: str, full_checks: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The server ends the connection after the first chunks were sent (their transaction
    never commits): the whole batch goes once more in one statement on a checked
    connection."""
    settings = make_settings("postgres", tmp_path, fresh_pg_db)
    store = build_store(settings)
    try:
        assert store.record(batch(10)).recorded == 10
        events = batch(3 * WRITE_CHUNK, start=10)
        made = 0
        real = store.mapper.to_stored_event

        def ending(event: Any) -> Any:
            nonlocal made
            made += isinstance(event, AgentContext.Recorded)  # not the snapshots
            if made == 2 * WRITE_CHUNK:  # the first chunk is with the server by now
                end_backends(fresh_pg_db)
            return real(event)

        monkeypatch.setattr(store.mapper, "to_stored_event", ending)
        full_checks.clear()
        result = store.record(events)
        assert result.recorded == len(events)
        assert made == len(events)  # each event stored once: the retry sent what was made
        assert full_checks, "the second try did not take a checked connection"
        monkeypatch.undo()
        fresh = build_store(settings)
        try:
            assert_gapless(fresh, batch(10) + events)
            known = fresh.index.known_event_ids([e.event_id for e in events])
            assert len(known) == len(events)
        finally:
            fresh.close()
    finally:
        store.close()


def test_two_processes_chunking_batches_of_the_same_agents_lose_nothing(
        tmp_path: Path, postgres_dsn: str, chunk_sizes: list[int]) -> None:
    """Two stores (as two ingest workers) write large batches of the same agents at once,
    each chunked transaction waiting for the other's lock on the events table (or failing
    on a version the other took, and done again): every event is recorded once, each
    agent's versions run on without a gap, and the chains verify."""
    settings = make_settings("postgres", tmp_path, postgres_dsn, checkpoint_interval_minutes=0)
    stores = [build_store(settings), build_store(settings)]
    sent: list[list[AnyEnvelope]] = [[], []]
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for round_ in range(4):
                events = batch(2 * WRITE_CHUNK + 40, start=1000 * (2 * round_ + n))
                sent[n] += events
                result = stores[n].record(events)
                assert result.recorded == len(events), result.rejected[:3]
        except BaseException as e:  # noqa: BLE001 - reported by the test's thread
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads) and errors == [], errors
        everything = sent[0] + sent[1]
        # Each batch in two chunks or more, none whole (how many depends on where the
        # agents' snapshots fell, which depends on how the two interleaved).
        assert len(chunk_sizes) >= 8 * 2 and max(chunk_sizes) < 2 * WRITE_CHUNK + 40
        fresh = build_store(settings)
        try:
            known = fresh.index.known_event_ids([e.event_id for e in everything])
            assert len(known) == len(everything)
            assert_gapless(fresh, everything)
        finally:
            fresh.close()
        report = bootstrap(settings, store=stores[0]).integrity.verify()
        assert report.clean and report.events == len(everything), [
            f.line() for f in report.findings]
    finally:
        for store in stores:
            store.close()

