"""The ports' contract, through the use cases: the same cases on the in-memory implementations
(infrastructure.persistence.memory), on SQLite and on PostgreSQL.

Each case builds every service over one backend (`bootstrap.memory_services`, or `bootstrap`
on a fresh SQLite file or PostgreSQL schema) and checks what the application relies on: a
batch recorded and read back at every version and time, duplicates and tenants, snapshots as
rebuild bases, checkpoints with their packages and retention, `.ctxpkg` export and import,
restores, and the dictionary catalog with training. Expected states are folded here from the
envelopes (domain.state), not taken from the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support import make_settings

from ctxstore.application.dictionary_port import CompressionDictionary, DictionaryCatalog
from ctxstore.application.errors import CheckpointNotFound
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.domain.points import Point
from ctxstore.domain.state import apply_event, content_hash, empty_content
from ctxstore.infrastructure.bootstrap import bootstrap, memory_services
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.persistence.dictionaries import (
    PostgresDictionaryCatalog,
    SQLiteDictionaryCatalog,
)
from ctxstore.infrastructure.persistence.dictionary_training import train_dictionary
from ctxstore.infrastructure.persistence.memory import MemoryDictionaryCatalog
from ctxstore.infrastructure.settings import Settings
from devtools.services import libpq_dsn

BACKENDS = ["memory", "sqlite", "postgres"]
T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def open_services(request: pytest.FixtureRequest, tmp_path: Path
                  ) -> Iterator[Callable[..., Services]]:
    """Services over a fresh store of the backend, with these settings overrides."""
    backend = str(request.param)
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    opened: list[Services] = []

    def open_(**overrides: Any) -> Services:
        where = tmp_path / f"s{len(opened)}"
        if backend == "memory":
            services = memory_services(make_settings("sqlite", where, **overrides))
        else:
            services = bootstrap(make_settings(backend, where, dsn, **overrides))
        opened.append(services)
        return services

    yield open_
    for services in opened:
        services.close()
    if dsn is not None:
        with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
            for services in opened:
                schema = services.settings.database_schema
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _event(agent: str, kind: str, data: dict[str, Any], n: int,
           event_id: str | None = None) -> AnyEnvelope:
    return make_envelope(agent, kind, data, event_id=event_id or str(uuid.uuid4()),
                         occurred_at=T0 + timedelta(seconds=n), session_id=f"s{n // 4}")


def _conversation(agent: str, count: int) -> list[AnyEnvelope]:
    """A mixed history: messages, a reasoning thread, tool calls and results, memories."""
    kinds: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("message", lambda n: {"role": "user", "content": f"question {n}"}),
        ("reasoning", lambda n: {"thread_id": "t1", "content": f"step {n}", "step": n}),
        ("tool_call", lambda n: {"call_id": f"c{n}", "tool": "search",
                                 "arguments": {"q": f"q{n}"}}),
        ("tool_result", lambda n: {"call_id": f"c{n - 1}", "output": {"hits": n}}),
        ("memory_stored", lambda n: {"memory_id": f"m{n}", "kind": "episodic",
                                     "content": f"fact {n}"}),
        ("memory_updated", lambda n: {"memory_id": f"m{n - 1}", "importance": 0.5}),
    ]
    return [_event(agent, *(lambda k, f: (k, f(n)))(*kinds[n % len(kinds)]), n)
            for n in range(count)]


def _folded(envelopes: list[AnyEnvelope]) -> dict[str, Any]:
    content = empty_content()
    for envelope in envelopes:
        apply_event(content, envelope.type, envelope.data_dict())
    return content


def test_recorded_batch_reads_back_at_every_version_and_time(
        open_services: Callable[..., Services]) -> None:
    store = open_services(snapshot_interval=5).store
    events = _conversation("contract", 18)
    result = store.record(events[:10])
    store.record(events[10:])
    assert [o.status for o in result.outcomes] == ["recorded"] * 10
    for version in (0, 1, 4, 5, 6, 11, 18):
        state = store.context("contract", version=version)
        expected = _folded(events[:version])
        assert state["version"] == version
        assert {k: state[k] for k in expected} == expected
        assert state["content_hash"] == content_hash(expected)
    # Each event's time is its version's: the version at a time is the last one before it.
    assert store.version_at("contract", T0 + timedelta(seconds=7, milliseconds=500)) == 8
    assert store.version_at("contract", T0 - timedelta(seconds=1)) == 0
    assert store.timestamps("contract", [1, 18]) == {1: T0, 18: T0 + timedelta(seconds=17)}
    page = store.history("contract", after_version=15, limit=10)
    assert [(h.version, h.event_id) for h in page] == [(v, events[v - 1].event_id)
                                                       for v in (16, 17, 18)]
    assert [s["session_id"] for s in store.context("contract")["sessions"]] == [
        f"s{n}" for n in range(5)]


def test_snapshots_are_bases_and_heads_start_at_the_latest(
        open_services: Callable[..., Services]) -> None:
    store = open_services(snapshot_interval=4).store
    events = _conversation("snappy", 10)
    for event in events:
        store.record([event])
    snapshot = store.snapshot_at("snappy", 10)
    assert snapshot is not None and 0 < snapshot.version <= 10
    assert snapshot.content == _folded(events[:snapshot.version])
    heads = store.index.heads([aggregate_id("snappy"), aggregate_id("never")])
    assert list(heads) == [aggregate_id("snappy")]
    versions = [s.originator_version for s in heads[aggregate_id("snappy")]]
    assert versions == list(range(snapshot.version, 11))


def test_duplicates_and_tenants(open_services: Callable[..., Services]) -> None:
    store = open_services().store
    first = _event("shared-name", "message", {"role": "user", "content": "mine"}, 0, "e-1")
    again = store.record([first, first])
    assert [o.status for o in again.outcomes] == ["recorded", "duplicate"]
    assert store.record([first]).outcomes[0].version == 1
    # The same agent id and event id for another tenant: a new agent, a new event.
    theirs = store.record([first], tenant="t-b")
    assert [o.status for o in theirs.outcomes] == ["recorded"]
    key = store.key_for("t-b", "shared-name")
    assert key != "shared-name" and store.owner(key) == "t-b"
    assert [a.agent_id for a in store.agents("t-b")] == [key]
    assert [a.agent_id for a in store.agents("local")] == ["shared-name"]
    assert store.index.known_event_ids(["e-1"], "t-c") == {}


def test_checkpoints_packages_and_retention(open_services: Callable[..., Services]) -> None:
    services = open_services(max_checkpoints_per_agent=2)
    events = _conversation("keeper", 9)
    services.store.record(events)
    taken = [services.checkpoints.capture("keeper", version=v, label=f"v{v}")
             for v in (3, 6, 9)]
    # The third capture pruned the first, in the transaction of its event.
    assert [c.version for c in services.checkpoints.list("keeper")] == [6, 9]
    with pytest.raises(CheckpointNotFound):
        services.checkpoints.load(taken[0].package_id)
    checkpoint, state = services.checkpoints.load(taken[1].package_id)
    assert checkpoint.integrity_hash == content_hash(_folded(events[:6]))
    assert state["version"] == 6
    # Export, then import under another tenant: the same state, the tenant's own agent.
    data = services.packages.export(taken[2].package_id)
    imported = services.packages.import_package(data, tenant="t-b")
    assert imported.agent_id == services.store.key_for("t-b", "keeper")
    assert services.packages.import_package(data, tenant="t-b") == imported
    _, imported_state = services.checkpoints.load(imported.package_id, "t-b")
    assert imported_state == services.checkpoints.load(taken[2].package_id)[1]
    # The local tenant already holds that very package: importing it again changes nothing.
    assert services.packages.import_package(data) == services.checkpoints.get(
        taken[2].package_id)
    assert [c.version for c in services.checkpoints.list("keeper")] == [6, 9]


def test_restore_rewinds_to_a_checkpoint_and_forks(open_services: Callable[..., Services]
                                                   ) -> None:
    services = open_services(snapshot_interval=3)
    events = _conversation("restorer", 12)
    services.store.record(events)
    checkpoint = services.checkpoints.capture("restorer", version=5)
    fork = services.restore.restore("restorer", Point.of_version(8), "restorer-fork")
    assert fork.mode == "fork" and fork.content_hash == content_hash(_folded(events[:8]))
    rewind = services.restore.restore(None, Point.of_checkpoint(checkpoint.package_id),
                                      "restorer")
    assert rewind.target_version == 14  # 12 events, the checkpoint's note, the restore
    assert services.store.context("restorer")["content_hash"] == checkpoint.integrity_hash
    assert services.store.context("restorer-fork", version=1)["content_hash"] == \
        fork.content_hash


def test_trained_dictionary_serves_new_writes_and_old_reads(
        open_services: Callable[..., Services]) -> None:
    services = open_services()
    store = services.store
    before = _conversation("trainer", 60)
    store.record(before)
    trained = train_dictionary(store, services.dictionaries, samples=60, size=2048)
    assert [d.dict_id for d in services.dictionaries.all()] == [trained.dictionary.dict_id]
    after = _conversation("trainer-2", 12)
    store.record(after)
    # Events compressed before training (no dictionary) and after (with it) both read back.
    assert store.compressor.active_dictionary_id == trained.dictionary.dict_id  # type: ignore[union-attr]
    assert store.context("trainer")["content_hash"] == content_hash(_folded(before))
    assert store.context("trainer-2")["content_hash"] == content_hash(_folded(after))


@pytest.fixture(params=BACKENDS)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DictionaryCatalog]:
    backend = str(request.param)
    if backend == "memory":
        yield MemoryDictionaryCatalog()
    elif backend == "sqlite":
        yield SQLiteDictionaryCatalog(tmp_path / "catalog.sqlite")
    else:
        dsn = libpq_dsn(request.getfixturevalue("postgres_dsn"))
        schema = f"dc_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        yield PostgresDictionaryCatalog(dsn, schema)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_dictionary_catalog_keeps_every_dictionary_once(catalog: DictionaryCatalog) -> None:
    older = CompressionDictionary(7, T0, 3, 10, b"old")
    newer = CompressionDictionary(3, T0 + timedelta(days=1), 3, 20, b"new")
    catalog.add(newer)
    catalog.add(older)
    catalog.add(replace(older, data=b"other"))  # a kept id stays as it was first kept
    assert catalog.all() == [older, newer]
    assert catalog.get(3) == newer and catalog.get(99) is None


def test_settings_keep_their_backends() -> None:
    """The in-memory store is a test double the root builds on request, never a setting."""
    field = Settings.model_fields["storage_backend"]
    assert "memory" not in str(field.annotation)
