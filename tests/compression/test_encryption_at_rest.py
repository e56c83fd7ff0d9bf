"""Encryption at rest on real PostgreSQL: no table of the store holds the text of a message or a
memory, neither raw nor inside a zstd frame; a wrong key fails with a clear error."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import zstandard
from eventsourcing.cryptography import AESCipher
from pydantic import SecretStr
from support import make_settings

from ctxstore.application.errors import ContextStoreError
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import bootstrap, build_store, dictionary_catalog
from ctxstore.infrastructure.persistence.cipher import DecryptionFailed
from ctxstore.infrastructure.persistence.dictionary_training import train_dictionary
from ctxstore.infrastructure.persistence.zstd_compressor import ZSTD_MAGIC
from ctxstore.infrastructure.settings import Settings
from devtools.services import libpq_dsn

CANARY = "CANARY-PLAINTEXT"  # in every message, memory, reasoning step and tool argument


def secret_events(agent: str, start: int, count: int) -> list[AnyEnvelope]:
    out: list[AnyEnvelope] = []
    for i in range(start, start + count):
        eid = str(uuid.uuid4())
        if i % 4 == 0:
            out.append(make_envelope(agent, "memory_stored", {
                "memory_id": f"m{i}", "kind": "long_term",
                "content": f"{CANARY} memory {i}: the user's passport number is X{i:07d}"},
                event_id=eid))
        elif i % 4 == 1:
            out.append(make_envelope(agent, "reasoning", {
                "thread_id": "t1", "content": f"{CANARY} thinking about step {i}"},
                event_id=eid))
        elif i % 4 == 2:
            out.append(make_envelope(agent, "tool_call", {
                "call_id": f"c{i}", "tool": "lookup", "arguments": {"q": f"{CANARY} {i}"}},
                event_id=eid))
        else:
            out.append(make_envelope(agent, "message", {
                "role": "user", "content": f"{CANARY} message {i}: my card ends in {i:04d}"},
                event_id=eid))
    return out


def encrypted_settings(tmp_path: Path, dsn: str, key: str | None = None, **extra: Any
                       ) -> Settings:
    return make_settings("postgres", tmp_path, dsn, encryption_enabled=True,
                         encryption_key=key or AESCipher.create_key(32), snapshot_interval=10,
                         **extra)


def canary_in(blob: bytes, dictionaries: list[bytes]) -> str | None:
    """"plain" or "in a zstd frame" when CANARY is in the bytes or a frame inside them."""
    needle = CANARY.encode()
    if needle in blob:
        return "plain"
    decompressors = [zstandard.ZstdDecompressor()] + [
        zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(d))
        for d in dictionaries
    ]
    pos = blob.find(ZSTD_MAGIC)
    while pos >= 0:
        for d in decompressors:
            try:
                plain = d.decompressobj().decompress(blob[pos:])
            except zstandard.ZstdError:
                continue
            if needle in plain:
                return "in a zstd frame"
        pos = blob.find(ZSTD_MAGIC, pos + 1)
    return None


def leaks(settings: Settings, dictionaries: list[bytes]) -> tuple[dict[str, int], list[str]]:
    """Rows per table of the store's schema, and where CANARY shows up in plain or unzstd'ed."""
    rows_per_table: dict[str, int] = {}
    found: list[str] = []
    with psycopg.connect(libpq_dsn(settings.database_url)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (settings.database_schema,))]
        for table in tables:
            rows = conn.execute(
                psycopg.sql.SQL("SELECT * FROM {}.{}").format(
                    psycopg.sql.Identifier(settings.database_schema),
                    psycopg.sql.Identifier(table))).fetchall()
            rows_per_table[table] = len(rows)
            for n, row in enumerate(rows):
                for value in row:
                    blob = (bytes(value) if isinstance(value, bytes | memoryview)
                            else str(value).encode())
                    where = canary_in(blob, dictionaries)
                    if where:
                        found.append(f"{table} row {n}: {where}")
    return rows_per_table, found


def record_everything(settings: Settings) -> tuple[list[bytes], bytes]:
    """Events, snapshots, a dictionary, a checkpoint and a fork; returns the dictionaries in
    plain and the checkpoint exported as a .ctxpkg."""
    store = build_store(settings)
    store.record(secret_events("enc-agent", 0, 60))
    train_dictionary(store, dictionary_catalog(settings), samples=60, size=2048)
    store.record(secret_events("enc-agent", 60, 25))
    state = store.context("enc-agent")
    assert state["version"] == 85
    assert CANARY in state["messages"][0]["content"]
    # A checkpoint (package table row, CheckpointTaken event) and a fork (ContextRestored
    # event carrying the whole content).
    services = bootstrap(settings, store=store)
    # (A label is metadata: an exported manifest shows it in plain, so it holds no secret.)
    checkpoint = services.checkpoints.capture("enc-agent", label="nightly")
    services.restore.restore("enc-agent", Point.of_version(40), "enc-fork")
    exported = services.packages.export(checkpoint.package_id)
    return [d.data for d in dictionary_catalog(settings).all()], exported


def test_nothing_in_plain_text_when_encrypted(tmp_path: Path, postgres_dsn: str) -> None:
    settings = encrypted_settings(tmp_path, postgres_dsn)
    dictionaries, exported = record_everything(settings)
    rows, found = leaks(settings, dictionaries)
    assert found == []
    assert canary_in(exported, dictionaries) is None
    # Every kind of stored row was there to be searched.
    events_table = next(t for t in rows if t.endswith("_events"))
    snapshots_table = next(t for t in rows if t.endswith("_snapshots"))
    assert rows[events_table] == 85 + 1 + 1  # + CheckpointTaken + the fork's ContextRestored
    assert rows[snapshots_table] == 8
    assert rows["ctxstore_dictionaries"] == 1
    assert sum(n for t, n in rows.items() if "package" in t) == 1
    assert rows["ctxstore_parts"] > 0  # snapshots' and the fork's contents, searched too

    # Stored states are AES-GCM (nonce, tag, ciphertext) of zstd frames: compressed first,
    # then encrypted, so they are smaller than the plain payload they carry; under the agent's
    # own data key (persistence.data_keys), which the store key alone does not open.
    store = build_store(settings)
    keys = store.mapper.keys  # type: ignore[attr-defined]
    cipher = keys.cipher_for(aggregate_id("enc-agent"))
    assert cipher is not store.cipher
    for stored in [*store.recorder.select_events(aggregate_id("enc-agent")),
                   *store.snapshots.recorder.select_events(aggregate_id("enc-agent"))]:  # type: ignore[union-attr]
        assert not stored.state.startswith(ZSTD_MAGIC)
        assert cipher.decrypt(stored.state).startswith(ZSTD_MAGIC)
        with pytest.raises(DecryptionFailed):
            store.cipher.decrypt(stored.state)  # type: ignore[union-attr]
    assert store.context("enc-agent", version=37)["version"] == 37


def test_the_scan_finds_plain_text_without_encryption(tmp_path: Path, postgres_dsn: str
                                                      ) -> None:
    """The same scan on an unencrypted store finds the text: the check above can fail."""
    settings = make_settings("postgres", tmp_path, postgres_dsn, snapshot_interval=10)
    dictionaries, exported = record_everything(settings)
    _, found = leaks(settings, dictionaries)
    assert canary_in(exported, dictionaries) is not None
    assert any("_events row" in f and "zstd" in f for f in found)
    # Snapshots and the fork keep their contents as parts (application.part_content).
    assert any("ctxstore_parts row" in f for f in found)
    assert any("package" in f for f in found)
    assert any("ctxstore_dictionaries" in f for f in found)


def test_wrong_key_is_a_clear_error(tmp_path: Path, postgres_dsn: str) -> None:
    settings = encrypted_settings(tmp_path, postgres_dsn)
    build_store(settings).record(secret_events("keyed", 0, 15))
    other_key = SecretStr(AESCipher.create_key(32))

    wrong = build_store(settings.model_copy(update={"encryption_key": other_key}))
    with pytest.raises(ContextStoreError, match="CONTEXT_ENCRYPTION_KEY is not the key"):
        wrong.context("keyed")
    with pytest.raises(ContextStoreError, match="CONTEXT_ENCRYPTION_KEY is not the key"):
        wrong.context("keyed", version=3)

    unencrypted = build_store(settings.model_copy(update={"encryption_enabled": False}))
    with pytest.raises(ContextStoreError, match="may be encrypted"):
        unencrypted.context("keyed")

    # With a dictionary stored (encrypted too), a wrong key stops the store at start.
    store = build_store(settings)
    train_dictionary(store, dictionary_catalog(settings), samples=15, size=1024)
    with pytest.raises(ContextStoreError, match="CONTEXT_ENCRYPTION_KEY is not the key"):
        build_store(settings.model_copy(update={"encryption_key": other_key}))
    assert build_store(settings).context("keyed")["version"] == 15


@pytest.mark.parametrize(("key", "reason"), [
    ("not base64!", "not valid base64"),
    ("c2hvcnQ=", "decodes to 5 bytes"),
])
def test_malformed_key_is_named(tmp_path: Path, postgres_dsn: str, key: str, reason: str
                                ) -> None:
    with pytest.raises(ValueError, match=reason):
        build_store(encrypted_settings(tmp_path, postgres_dsn, key=key))
