"""`hybrid`: checkpoint bodies as content-addressed files under CONTEXT_STORAGE_PATH.

The body is a file before its row commits, the row holds only its address, identical content
is one file, a pruned checkpoint's file goes when no other row refers to it, files no row
refers to are collected (`ctxstore parts-gc`), and a tenant never shares another's file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from restore_support import Kit, msg, new_agent
from support import make_settings

from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import bootstrap, build_store


@pytest.fixture
def hybrid(tmp_path: Path, postgres_dsn: str) -> Kit:
    settings = make_settings("hybrid", tmp_path, postgres_dsn, max_checkpoints_per_agent=2)
    store = build_store(settings)
    return Kit(settings, store, bootstrap(settings, store=store))


def files(kit: Kit) -> list[Path]:
    return sorted(p for p in (kit.settings.storage_path / "parts").glob("*/*/*"))


def test_bodies_are_files_shared_by_content_and_released(hybrid: Kit) -> None:
    kit = hybrid
    agent = new_agent()
    kit.store.record([msg(agent, "hello"), msg(agent, "world")])
    first = kit.checkpoints.capture(agent, label="one")
    path = kit.body_file(first.package_id)
    assert path is not None and files(kit) == [path]
    row_body = kit.sql(f"SELECT body FROM {kit.table('packages')} WHERE package_id = ?",
                       (first.package_id,))[0][0]
    assert bytes(row_body) == b""  # the row holds the address only
    # The same point again (its own capture event came after it): one file for both.
    second = kit.checkpoints.capture(agent, version=first.version, label="two")
    assert kit.body_file(second.package_id) == path and files(kit) == [path]
    # Retention (two per agent) prunes the first: the second still refers to the file.
    kit.store.record([msg(agent, "more")])
    third = kit.checkpoints.capture(agent, label="three")
    assert [c.package_id for c in kit.checkpoints.list(agent)] == [second.package_id,
                                                                   third.package_id]
    assert path.exists() and len(files(kit)) == 2
    # Pruning the second too: no row refers to its file, so it goes.
    kit.store.record([msg(agent, "again")])
    kit.checkpoints.capture(agent, label="four")
    assert not path.exists() and len(files(kit)) == 2
    # Every kept checkpoint restores from its file.
    target = new_agent("t")
    kit.restore.restore(agent, Point.of_checkpoint(third.package_id), target)
    assert kit.hash(target) == third.integrity_hash


def test_files_no_row_refers_to_are_collected(hybrid: Kit) -> None:
    kit = hybrid
    agent = new_agent()
    kit.store.record([msg(agent, "kept")])
    kept = kit.checkpoints.capture(agent)
    parts = kit.services.checkpoints.parts
    assert parts is not None
    # A writer that crashed after its file and before its row: an orphan.
    orphan = "ab" * 32
    parts.put("local", orphan, b"never referred to")
    young = parts.path("local", orphan)  # type: ignore[attr-defined]
    assert young.exists()
    assert parts.collect(min_age_seconds=3600) == []  # young: its row may be on the way
    old = young.stat().st_mtime - 7200
    os.utime(young, (old, old))
    assert parts.collect(min_age_seconds=3600) == [orphan]
    assert not young.exists()
    assert kit.body_file(kept.package_id).exists()  # type: ignore[union-attr]


def test_tenants_never_share_a_file(hybrid: Kit) -> None:
    kit = hybrid
    parts = kit.services.checkpoints.parts
    assert parts is not None
    address = "cd" * 32
    parts.put("tenant-a", address, b"a's bytes")
    parts.put("tenant-b", address, b"b's bytes")
    assert parts.get("tenant-a", address) == b"a's bytes"
    assert parts.get("tenant-b", address) == b"b's bytes"
    assert parts.path("tenant-a", address) != parts.path("tenant-b", address)  # type: ignore[attr-defined]
