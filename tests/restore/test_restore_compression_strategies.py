"""CONTEXT_COMPRESSION_STRATEGY (basic, advanced, semantic) on every backend: each round-trips
capture -> restore (comprehensive validation) -> export -> import with the same content hash;
`semantic` keeps repeated content once in the part store, its parts go with the last package
that refers to them, tenants never share them, and packages made before read back."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from restore_support import Kit, env, msg, new_agent
from test_restore_packages import split

from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json

WORDS = ["read", "edit", "file", "test", "run", "patch", "search", "repository", "function",
         "error", "fix", "the", "a", "of", "before", "after", "careful", "agent", "tool",
         "result", "output", "check", "build", "user", "ask", "answer"]
_rng = random.Random(11)
# Prose of a few KB, as real prompts are (pieces start at 512 bytes: semantic_parts).
SYSTEM_PROMPT = "You are a careful software agent. " + " ".join(
    _rng.choice(WORDS) for _ in range(600))
TOOL_SCHEMAS = {"tools": [{"name": f"tool_{i}", "description": f"does thing {i} " * 6,
                           "input_schema": {"type": "object",
                                            "properties": {"path": {"type": "string"}}}}
                          for i in range(8)]}
FILE_VIEW = "\n".join(f"{n:4d}  def {_rng.choice(WORDS)}_{n}(x):  return x * {_rng.random()}"
                      for n in range(60))
STRATEGIES = ("basic", "advanced", "semantic")


def working_agent(kit: Kit, agent: str, *, tenant: str = "local", unique: str = "") -> str:
    """An agent as real ones are: the system prompt, an MCP server's tool schemas, the same
    file read three times, plus `unique` text of its own. Returns its key."""
    events = [msg(agent, SYSTEM_PROMPT, role="system"),
              env(agent, "mcp_state", {"server": "files", "state": TOOL_SCHEMAS})]
    for i in range(3):
        events += [env(agent, "tool_call", {"call_id": f"c{i}", "tool": "view",
                                            "arguments": {"path": "a.py"}}),
                   env(agent, "tool_result", {"call_id": f"c{i}", "output": FILE_VIEW})]
    if unique:
        events.append(msg(agent, unique))
    kit.store.record(events, tenant=tenant)
    return kit.store.key_for(tenant, agent)  # type: ignore[no-any-return]


def refs_table(kit: Kit) -> str:
    if kit.settings.engine == "sqlite":
        return "stored_part_refs"
    return f'"{kit.settings.database_schema}"."ctxstore_part_refs"'


def parts_of(kit: Kit, tenant: str = "local") -> int:
    """The tenant's parts but those of agents' contents (snapshots, restores: every one of
    them has a reference row of an `agent:` or `part:` owner, application.part_content)."""
    contents = kit.sql(f"SELECT count(DISTINCT address) FROM {refs_table(kit)} "
                       "WHERE tenant = ? AND package_id LIKE ?", (tenant, "%:%"))[0][0]
    return int(kit.checkpoints.parts.count(tenant)) - int(contents)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_round_trips(make_kit: Callable[..., Kit], strategy: str) -> None:
    kit = make_kit(strategy, compression_strategy=strategy)
    agent = working_agent(kit, new_agent(), unique="a message of its own")
    cp = kit.checkpoints.capture(agent)
    assert cp.compression_strategy.startswith(f"{strategy}/zstd-")
    assert ("+long" in cp.compression_strategy) == (strategy != "basic")
    assert cp.target_compression_ratio == 0.3
    assert cp.target_met == (cp.compressed_size_bytes / cp.original_size_bytes <= 0.3)
    loaded, state = kit.checkpoints.load(cp.package_id)
    assert state["content_hash"] == cp.integrity_hash == kit.hash(agent)
    target = new_agent("t")
    result = kit.restore.restore(None, Point.of_checkpoint(cp.package_id), target,
                                 validation_level="comprehensive")
    assert result.validation_level == "comprehensive"
    assert kit.hash(target) == cp.integrity_hash
    # The export is self-contained: its body is the whole state in one plain zstd frame.
    data = kit.services.packages.export(cp.package_id)
    manifest, body = split(data)
    assert zstandard.ZstdDecompressor().decompress(body) == canonical_json(state)
    other = make_kit(f"{strategy}-other",
                     compression_strategy="basic" if strategy == "semantic" else "semantic")
    imported = other.services.packages.import_package(data)
    assert other.checkpoints.load(imported.package_id)[1]["content_hash"] == cp.integrity_hash


def test_semantic_keeps_repeated_content_once(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(compression_strategy="semantic")
    first = working_agent(kit, new_agent())
    cp1 = kit.checkpoints.capture(first)
    # The prompt, the tool schemas and the file view (read three times): three pieces, plus
    # the body itself on `hybrid`.
    bodies = 1 if kit.settings.bodies_in_files else 0
    assert parts_of(kit) == 3 + bodies
    refs = kit.sql(f"SELECT address FROM {refs_table(kit)} WHERE package_id = ?",
                   (cp1.package_id,))
    assert len(refs) == 3 + bodies
    # Another agent with the same prompt, tools and file: nothing new but its body.
    second = working_agent(kit, new_agent())
    cp2 = kit.checkpoints.capture(second)
    assert parts_of(kit) == 3 + 2 * bodies
    assert cp2.compressed_size_bytes < cp1.compressed_size_bytes
    assert kit.checkpoints.load(cp2.package_id)[1]["content_hash"] == kit.hash(second)
    # Against advanced on the same two captures, semantic stored less.
    advanced = make_kit("advanced", compression_strategy="advanced")
    sizes = [advanced.checkpoints.capture(working_agent(advanced, new_agent()))
             .compressed_size_bytes for _ in range(2)]
    assert cp1.compressed_size_bytes + cp2.compressed_size_bytes < sum(sizes)


def test_parts_go_with_the_last_package_referring_to_them(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(compression_strategy="semantic", max_checkpoints_per_agent=1)
    own = "text of this agent alone " * 40
    agent = working_agent(kit, new_agent(), unique=own)
    old = kit.checkpoints.capture(agent)
    bodies = 1 if kit.settings.bodies_in_files else 0
    assert parts_of(kit) == 4 + bodies
    # A second agent shares the prompt, the tools and the file view, not the first's text.
    other = working_agent(kit, new_agent())
    kept = kit.checkpoints.capture(other)
    assert parts_of(kit) == 4 + 2 * bodies
    # The first agent rewinds to nothing and is captured: retention (one per agent) prunes
    # its old package, whose own text nothing else refers to; the shared pieces stay.
    kit.restore.restore(agent, Point.of_version(0), agent)
    kit.checkpoints.capture(agent)
    assert parts_of(kit) == 3 + 2 * bodies
    assert kit.sql(f"SELECT count(*) FROM {refs_table(kit)} WHERE package_id = ?",
                   (old.package_id,))[0][0] == 0
    assert kit.checkpoints.load(kept.package_id)[1]["content_hash"] == kept.integrity_hash
    # The second's package pruned too: nothing refers to any piece any more (the two empty
    # states' bodies differ in their agent ids: two body parts on `hybrid`).
    kit.restore.restore(other, Point.of_version(0), other)
    kit.checkpoints.capture(other)
    assert parts_of(kit) == 2 * bodies


def test_tenants_never_share_parts(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(compression_strategy="semantic", max_checkpoints_per_agent=1)
    agent = new_agent()
    a = working_agent(kit, agent, tenant="tenant-a")
    b = working_agent(kit, agent, tenant="tenant-b")
    kit.checkpoints.capture(a)
    cp_b = kit.checkpoints.capture(b)
    bodies = 1 if kit.settings.bodies_in_files else 0
    assert parts_of(kit, "tenant-a") == parts_of(kit, "tenant-b") == 3 + bodies
    # Tenant a rewinds to nothing and captures: its old package and parts go; b's stay.
    kit.restore.restore(a, Point.of_version(0), a)
    kit.checkpoints.capture(a)
    assert parts_of(kit, "tenant-a") == bodies
    assert parts_of(kit, "tenant-b") == 3 + bodies
    assert kit.checkpoints.load(cp_b.package_id, "tenant-b")[1]["content_hash"] == \
        cp_b.integrity_hash


def test_packages_of_every_strategy_read_back_under_another(
        make_kit: Callable[..., Kit], tmp_path: Path) -> None:
    """A store's strategy may change: packages made under the earlier one, and those made
    before strategies existed (`zstd-11`, one frame), read back."""
    kit = make_kit("mixed", compression_strategy="semantic")
    agent = working_agent(kit, new_agent())
    semantic = kit.checkpoints.capture(agent)
    old = kit.checkpoints.capture(agent, version=semantic.version - 1)
    # As a release before strategies wrote it: the metadata says `zstd-11`, the body a frame.
    codec = kit.checkpoints.codec
    state = kit.store.context(agent, version=old.version)
    meta = {**old.to_dict(), "compression_strategy": "zstd-11"}
    del meta["target_compression_ratio"], meta["target_met"]
    kit.sql(f"UPDATE {kit.table('packages')} SET meta = ?, body = ?, body_part = NULL "
            "WHERE package_id = ?", (codec.encode(canonical_json(meta)),
                                     codec.encode(canonical_json(state)), old.package_id))
    for strategy in ("basic", "advanced"):
        settings = kit.settings.model_copy(update={"compression_strategy": strategy})
        from ctxstore.infrastructure.bootstrap import bootstrap

        services = bootstrap(settings, store=kit.store)
        assert services.checkpoints.load(semantic.package_id)[1]["content_hash"] == \
            semantic.integrity_hash
        before = services.checkpoints.load(old.package_id)
        assert before[0].compression_strategy == "zstd-11"
        assert before[0].target_met is None
        assert before[1]["content_hash"] == old.integrity_hash


def test_encrypted_parts_hold_no_plain_text(tmp_path: Path) -> None:
    from eventsourcing.cryptography import AESCipher
    from support import make_settings

    from ctxstore.infrastructure.bootstrap import bootstrap, build_store

    settings = make_settings("sqlite", tmp_path, compression_strategy="semantic",
                             encryption_enabled=True,
                             encryption_key=AESCipher.create_key(32))
    store = build_store(settings)
    kit = Kit(settings, store, bootstrap(settings, store=store))
    agent = working_agent(kit, new_agent())
    cp = kit.checkpoints.capture(agent)
    rows = kit.sql("SELECT data FROM stored_parts")
    assert len(rows) == 3
    for (data,) in rows:  # AES-GCM, not a readable zstd frame
        assert not bytes(data).startswith(b"\x28\xb5\x2f\xfd")
    assert kit.checkpoints.load(cp.package_id)[1]["content_hash"] == cp.integrity_hash
    store.close()


@pytest.mark.parametrize(("name", "value", "says"), [
    ("CONTEXT_COMPRESSION_STRATEGY", "zip", "must be one of 'semantic', 'basic' or 'advanced'"),
    ("CONTEXT_DEFAULT_COMPRESSION_RATIO", "2", "less than or equal to 1"),
])
def test_a_bad_value_is_one_line(tmp_path: Path, name: str, value: str, says: str) -> None:
    run = subprocess.run([sys.executable, "-m", "ctxstore", "migrate"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "CONTEXT_STORAGE_BACKEND": "sqlite",
                              "CONTEXT_STORAGE_PATH": str(tmp_path), name: value})
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and says in lines[0], run.stderr


@pytest.mark.parametrize("strategy", ["advanced", "semantic"])
def test_with_a_trained_dictionary(make_kit: Callable[..., Kit], strategy: str) -> None:
    """Frames made with explicit parameters (long-distance matching) name their dictionary,
    so they read back (they once did not: a frame without its dictionary id)."""
    from ctxstore.infrastructure.bootstrap import bootstrap, dictionary_catalog
    from ctxstore.infrastructure.persistence.dictionary_training import train_dictionary

    kit = make_kit(compression_strategy=strategy)
    agent = new_agent()
    kit.store.record([msg(agent, f"{_rng.choice(WORDS)} {n} " * (3 + n % 7))
                      for n in range(80)])
    train_dictionary(kit.store, dictionary_catalog(kit.settings), samples=80, size=1024)
    services = bootstrap(kit.settings, store=kit.store)
    working_agent(kit, agent)
    cp = services.checkpoints.capture(agent)
    assert "+long+dict-" in cp.compression_strategy
    assert services.checkpoints.load(cp.package_id)[1]["content_hash"] == kit.hash(agent)
