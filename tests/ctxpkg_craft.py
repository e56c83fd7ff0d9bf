"""Crafting `.ctxpkg` files as an attacker would: any state, re-hashed and re-framed so that
every integrity check passes (the hash is no defence against its author)."""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import zstandard

from ctxstore.domain.state import CONTENT_FIELDS, canonical_json

_HEADER = struct.Struct(">8sIQ")


def unpacked(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest and the state of an unencrypted package."""
    _, manifest_n, body_n = _HEADER.unpack_from(data)
    manifest = json.loads(data[_HEADER.size:_HEADER.size + manifest_n])
    body = data[_HEADER.size + manifest_n:_HEADER.size + manifest_n + body_n]
    return manifest, json.loads(zstandard.ZstdDecompressor().decompress(body))


def repacked(manifest: dict[str, Any], state: dict[str, Any], package_id: str) -> bytes:
    """A package of `state` under `package_id`, hashes and lengths made right."""
    state = dict(state)
    # domain.state.content_hash, also over a state lacking some of its fields.
    content = {f: state[f] for f in CONTENT_FIELDS if f in state}
    digest = "sha256:" + hashlib.sha256(canonical_json(content)).hexdigest()
    state["content_hash"] = digest
    raw = canonical_json(state)
    body = zstandard.ZstdCompressor().compress(raw)
    checkpoint = {**manifest["checkpoint"], "package_id": package_id, "integrity_hash": digest}
    manifest = {**manifest, "integrity_hash": digest, "checkpoint": checkpoint,
                "body": {**manifest["body"], "size": len(body), "original_size": len(raw),
                         "sha256": hashlib.sha256(body).hexdigest()}}
    manifest_bytes = canonical_json(manifest)
    head = _HEADER.pack(b"CTXPKG\x00\x01", len(manifest_bytes), len(body)) + manifest_bytes + body
    return head + hashlib.sha256(head).digest()
