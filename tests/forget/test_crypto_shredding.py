"""Crypto-shredding: with encryption on, an agent's rows are under its own data key, and a
forget deletes that key, so a copy of its rows taken before (a backup of the event and package
tables, a WAL archive) no longer decrypts with the store key, even put back into the store.
Stores written before data keys keep reading under the store key, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import StoredEvent
from support import fresh_schema, make_settings

from ctxstore.application.commands import LOCAL, Forget
from ctxstore.application.errors import ContextStoreError
from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import (
    bootstrap,
    build_compressor,
    build_store,
    eventsourcing_env,
    store_schema,
)
from ctxstore.infrastructure.persistence.cipher import ContextCipher, DecryptionFailed
from ctxstore.infrastructure.persistence.data_keys import KeyRing
from ctxstore.infrastructure.settings import Settings

CANARY = "shred-me-7d1c"


def envelopes(agent: str, count: int) -> list[AnyEnvelope]:
    return [make_envelope(agent, "message", {"role": "user", "content": f"{CANARY} {i}"},
                          event_id=str(uuid.uuid4())) for i in range(count)]


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn, encryption_enabled=True,
                         encryption_key=AESCipher.create_key(32), snapshot_interval=5,
                         nats_url="nats://127.0.0.1:1")


@pytest.fixture
def store_key(settings: Settings) -> ContextCipher:
    assert settings.encryption_key is not None
    return ContextCipher.of_key(settings.encryption_key.get_secret_value())


def keys_of(store: ContextStore) -> KeyRing:
    keys = getattr(store.mapper, "keys", None)
    assert isinstance(keys, KeyRing)
    return keys


def files(settings: Settings) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(settings.storage_path.rglob("*"))
                    if p.is_file())


def stored_rows(store: ContextStore, agent: str) -> list[StoredEvent]:
    oid = aggregate_id(agent)
    snapshots = store.snapshots
    assert snapshots is not None
    return [*store.recorder.select_events(oid), *snapshots.recorder.select_events(oid)]


def test_rows_copied_before_a_forget_do_not_decrypt_after_it(
        settings: Settings, store_key: ContextCipher, request: pytest.FixtureRequest) -> None:
    services = bootstrap(settings)
    try:
        store = services.store
        store.record(envelopes("leaky", 12))
        store.record(envelopes("other", 3))
        services.checkpoints.capture("leaky", label="before")
        # A fork made before: its own key, its content in the parts it shares with the source.
        services.restore.restore("leaky", Point.of_version(12), "fork")
        fork_hash = store.context("fork")["content_hash"]
        # The backup: the agent's event and snapshot rows and its checkpoint's row.
        backup = stored_rows(store, "leaky")
        (listed,) = store.packages.select_packages("leaky")
        package = store.packages.select_package(listed.package_id)
        assert package is not None and package.body
        assert len(backup) >= 13 + 2  # 12 events, the CheckpointTaken, snapshots
        # While the agent's key exists the copies decrypt, with it and not the store key.
        agent_cipher = keys_of(store).cipher_for(aggregate_id("leaky"))
        for blob in [*(r.state for r in backup), package.body, package.meta]:
            agent_cipher.decrypt(blob)
            with pytest.raises(DecryptionFailed):
                store_key.decrypt(blob)

        wrapped = store.recorder.wrapped_keys([aggregate_id("leaky")])[aggregate_id("leaky")]  # type: ignore[attr-defined]
        assert settings.engine != "sqlite" or wrapped in files(settings)  # the scan sees it
        services.commands.forget(LOCAL, Forget(agent_id="leaky", by="test"))
        assert store.recorder.wrapped_keys([aggregate_id("leaky")]) == {}  # type: ignore[attr-defined]
        assert store.recorder.wrapped_keys([aggregate_id("other")])  # type: ignore[attr-defined]
    finally:
        services.close()

    # SQLite zeroes the deleted key row (secure_delete) and truncates the WAL: the key is not
    # left in the database's own files either.
    assert settings.engine != "sqlite" or wrapped not in files(settings)
    # A fresh process with the store key only: the copied rows, put back, do not decrypt.
    after = build_store(settings)
    request.addfinalizer(after.close)
    for row in backup:
        with pytest.raises(ContextStoreError, match="CONTEXT_ENCRYPTION_KEY is not the key"):
            after.mapper.to_domain_event(row)
    for blob in (package.body, package.meta):
        with pytest.raises(DecryptionFailed):
            keys_of(after).cipher_for(aggregate_id("leaky")).decrypt(blob)
    assert after.context("other")["version"] == 3  # the others' keys are untouched
    assert after.context("fork")["content_hash"] == fork_hash


def test_a_store_written_before_data_keys_keeps_reading(
        settings: Settings, store_key: ContextCipher, request: pytest.FixtureRequest) -> None:
    # A store as the release before wrote it: events under the store key, no key rows.
    store_schema(settings).prepare()
    before = ContextStore(env=eventsourcing_env(settings),
                          compressor=build_compressor(settings), snapshot_interval=5)
    before.record(envelopes("old", 7))
    old_rows = stored_rows(before, "old")
    before.close()
    store_key.decrypt(old_rows[0].state)  # the store key opens them

    store = build_store(settings)
    request.addfinalizer(store.close)
    assert store.context("old")["version"] == 7
    store.record(envelopes("old", 2) + envelopes("new", 2))
    assert store.context("old")["version"] == 9
    # The old agent stays under the store key until rewritten (rotate-key gives it a key
    # row); the new one has its own.
    assert store.recorder.wrapped_keys([aggregate_id("old")]) == {}  # type: ignore[attr-defined]
    for row in stored_rows(store, "old"):
        store_key.decrypt(row.state)
    assert store.recorder.wrapped_keys([aggregate_id("new")])  # type: ignore[attr-defined]
    with pytest.raises(DecryptionFailed):
        store_key.decrypt(stored_rows(store, "new")[0].state)
    again = build_store(settings)
    request.addfinalizer(again.close)
    assert again.context("new")["version"] == 2


def test_the_key_cache_is_bounded(settings: Settings, request: pytest.FixtureRequest) -> None:
    store = build_store(settings)
    request.addfinalizer(store.close)
    keys = keys_of(store)
    keys.cached = 3
    store.record([e for i in range(6) for e in envelopes(f"a{i}", 1)])
    assert len(keys._ciphers) <= 3
    # Evicted keys are read back (one statement) and still open their agent's rows.
    for i in range(6):
        (row,) = store.recorder.select_events(aggregate_id(f"a{i}"))
        assert CANARY in store.mapper.to_domain_event(row).data["content"]  # type: ignore[attr-defined]


def test_a_checkpoint_imported_before_its_agent_exists_reads_after_its_first_write(
        settings: Settings, tmp_path: Path) -> None:
    # Another store under the same key (a .ctxpkg is encrypted with the store key).
    source = bootstrap(settings.model_copy(update={
        "storage_path": tmp_path / "source",
        "database_schema": fresh_schema(settings.database_url)
        if settings.engine == "postgres" else settings.database_schema}))
    try:
        source.store.record(envelopes("traveller", 4))
        exported = source.packages.export(source.checkpoints.capture("traveller").package_id)
    finally:
        source.close()
    services = bootstrap(settings)
    try:
        imported = services.packages.import_package(exported)  # no agent `traveller` here yet
        services.restore.restore("traveller", Point.of_checkpoint(imported.package_id),
                                 "traveller")  # its first write makes its data key
        services.store.record(envelopes("traveller", 1))
        assert services.checkpoints.get(imported.package_id).version == 4
        assert services.store.context("traveller")["version"] == 2
    finally:
        services.close()
