""".ctxpkg export/import between two real stores: round trip with the same hash, refusal of
tampered, truncated, foreign, oversized or wrongly keyed files with nothing written."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable

import pytest
import zstandard
from eventsourcing.cipher import AESCipher
from restore_support import Kit, env, msg, new_agent

from ctxstore.application.errors import InvalidPackageFile, PackageExists, PackageTooLarge
from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json, content_hash
from ctxstore.infrastructure.persistence.ctxpkg_codec import MAGIC

HEADER = struct.Struct(">8sIQ")


def exported(kit: Kit) -> tuple[str, str, bytes]:
    agent = new_agent()
    kit.store.record([
        msg(agent, "hello"), msg(agent, "world", role="assistant"),
        env(agent, "memory_stored", {"memory_id": "k", "kind": "semantic", "content": "tea"}),
        env(agent, "mcp_state", {"server": "fs", "state": {"root": "/"}}),
    ])
    cp = kit.checkpoints.capture(agent, label="portable")
    return agent, cp.package_id, kit.services.packages.export(cp.package_id)


def split(data: bytes) -> tuple[dict[str, object], bytes]:
    _, manifest_n, body_n = HEADER.unpack_from(data)
    manifest = json.loads(data[HEADER.size:HEADER.size + manifest_n])
    return manifest, data[HEADER.size + manifest_n:HEADER.size + manifest_n + body_n]


def frame(manifest: dict[str, object], body: bytes) -> bytes:
    manifest_bytes = canonical_json(manifest)
    head = HEADER.pack(MAGIC, len(manifest_bytes), len(body)) + manifest_bytes + body
    return head + hashlib.sha256(head).digest()


def test_round_trip_into_another_store(make_kit: Callable[..., Kit]) -> None:
    one, two = make_kit("one"), make_kit("two")
    agent, package_id, data = exported(one)
    assert data.startswith(MAGIC)
    manifest, body = split(data)
    assert manifest["integrity_hash"] == one.checkpoints.get(package_id).integrity_hash
    # The body is a plain zstd frame of the canonical state: readable without ctxstore.
    state = json.loads(zstandard.ZstdDecompressor().decompress(body))
    assert content_hash(state) == manifest["integrity_hash"]

    imported = two.services.packages.import_package(data)
    original = one.checkpoints.get(package_id)
    assert imported.package_id == package_id and imported.origin == "imported"
    assert (imported.integrity_hash, imported.label, imported.version, imported.agent_id) == (
        original.integrity_hash, original.label, original.version, agent)
    assert two.checkpoints.list() == [imported]
    assert two.services.packages.import_package(data) == imported  # idempotent
    # Restorable by id in the new store, with the same hash.
    target = new_agent("there")
    result = two.restore.restore(None, Point.of_checkpoint(package_id), target)
    assert result.content_hash == original.integrity_hash == two.hash(target)
    # Its history is elsewhere: comprehensive validation cannot be done here.
    with pytest.raises(Exception, match="imported"):
        two.restore.restore(None, Point.of_checkpoint(package_id), target,
                            validation_level="comprehensive")
    # And it exports again, byte for byte the same state.
    again = two.services.packages.export(package_id)
    assert split(again)[0]["integrity_hash"] == manifest["integrity_hash"]


def damaged_files(data: bytes) -> dict[str, bytes]:
    manifest, body = split(data)
    other_state = json.loads(zstandard.ZstdDecompressor().decompress(body))
    other_state["messages"][0]["content"] = "forged"
    forged_raw = canonical_json(other_state)
    forged_body = zstandard.ZstdCompressor().compress(forged_raw)
    forged_manifest = json.loads(json.dumps(manifest))
    forged_manifest["body"].update(size=len(forged_body), original_size=len(forged_raw),
                                   sha256=hashlib.sha256(forged_body).hexdigest())
    bad_manifest = json.loads(json.dumps(manifest))
    bad_manifest["checkpoint"]["agent_id"] = "not a valid id!"
    return {
        "flip body byte": data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
        "flip manifest byte": data[:30] + bytes([data[30] ^ 1]) + data[31:],
        "truncated": data[: len(data) - 100],
        "truncated header": data[:10],
        "trailing bytes": data + b"extra",
        "empty": b"",
        "not a package": b"PK\x03\x04" + b"\x00" * 100,
        "future format": b"CTXPKG\x00\x09" + data[8:],
        "pickle": b"\x80\x04\x95" + data[3:],
        "forged state, consistent framing": frame(forged_manifest, forged_body),
        "invalid manifest": frame(bad_manifest, body),
    }


DAMAGES = ["flip body byte", "flip manifest byte", "truncated", "truncated header",
           "trailing bytes", "empty", "not a package", "future format", "pickle",
           "forged state, consistent framing", "invalid manifest"]


def test_damaged_files_are_refused_and_nothing_written(make_kit: Callable[..., Kit]) -> None:
    one, two = make_kit("one"), make_kit("two")
    _, _, data = exported(one)
    files = damaged_files(data)
    assert sorted(files) == sorted(DAMAGES)
    for damage, bad in files.items():
        with pytest.raises(InvalidPackageFile) as caught:
            two.services.packages.import_package(bad)
        reason = str(caught.value)
        assert reason and "\n" not in reason, damage  # a clear, one-line reason
    assert two.checkpoints.list() == []
    assert two.services.packages.import_package(data).origin == "imported"


def test_size_limit_and_conflicting_ids(make_kit: Callable[..., Kit]) -> None:
    one = make_kit("one")
    small = make_kit("small", max_package_size_mb=0.0002)  # 209 bytes
    _, package_id, data = exported(one)
    with pytest.raises(PackageTooLarge):
        small.services.packages.import_package(data)
    assert small.checkpoints.list() == []
    # Another package under an id the store already has, with other content.
    two = make_kit("two")
    two.services.packages.import_package(data)
    manifest, body = split(data)
    state = json.loads(zstandard.ZstdDecompressor().decompress(body))
    state["messages"] = []
    state["content_hash"] = content_hash(state)
    raw = canonical_json(state)
    new_body = zstandard.ZstdCompressor().compress(raw)
    manifest["integrity_hash"] = state["content_hash"]
    manifest["checkpoint"]["integrity_hash"] = state["content_hash"]  # type: ignore[index]
    manifest["body"].update(size=len(new_body), original_size=len(raw),  # type: ignore[attr-defined]
                            sha256=hashlib.sha256(new_body).hexdigest())
    with pytest.raises(PackageExists, match=package_id):
        two.services.packages.import_package(frame(manifest, new_body))


def test_encrypted_export_needs_the_same_key(make_kit: Callable[..., Kit]) -> None:
    key = AESCipher.create_key(32)
    one = make_kit("one", encryption_enabled=True, encryption_key=key)
    _, package_id, data = exported(one)
    manifest, body = split(data)
    assert manifest["body"]["encryption"] == "aes-gcm"  # type: ignore[index]
    assert b"hello" not in body
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompress(body)
    plain = make_kit("plain")
    with pytest.raises(InvalidPackageFile, match="no CONTEXT_ENCRYPTION_KEY"):
        plain.services.packages.import_package(data)
    other = make_kit("other", encryption_enabled=True, encryption_key=AESCipher.create_key(32))
    with pytest.raises(InvalidPackageFile, match="another key"):
        other.services.packages.import_package(data)
    assert plain.checkpoints.list() == [] and other.checkpoints.list() == []
    same = make_kit("same", encryption_enabled=True, encryption_key=key)
    imported = same.services.packages.import_package(data)
    assert imported.is_encrypted and imported.integrity_hash == one.checkpoints.get(
        package_id).integrity_hash
