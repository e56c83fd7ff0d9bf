"""Tamper evidence: each agent's hash chain (application.chain) and `ctxstore verify`.

The tests change the database behind the store's back with plain SQL, as someone with write
access to it would: edit an event's stored bytes, delete events in the middle and at the end,
swap two events, insert one, and recompute an unkeyed chain over an edit. Each is named by
verify; a clean store verifies; with encryption on the chain verifies without the encryption
key (the walk reads stored bytes only).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient
from pydantic import SecretStr
from support import SAMPLES, make_settings

from ctxstore.application.chain import GENESIS, ChainRow, Commitment, EventChain, check_commitments
from ctxstore.application.errors import CorruptedSnapshot, IntegrityMismatch
from ctxstore.application.importing import record_in_batches
from ctxstore.domain.agent_id import aggregate_id, plain_agent_id
from ctxstore.domain.aggregate import AgentSnapshot
from ctxstore.domain.events import make_envelope
from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.importers import iter_trace_files, load_trace
from ctxstore.infrastructure.settings import Settings

KEY = "integrity-key-for-tests"
CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))
EVENTS = 8


class Raw:
    """The store's tables through a plain connection: what an intruder with database access
    would use. Ids as the backend stores them (hex text on SQLite, uuid on PostgreSQL)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        if settings.engine == "sqlite":
            self.events, self.versions, self.agents, self.snapshots = (
                "stored_events", "stored_versions", "stored_agents", "stored_snapshots")
            self.mark = "?"
        else:
            s = settings.database_schema
            self.events, self.versions, self.agents, self.snapshots = (
                f'"{s}".ctxstore_events', f'"{s}".ctxstore_versions', f'"{s}".ctxstore_agents',
                f'"{s}".ctxstore_snapshots')
            self.mark = "%s"

    def id(self, agent: str) -> Any:
        oid = aggregate_id(agent)
        return oid.hex if self.settings.engine == "sqlite" else oid

    @contextmanager
    def sql(self) -> Iterator[Any]:
        if self.settings.engine == "sqlite":
            with closing(sqlite3.connect(self.settings.sqlite_file)) as conn:
                yield conn
                conn.commit()
        else:
            with psycopg.connect(self.settings.database_url) as conn:
                yield conn

    def run(self, statement: str, *params: Any) -> list[Any]:
        with self.sql() as conn:
            cur = conn.execute(statement.replace("?", self.mark), params)
            return list(cur.fetchall()) if cur.description else []

    def event(self, agent: str, version: int) -> tuple[str, bytes]:
        topic, state = self.run(f"SELECT topic, state FROM {self.events} WHERE "
                                "originator_id = ? AND originator_version = ?",
                                self.id(agent), version)[0]
        return topic, bytes(state)

    def set_state(self, agent: str, version: int, topic: str, state: bytes) -> None:
        self.run(f"UPDATE {self.events} SET topic = ?, state = ? WHERE originator_id = ? "
                 "AND originator_version = ?", topic, state, self.id(agent), version)

    def delete(self, agent: str, version: int) -> None:
        for table in (self.events, self.versions):
            self.run(f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = ?",
                     self.id(agent), version)

    def link(self, agent: str, version: int) -> bytes:
        return bytes(self.run(f"SELECT link FROM {self.versions} WHERE originator_id = ? AND "
                              "originator_version = ?", self.id(agent), version)[0][0])

    def set_link(self, agent: str, version: int, link: bytes) -> None:
        self.run(f"UPDATE {self.versions} SET link = ? WHERE originator_id = ? AND "
                 "originator_version = ?", link, self.id(agent), version)

    def snapshots_of(self, agent: str) -> list[StoredEvent]:
        return [StoredEvent(aggregate_id(agent), v, t, bytes(state)) for v, t, state in
                self.run(f"SELECT originator_version, topic, state FROM {self.snapshots} "
                         "WHERE originator_id = ? ORDER BY originator_version", self.id(agent))]

    def set_snapshot_state(self, agent: str, version: int, state: bytes) -> None:
        self.run(f"UPDATE {self.snapshots} SET state = ? WHERE originator_id = ? AND "
                 "originator_version = ?", state, self.id(agent), version)

    def links_null(self) -> int:
        return int(self.run(f"SELECT count(*) FROM {self.versions} WHERE link IS NULL")[0][0]
                   + self.run(f"SELECT count(*) FROM {self.agents} WHERE chain_head IS NULL "
                              "AND version > 0")[0][0])


def new_services(backend: str, tmp_path: Path, dsn: str, *, key: str | None,
                 encrypted: bool = False) -> Services:
    extra: dict[str, Any] = {}
    if encrypted:
        extra = {"encryption_enabled": True, "encryption_key": AESCipher.create_key(32)}
    settings = make_settings(backend, tmp_path, dsn, integrity_key=key,
                             checkpoint_interval_minutes=0, snapshot_interval=3, **extra)
    return bootstrap(settings)


def fill(services: Services, *agents: str) -> None:
    """EVENTS events each, interleaved in batches, as an ingest worker writes them."""
    for start in range(0, EVENTS, 3):
        batch = [make_envelope(a, "message", {"role": "user", "content": f"{a} says {i}"},
                               event_id=str(uuid.uuid4()))
                 for i in range(start, min(start + 3, EVENTS)) for a in agents]
        assert services.store.record(batch).recorded == len(batch)


def lines(services: Services, agent: str | None = None) -> list[str]:
    keys = None if agent is None else [agent]
    return [f.line() for f in services.integrity.verify(keys).findings]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("key", [KEY, None], ids=["keyed", "unkeyed"])
def test_a_clean_store_verifies_and_every_door_chains(backend: str, key: str | None,
                                                      tmp_path: Path, postgres_dsn: str
                                                      ) -> None:
    services = new_services(backend, tmp_path, postgres_dsn, key=key)
    fill(services, "a", "b")
    # Store-made events go through the same write path: a checkpoint, a restore into a new
    # agent (a fork) and a rewind.
    checkpoint = services.checkpoints.capture("a", label="before")
    services.restore.restore("a", Point(version=4), "fork")
    services.restore.restore(None, Point(checkpoint_id=checkpoint.package_id), "b")
    # The HTTP door, and `ctxstore import`'s path (a bundled trace, in batches).
    with TestClient(create_app(bootstrap(services.settings))) as c:  # closes its services
        r = c.post("/api/v1/agents/web/events", json=[
            {"event_id": str(uuid.uuid4()), "agent_id": "web", "type": "message",
             "data": {"role": "user", "content": f"over HTTP {i}"}} for i in range(3)])
        assert r.status_code == 201, r.text
    trace = next(iter_trace_files(SAMPLES))
    imported = load_trace(trace)[0]
    summary = record_in_batches(services.store, imported.envelopes, batch_size=7)
    assert summary.recorded == len(imported.envelopes) > 7
    report = services.integrity.verify()
    assert report.clean, [f.line() for f in report.findings]
    assert report.agents == 5
    assert report.events == 2 * EVENTS + 1 + 1 + 1 + 3 + summary.recorded
    assert Raw(services.settings).links_null() == 0
    # The links are the ones the chain defines, from the genesis link on.
    raw = Raw(services.settings)
    topic, state = raw.event("a", 1)
    assert raw.link("a", 1) == EventChain(key.encode() if key else None).link(
        GENESIS, aggregate_id("a"), 1, topic, state)
    services.close()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_each_change_behind_the_stores_back_is_named(backend: str, encrypted: bool,
                                                     tmp_path: Path, postgres_dsn: str) -> None:
    services = new_services(backend, tmp_path, postgres_dsn, key=KEY, encrypted=encrypted)
    agents = ["edited", "cut", "swapped", "appended", "truncated", "relinked", "intact"]
    fill(services, *agents)
    raw = Raw(services.settings)
    assert lines(services) == []

    topic, state = raw.event("edited", 3)
    raw.set_state("edited", 3, topic, state[:-1] + bytes([state[-1] ^ 1]))  # one bit
    raw.delete("cut", 5)
    four, five = raw.event("swapped", 4), raw.event("swapped", 5)
    raw.set_state("swapped", 4, *five)
    raw.set_state("swapped", 5, *four)
    t, s = raw.event("appended", 2)  # a copy of an earlier event, as the next version
    raw.run(f"INSERT INTO {raw.events} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)", raw.id("appended"), EVENTS + 1, t, s)
    raw.delete("truncated", EVENTS)
    raw.delete("truncated", EVENTS - 1)
    raw.set_link("relinked", 6, bytes(32))  # the index row's link itself

    assert lines(services) == [
        f"appended version {EVENTS + 1}: inserted: an event the store never chained",
        f"appended version {EVENTS + 1}: inserted: events after the catalogue's head "
        f"(version {EVENTS}) up to version {EVENTS + 1}",
        "cut version 5: removed: no event and no link at this version",
        "edited version 3: altered: its stored content or link was changed",
        "relinked version 6: altered: its stored content or link was changed",
        "relinked version 7: altered: its stored content or link was changed",
        # The snapshot at 6 holds the link the store made there.
        "relinked version 6: snapshot: its chain head is not the chain's link at this version",
        "swapped version 4: reordered: its content is version 5's",
        "swapped version 5: reordered: its content is version 4's",
        f"truncated version {EVENTS - 1}: removed: the catalogue's head is version {EVENTS}, "
        f"the last event is version {EVENTS - 2}",
    ]
    assert lines(services, "intact") == []
    services.close()


def forge_snapshot_head(services: Services, raw: Raw, agent: str, version: int,
                        head: bytes) -> None:
    """Rewrite the chain head a snapshot row holds, re-encoded as the store encodes it (what
    anyone can do to a store without encryption)."""
    stored = next(s for s in raw.snapshots_of(agent) if s.originator_version == version)
    forged = replace(services.store.decode(stored), chain_head=head.hex())
    raw.set_snapshot_state(agent, version, services.store.mapper.to_stored_event(forged).state)


def _rechain_unkeyed(services: Services, raw: Raw, agent: str, start: int, last: int) -> None:
    """What an intruder without the key can do: recompute plain SHA-256 links from the
    edited event on, the catalogue's head, and the heads the snapshots there hold."""
    chain = EventChain(None)
    previous = raw.link(agent, start - 1)
    for version in range(start, last + 1):
        previous = chain.link(previous, aggregate_id(agent), version, *raw.event(agent, version))
        raw.set_link(agent, version, previous)
    raw.run(f"UPDATE {raw.agents} SET chain_head = ? WHERE agent_id = ?", previous, agent)
    for snapshot in raw.snapshots_of(agent):
        if snapshot.originator_version >= start:
            forge_snapshot_head(services, raw, agent, snapshot.originator_version,
                                raw.link(agent, snapshot.originator_version))


@pytest.mark.parametrize("key", [KEY, None], ids=["keyed", "unkeyed"])
def test_a_recomputed_chain_is_caught_only_with_a_key(backend: str, key: str | None,
                                                      tmp_path: Path, postgres_dsn: str
                                                      ) -> None:
    services = new_services(backend, tmp_path, postgres_dsn, key=key)
    fill(services, "victim")
    raw = Raw(services.settings)
    topic, state = raw.event("victim", 4)
    raw.set_state("victim", 4, topic, state[:-1] + bytes([state[-1] ^ 1]))
    assert lines(services)[0] == "victim version 4: altered: its stored content or link was " \
                                 "changed"
    _rechain_unkeyed(services, raw, "victim", 4, EVENTS)
    found = lines(services)
    if key is None:
        # Plain SHA-256 can be recomputed by anyone: it catches accidents, not attackers.
        assert found == []
    else:
        assert found[0] == "victim version 4: altered: its stored content or link was changed"
        assert len(found) == EVENTS - 3  # every recomputed link fails under the key
    services.close()


def cli(settings: Settings, *args: str, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXT_")}
    env.update({"CONTEXT_STORAGE_BACKEND": settings.storage_backend,
                "CONTEXT_STORAGE_PATH": str(settings.storage_path),
                "CONTEXT_DATABASE_URL": settings.database_url,
                "CONTEXT_DATABASE_SCHEMA": settings.database_schema, "COLUMNS": "200"})
    if key:
        env["CONTEXT_INTEGRITY_KEY"] = key
    return subprocess.run([CTXSTORE, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_verify_command_without_the_encryption_key(backend: str, tmp_path: Path,
                                                    postgres_dsn: str) -> None:
    """The CLI: one line a finding and exit 1; exit 0 on a clean store; the encryption key
    is not needed (nor given), only the integrity key."""
    services = new_services(backend, tmp_path, postgres_dsn, key=KEY, encrypted=True)
    fill(services, "one", "two")
    services.close()
    settings = services.settings
    clean = cli(settings, "verify", "--all", key=KEY)
    assert clean.returncode == 0, clean.stderr
    assert f"2 agents, {2 * EVENTS} events verified (HMAC-SHA-256): no findings" in clean.stdout
    # Snapshots are encrypted, and this process has no encryption key: said, not checked.
    assert "0 snapshot and checkpoint chain heads checked" in clean.stdout
    assert "4 snapshots or checkpoints not readable here" in clean.stdout
    Raw(settings).delete("two", 2)
    one = cli(settings, "verify", "one", key=KEY)
    assert one.returncode == 0, one.stderr
    broken = cli(settings, "verify", "--all", key=KEY)
    assert broken.returncode == 1
    assert broken.stderr.splitlines() == ["two version 2: removed: no event and no link at "
                                          "this version"]
    wrong = cli(settings, "verify", "one", key="another key")
    assert wrong.returncode == 1 and len(wrong.stderr.splitlines()) == EVENTS
    missing = cli(settings, "verify", "nobody", key=KEY)
    assert missing.returncode == 1 and missing.stderr.strip() == "nobody: no such agent"


def test_sha256_is_what_an_unkeyed_link_is() -> None:
    """The unkeyed chain is plain SHA-256 over the documented layout (README)."""
    oid = uuid.UUID(int=7)
    message = (b"ctxstore-chain-1\x00" + GENESIS + oid.bytes + (3).to_bytes(8, "big")
               + (5).to_bytes(4, "big") + b"topic" + b"state")
    assert EventChain(None).link(GENESIS, oid, 3, "topic", b"state") == \
        hashlib.sha256(message).digest()


@pytest.mark.parametrize("key", [KEY, None], ids=["keyed", "unkeyed"])
def test_a_store_made_before_chains_verifies_after_migrate(backend: str, key: str | None,
                                                           tmp_path: Path, postgres_dsn: str
                                                           ) -> None:
    from test_migrations import release_store

    settings = release_store(backend, tmp_path, postgres_dsn)
    if key:
        settings = settings.model_copy(update={"integrity_key": SecretStr(key)})
    done = cli(settings, "migrate", key=key)
    assert done.returncode == 0, done.stderr
    services = bootstrap(settings)
    report = services.integrity.verify()
    assert report.clean and report.agents > 0 and report.events > 0, report
    assert Raw(settings).links_null() == 0
    # And it goes on from there: a new event chains onto the migrated head.
    key_of_agent = services.store.chain_index.chain_heads()[0].agent_id
    after = make_envelope(plain_agent_id(key_of_agent), "message",
                          {"role": "user", "content": "after"}, event_id=str(uuid.uuid4()))
    tenant = services.store.tenant_of(key_of_agent)
    assert services.store.record([after], tenant=tenant).recorded == 1
    assert services.integrity.verify().clean
    services.close()


def test_a_checkpoint_commits_to_the_chain_head_it_was_built_from(backend: str, tmp_path: Path,
                                                                  postgres_dsn: str) -> None:
    services = new_services(backend, tmp_path, postgres_dsn, key=KEY)
    fill(services, "kept")
    raw = Raw(services.settings)
    checkpoint = services.checkpoints.capture("kept")
    assert checkpoint.version == EVENTS
    assert checkpoint.chain_head == raw.link("kept", EVENTS).hex()
    listed = services.checkpoints.load(checkpoint.package_id, "local")[0]
    assert listed.chain_head == checkpoint.chain_head  # kept in its stored metadata
    point = Point(checkpoint_id=checkpoint.package_id)
    services.restore.restore(None, point, "copy-1", validation_level="comprehensive")
    # History under it rewritten behind the store's back, links and head recomputed (here
    # with the key, as only an insider holding it could): the checkpoint still tells.
    topic, state = raw.event("kept", 2)
    raw.set_state("kept", 2, topic, state[:-1] + bytes([state[-1] ^ 1]))
    chain = services.store.chain
    previous = raw.link("kept", 1)
    for version in range(2, EVENTS + 2):
        previous = chain.link(previous, aggregate_id("kept"), version,
                              *raw.event("kept", version))
        raw.set_link("kept", version, previous)
    fresh = bootstrap(services.settings)  # nothing remembered from before the change
    with pytest.raises(IntegrityMismatch, match="changed since it was captured"):
        fresh.restore.restore(None, point, "copy-2", validation_level="comprehensive")
    services.close()
    fresh.close()


def test_hmac_sha256_is_what_a_keyed_link_is() -> None:
    import hmac

    oid = uuid.UUID(int=9)
    message = (b"ctxstore-chain-1\x00" + GENESIS + oid.bytes + (1).to_bytes(8, "big")
               + (1).to_bytes(4, "big") + b"t" + b"s")
    chain = EventChain(KEY.encode())
    assert chain.link(GENESIS, oid, 1, "t", b"s") == hmac.digest(KEY.encode(), message, "sha256")
    assert chain.link(GENESIS, oid, 1, "t", b"s") == chain.link(GENESIS, oid, 1, "t", b"s")


def _rechain_with_key(services: Services, raw: Raw, agent: str, start: int, last: int) -> None:
    """What only an insider holding the integrity key can do: recompute the links from an
    edited event on, and the catalogue's head, so the walk itself sees nothing."""
    previous = raw.link(agent, start - 1)
    for version in range(start, last + 1):
        previous = services.store.chain.link(previous, aggregate_id(agent), version,
                                             *raw.event(agent, version))
        raw.set_link(agent, version, previous)
    raw.run(f"UPDATE {raw.agents} SET chain_head = ? WHERE agent_id = ?", previous, agent)


def test_each_snapshot_commits_to_the_link_of_its_version(backend: str, tmp_path: Path,
                                                          postgres_dsn: str) -> None:
    """Snapshots taken in the middle of a batch (one batch of EVENTS events: versions 3 and
    6), at a batch's end (`fill`: 3 events an agent a batch) and with a store-made event (a
    checkpoint) each hold the link of their own version; verify checks them all."""
    services = new_services(backend, tmp_path, postgres_dsn, key=KEY)
    fill(services, "batched")
    one_batch = [make_envelope("whole", "message", {"role": "user", "content": f"n {i}"},
                               event_id=str(uuid.uuid4())) for i in range(EVENTS)]
    assert services.store.record(one_batch).recorded == EVENTS
    services.checkpoints.capture("whole")
    services.store.record([make_envelope("whole", "message", {"role": "user", "content": "x"},
                                         event_id=str(uuid.uuid4()))])
    raw = Raw(services.settings)
    seen = {}
    for agent in ("batched", "whole"):
        for stored in raw.snapshots_of(agent):
            snapshot = services.store.decode(stored)
            assert isinstance(snapshot, AgentSnapshot)
            seen[(agent, stored.originator_version)] = snapshot.chain_head
            assert snapshot.chain_head == raw.link(agent, stored.originator_version).hex()
    assert {("batched", 3), ("batched", 6), ("whole", 3), ("whole", 6)} <= set(seen)
    report = services.integrity.verify()
    assert report.clean, [f.line() for f in report.findings]
    assert report.commitments == len(seen) + 1  # and the checkpoint
    services.close()


def test_an_edited_snapshot_head_and_history_rewritten_under_a_snapshot_are_named(
        backend: str, tmp_path: Path, postgres_dsn: str) -> None:
    services = new_services(backend, tmp_path, postgres_dsn, key=KEY)
    fill(services, "edited", "rewritten", "intact")
    checkpoint = services.checkpoints.capture("rewritten")  # of version EVENTS
    raw = Raw(services.settings)
    assert lines(services) == []
    # A snapshot row's head edited (re-encoded as the store would: no encryption here).
    forge_snapshot_head(services, raw, "edited", 3, bytes(32))
    # Events under untouched snapshots rewritten, the chain recomputed with the key: the
    # walk sees a consistent chain, the snapshots and the checkpoint built on it do not.
    topic, state = raw.event("rewritten", 2)
    raw.set_state("rewritten", 2, topic, state[:-1] + bytes([state[-1] ^ 1]))
    _rechain_with_key(services, raw, "rewritten", 2, EVENTS + 1)
    detail = "chain head is not the chain's link at this version"
    assert lines(services) == [
        f"edited version 3: snapshot: its {detail}",
        f"rewritten version 3: snapshot: its {detail}",
        f"rewritten version 6: snapshot: its {detail}",
        f"rewritten version {EVENTS}: checkpoint: checkpoint {checkpoint.package_id!r}: "
        f"{detail}",
        f"rewritten version {EVENTS + 1}: snapshot: its {detail}",  # with CheckpointTaken
    ]
    assert lines(services, "intact") == []
    # A read does not start from such a snapshot (one indexed lookup of the link there).
    fresh = bootstrap(services.settings)  # nothing remembered from before the change
    for agent, version in (("edited", 4), ("rewritten", 7)):
        with pytest.raises(CorruptedSnapshot, match="was built from another history"):
            fresh.store.context(agent, version=version)
    assert fresh.store.context("intact", version=7)["version"] == 7
    services.close()
    fresh.close()


def test_commitments_are_checked_against_the_stored_link_of_their_version() -> None:
    """Version 0 is the genesis link (no index row); a head of None (made before chains) is
    not checked; one that cannot be read is counted apart, not as a finding."""
    rows = [ChainRow(1, "t", b"s", b"\x01" * 32), ChainRow(2, "t", b"s", b"\x02" * 32)]
    found, checked, unread = check_commitments("a", rows, [
        Commitment("checkpoint", "zero", 0, GENESIS.hex()),
        Commitment("snapshot", "", 2, (b"\x02" * 32).hex()),
        Commitment("snapshot", "", 1, None),
        Commitment("checkpoint", "dark", 2, None, readable=False),
        Commitment("checkpoint", "wrong", 1, (b"\x02" * 32).hex()),
        Commitment("snapshot", "", 3, (b"\x03" * 32).hex()),  # no link there
    ])
    assert [f.line() for f in found] == [
        "a version 1: checkpoint: checkpoint 'wrong': chain head is not the chain's link at "
        "this version",
        "a version 3: snapshot: its chain head is not the chain's link at this version",
    ]
    assert (checked, unread) == (4, 1)
