"""`ctxstore rotate-key` as a user runs it (typer's runner, settings from the environment), on
SQLite, PostgreSQL and `hybrid` (part files): afterwards the store reads, verifies, restores
from its checkpoints and searches with the new key only; the old key fails in one clear line; a
wrong current key changes nothing; the new key never comes from the command line."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from pydantic import SecretStr
from support import make_settings, run_cli

from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import (
    bootstrap,
    build_compressor,
    dictionary_catalog,
    eventsourcing_env,
    store_schema,
)
from ctxstore.infrastructure.cli import common
from ctxstore.infrastructure.persistence.dictionary_training import train_dictionary
from ctxstore.infrastructure.persistence.part_files import FilePartStore, key_scope
from ctxstore.infrastructure.settings import Settings


def envelopes(agent: str, count: int, word: str) -> list[AnyEnvelope]:
    """A long system prompt (a part of the `semantic` checkpoints), then short messages."""
    prompt = f"You plan expeditions to the {word}. " + "Check the ropes twice. " * 40
    return [make_envelope(agent, "message", {"role": "system", "content": prompt},
                          event_id=str(uuid.uuid4()))] + [make_envelope(agent, "message", {
        "role": "user", "content": f"step {i}: the expedition to the {word} needs {i} ropes"},
        event_id=str(uuid.uuid4())) for i in range(count - 1)]


run = run_cli


def env_of(settings: Settings, key: str, **more: str) -> dict[str, str]:
    return {"CONTEXT_STORAGE_BACKEND": settings.storage_backend,
            "CONTEXT_STORAGE_PATH": str(settings.storage_path),
            "CONTEXT_DATABASE_URL": settings.database_url,
            "CONTEXT_DATABASE_SCHEMA": settings.database_schema,
            "CONTEXT_ENCRYPTION_ENABLED": "true", "CONTEXT_ENCRYPTION_KEY": key,
            "CONTEXT_COMPRESSION_STRATEGY": "semantic", "COLUMNS": "200", **more}


@pytest.fixture(params=["sqlite", "postgres", "hybrid"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param != "sqlite" else None
    yield make_settings(request.param, tmp_path, dsn, encryption_enabled=True,
                        encryption_key=AESCipher.create_key(32),
                        compression_strategy="semantic", snapshot_interval=10,
                        nats_url="nats://127.0.0.1:1")
    common.reset()


def fill(settings: Settings) -> tuple[str, str]:
    """An agent from before data keys (rows under the store key), one with its own key, a
    dictionary, semantic checkpoints of both (parts) and the search views; their package
    ids."""
    store_schema(settings).prepare()
    before = ContextStore(env=eventsourcing_env(settings),
                          compressor=build_compressor(settings), snapshot_interval=10)
    before.record(envelopes("old", 12, "Andes"))
    before.close()
    services = bootstrap(settings)
    try:
        services.store.record(envelopes("new", 60, "Himalayas"))
        train_dictionary(services.store, dictionary_catalog(settings), samples=60, size=2048)
        services.store.record(envelopes("new", 5, "Himalayas"))
        old = services.checkpoints.capture("old", label="old").package_id
        new = services.checkpoints.capture("new", label="new").package_id
    finally:
        services.close()
    return old, new


def test_after_rotation_only_the_new_key_opens_the_store(settings: Settings) -> None:
    assert settings.encryption_key is not None
    old_key = settings.encryption_key.get_secret_value()
    new_key = AESCipher.create_key(32)
    old_package, new_package = fill(settings)
    before = env_of(settings, old_key)
    run(before, "project", "--once")
    assert json.loads(run(before, "search", "Himalayas", "--json").output)

    refused = run(before, "rotate-key", "--yes", ok=False)  # no new key given
    assert refused.exit_code != 0 and "CONTEXT_NEW_ENCRYPTION_KEY" in refused.output
    rotated = run(env_of(settings, old_key, CONTEXT_NEW_ENCRYPTION_KEY=new_key),
                  "rotate-key", "--yes")
    assert "2 data keys" not in rotated.output  # the old agent's key row is new
    assert "1 data keys" in rotated.output and "1 agents from before" in rotated.output
    assert "1 dictionaries" in rotated.output and "projections rebuilt" in rotated.output
    parts = int(rotated.output.split(" parts encrypted")[0].rsplit(" ", 1)[1])
    assert parts > 0, rotated.output  # the semantic checkpoints' pieces

    after = env_of(settings, new_key)
    assert "no findings" in run(after, "verify", "--all").output
    assert json.loads(run(after, "context", "old", "--json").output)["version"] == 13
    assert json.loads(run(after, "context", "new", "--json").output)["version"] == 66
    hits = json.loads(run(after, "search", "Himalayas", "--json").output)
    assert hits and {h["agent_id"] for h in hits} == {"new"}
    assert {h["agent_id"] for h in json.loads(run(after, "search", "Andes", "--json").output)
            } == {"old"}
    services = bootstrap(settings.model_copy(update={"encryption_key": SecretStr(new_key)}))
    try:  # checkpoint bodies, metadata and parts all read under the new key
        for agent, package in (("old", old_package), ("new", new_package)):
            services.restore.restore(agent, Point.of_checkpoint(package), f"{agent}-copy")
            assert (services.store.context(f"{agent}-copy")["content_hash"]
                    == services.store.context(agent)["content_hash"])
    finally:
        services.close()

    stale = run(before, "context", "new", ok=False)  # the old key: one clear line
    assert stale.exit_code != 0 and "CONTEXT_ENCRYPTION_KEY is not the key" in stale.output
    assert len(stale.output.strip().splitlines()) == 1


def test_a_wrong_current_key_changes_nothing(settings: Settings) -> None:
    assert settings.encryption_key is not None
    key = settings.encryption_key.get_secret_value()
    services = bootstrap(settings)  # no dictionary: the rotation itself finds the wrong key
    try:
        services.store.record(envelopes("bot", 3, "Alps"))
    finally:
        services.close()
    wrong, new_key = AESCipher.create_key(32), AESCipher.create_key(32)
    key_file = settings.storage_path.parent / "new.key"
    key_file.write_text(new_key + "\n")
    failed = run(env_of(settings, wrong), "rotate-key", "--yes", "--new-key-file",
                 str(key_file), ok=False)
    assert failed.exit_code != 0 and "does not open this store" in failed.output
    assert "nothing was changed" in failed.output
    assert json.loads(run(env_of(settings, key), "context", "bot", "--json").output
                      )["version"] == 3
    same = run(env_of(settings, key, CONTEXT_NEW_ENCRYPTION_KEY=key), "rotate-key", "--yes",
               ok=False)
    assert same.exit_code != 0 and "the key the store has now" in same.output


def test_a_failure_part_way_changes_nothing(settings: Settings) -> None:
    """A part that does not decrypt (damaged) stops the rotation after the data keys were
    wrapped again: that is undone, and the store reads with its current key as before (and
    `hybrid`'s part files written under the new key are removed again)."""
    assert settings.encryption_key is not None
    key = settings.encryption_key.get_secret_value()
    fill(settings)
    # A damaged part nothing reads (so only the rotation meets it), last in its order.
    address, junk = "ff" * 32, b"\0" * 64
    if settings.bodies_in_files:
        scope = key_scope(key)
        path = FilePartStore(settings.storage_path / "parts", scope, None, None  # type: ignore[arg-type]
                             ).path(LOCAL_TENANT, address)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(junk)
        with psycopg.connect(settings.database_url) as conn:
            conn.execute(f'INSERT INTO "{settings.database_schema}".ctxstore_part_refs '
                         "VALUES (%s, 'pkg-junk', %s)", (LOCAL_TENANT, address))
    elif settings.engine == "sqlite":
        with sqlite3.connect(settings.sqlite_file) as conn:
            conn.execute("INSERT INTO stored_parts VALUES (?, ?, ?, ?, 0)",
                         (LOCAL_TENANT, key_scope(key), address, junk))
    else:
        with psycopg.connect(settings.database_url) as conn:
            conn.execute(f'INSERT INTO "{settings.database_schema}".ctxstore_parts '
                         "VALUES (%s, %s, %s, %s, 0)", (LOCAL_TENANT, key_scope(key), address,
                                                        junk))
    files_before = sorted(settings.storage_path.rglob("*"))
    failed = run(env_of(settings, key, CONTEXT_NEW_ENCRYPTION_KEY=AESCipher.create_key(32)),
                 "rotate-key", "--yes", ok=False)
    assert failed.exit_code != 0 and "nothing was changed" in failed.output
    assert "data keys: 1/1 wrapped" in failed.output  # it had got that far
    after = env_of(settings, key)
    assert json.loads(run(after, "context", "new", "--json").output)["version"] == 66
    assert json.loads(run(after, "context", "old", "--json").output)["version"] == 13
    if settings.bodies_in_files:  # the new key's part files were removed again
        assert [p for p in sorted(settings.storage_path.rglob("*"))
                if p.is_file()] == [p for p in files_before if p.is_file()]
