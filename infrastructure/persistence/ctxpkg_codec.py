"""The `.ctxpkg` byte format (DESIGN §3): a portable checkpoint file, never pickle.

Layout (all integers big-endian):

    magic       8 bytes  b"CTXPKG\\x00\\x01"   (format name, format version 1)
    manifest_n  4 bytes  length of the manifest
    body_n      8 bytes  length of the body
    manifest    canonical JSON: format, checkpoint metadata, integrity hash, body facts
    body        one zstd frame (no dictionary, so any store can read it) of the canonical
                JSON of the agent state; AES-GCM encrypted when the exporting store encrypts
    checksum    32 bytes SHA-256 of everything before it

Reading checks magic, lengths (truncation), checksum, the manifest's shape, the body hash,
decryption and the decompressed size (streamed, never past the manifest's declared size).
What the state may hold is application.packages' to check.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import Cipher
from pydantic import ValidationError

from ctxstore.application.errors import InvalidPackageFile
from ctxstore.application.package_file_port import (
    FORMAT,
    FORMAT_VERSION,
    BodyFacts,
    Manifest,
    PackageFileCodec,
)
from ctxstore.domain import bounds
from ctxstore.domain.bounds import OutOfBounds
from ctxstore.domain.state import canonical_json
from ctxstore.infrastructure.persistence.portable import PortableZstd

MAGIC = b"CTXPKG\x00\x01"
_HEADER = struct.Struct(">8sIQ")
_CHECKSUM_BYTES = 32
MAX_MANIFEST_BYTES = 1024 * 1024


class CtxpkgCodec(PackageFileCodec):
    """`.ctxpkg` files of one store: its cipher (None: plain) and a dictionary-free zstd."""

    def __init__(self, compressor: PortableZstd, cipher: Cipher | None = None):
        self.compressor = compressor
        self.cipher = cipher

    @property
    def max_overhead(self) -> int:
        return MAX_MANIFEST_BYTES + _HEADER.size + 64

    def encode(self, checkpoint: Mapping[str, Any], integrity_hash: str, state: bytes
               ) -> bytes:
        body = self.compressor.compress(state)
        if self.cipher is not None:
            body = self.cipher.encrypt(body)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "integrity_hash": integrity_hash,
            "checkpoint": dict(checkpoint),
            "body": {
                "compression": "zstd",
                "encryption": "aes-gcm" if self.cipher is not None else None,
                "size": len(body),
                "original_size": len(state),
                "sha256": hashlib.sha256(body).hexdigest(),
            },
        }
        manifest_bytes = canonical_json(manifest)
        head = _HEADER.pack(MAGIC, len(manifest_bytes), len(body)) + manifest_bytes + body
        return head + hashlib.sha256(head).digest()

    def unframe(self, data: bytes) -> tuple[Manifest, bytes]:
        if len(data) < _HEADER.size + _CHECKSUM_BYTES or not data.startswith(MAGIC[:6]):
            raise InvalidPackageFile("not a .ctxpkg file (bad magic or too short)")
        magic, manifest_n, body_n = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise InvalidPackageFile(
                f"unsupported .ctxpkg format version {int.from_bytes(magic[6:], 'big')} "
                f"(this store reads {FORMAT_VERSION})")
        expected = _HEADER.size + manifest_n + body_n + _CHECKSUM_BYTES
        if len(data) < expected:
            raise InvalidPackageFile(
                f"package file is truncated: {len(data)} bytes of {expected}")
        if len(data) > expected:
            raise InvalidPackageFile(
                f"package file has {len(data) - expected} unexpected bytes at its end")
        if manifest_n > MAX_MANIFEST_BYTES:
            raise InvalidPackageFile(f"manifest is {manifest_n} bytes, over the limit")
        head = data[:-_CHECKSUM_BYTES]
        if hashlib.sha256(head).digest() != data[-_CHECKSUM_BYTES:]:
            raise InvalidPackageFile("package checksum mismatch: the file was altered or damaged")
        manifest_bytes = data[_HEADER.size:_HEADER.size + manifest_n]
        body = data[_HEADER.size + manifest_n:-_CHECKSUM_BYTES]
        try:
            manifest = Manifest.model_validate(_json_object(manifest_bytes))
        except ValidationError as e:
            errors = e.errors(include_url=False)
            where = "; ".join(".".join(str(p) for p in err["loc"]) + ": " + err["msg"]
                              for err in errors)
            first = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
            raise InvalidPackageFile(f"invalid manifest: {where}",
                                     field="manifest." + first if first else "manifest"
                                     ) from None
        if manifest.body.size != len(body):
            raise InvalidPackageFile("package body length disagrees with its manifest")
        if hashlib.sha256(body).hexdigest() != manifest.body.sha256:
            raise InvalidPackageFile("package body hash mismatch: the body was altered")
        return manifest, body

    def open_body(self, facts: BodyFacts, body: bytes) -> bytes:
        if facts.encryption is not None:
            if self.cipher is None:
                raise InvalidPackageFile(
                    "package is encrypted; this store has no CONTEXT_ENCRYPTION_KEY to read it")
            try:
                body = self.cipher.decrypt(body)
            except Exception as e:  # noqa: BLE001
                raise InvalidPackageFile(
                    "package cannot be decrypted: it was encrypted with another key "
                    f"({type(e).__name__})") from e
        try:
            # Never more than the manifest declares: a crafted frame cannot exhaust memory.
            raw = self.compressor.decompress_bounded(body, facts.original_size)
        except Exception as e:  # noqa: BLE001
            raise InvalidPackageFile(
                f"package body is not a zstd frame of the {facts.original_size} bytes its "
                f"manifest declares: {e}") from e
        if len(raw) != facts.original_size:
            raise InvalidPackageFile(
                f"package body is {len(raw)} bytes, its manifest says {facts.original_size}")
        return raw


def _json_object(data: bytes) -> Any:
    try:
        value, _ = bounds.loads(data)
        bounds.check_json(value)
    except OutOfBounds as e:
        raise InvalidPackageFile(f"invalid manifest: {e}", field=f"manifest.{e.field}"
                                 ) from None
    except ValueError as e:
        raise InvalidPackageFile(f"manifest is not JSON: {e}") from e
    if not isinstance(value, dict):
        raise InvalidPackageFile("manifest is not a JSON object")
    return value
