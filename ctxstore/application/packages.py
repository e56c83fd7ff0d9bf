"""Portable checkpoint files (`.ctxpkg`, DESIGN §3): export from one store, import into another.

Layout (all integers big-endian), never pickle:

    magic       8 bytes  b"CTXPKG\\x00\\x01"   (format name, format version 1)
    manifest_n  4 bytes  length of the manifest
    body_n      8 bytes  length of the body
    manifest    canonical JSON: format, checkpoint metadata, integrity hash, body facts
    body        one zstd frame (no dictionary, so any store can read it) of the canonical
                JSON of the agent state; AES-GCM encrypted when the exporting store encrypts
    checksum    32 bytes SHA-256 of everything before it

Import checks size, magic, lengths (truncation), checksum, manifest, body hash, decryption,
decompressed size (streamed, never past the manifest's declared size), the state's shape
(domain.state_check: the wire event models, so a package cannot hold what no event could) and
the content hash before anything is written.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from eventsourcing.persistence import Cipher
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ctxstore.application.checkpoint_model import ACCESS_LEVELS, Checkpoint, check_integrity
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.errors import (
    CheckpointNotFound,
    CorruptedCheckpoint,
    InvalidPackageFile,
    PackageExists,
)
from ctxstore.domain import bounds
from ctxstore.domain.agent_id import AGENT_ID_PATTERN, LOCAL_TENANT, plain_agent_id
from ctxstore.domain.bounds import BoundedText, Int64, OutOfBounds, PackageId, check_time
from ctxstore.domain.state import canonical_json
from ctxstore.domain.state_check import InvalidState, check_state

MAGIC = b"CTXPKG\x00\x01"
FORMAT = "ctxpkg"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sIQ")
_CHECKSUM_BYTES = 32
MAX_MANIFEST_BYTES = 1024 * 1024
FILE_SUFFIX = ".ctxpkg"


class _CheckpointFields(BaseModel):
    """A package's checkpoint metadata, within the bounds every door applies (domain.bounds):
    the id becomes a path segment, a header and a file name; the numbers land in 64-bit
    columns; the time must be one the catalogue can order and print."""

    model_config = ConfigDict(extra="ignore")

    package_id: PackageId
    agent_id: str = Field(pattern=AGENT_ID_PATTERN)
    session_id: BoundedText | None = None
    version: Int64
    created_at: str
    label: BoundedText | None = None
    original_size_bytes: Int64
    compressed_size_bytes: Int64
    compression_ratio: float = Field(allow_inf_nan=False)
    compression_strategy: BoundedText
    integrity_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    message_count: Int64
    reasoning_thread_count: Int64
    tool_invocation_count: Int64
    memory_count: Int64
    is_encrypted: bool
    access_level: BoundedText
    origin: BoundedText = "captured"

    @field_validator("created_at")
    @classmethod
    def _created_at(cls, value: str) -> str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an RFC 3339 time: {value[:64]!r}") from None
        try:
            check_time(moment, "created_at")
        except OutOfBounds as e:
            raise ValueError(e.message) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


class _Body(BaseModel):
    compression: Literal["zstd"]
    encryption: Literal["aes-gcm"] | None
    size: Int64
    original_size: Int64
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(BaseModel):
    """The manifest of a .ctxpkg file."""

    format: Literal["ctxpkg"]
    format_version: Literal[1]
    integrity_hash: str
    checkpoint: _CheckpointFields
    body: _Body


class PortableCompressor(Protocol):
    """Plain zstd frames (no dictionary), and decompression bounded for untrusted files."""

    level: int

    def compress(self, data: bytes) -> bytes: ...

    def decompress_bounded(self, data: bytes, max_size: int) -> bytes:
        """The frame's content; ValueError when it declares or yields over `max_size` bytes."""
        ...


class PackageService:
    """Export checkpoints to `.ctxpkg` bytes and import them (verified) into this store."""

    def __init__(self, checkpoints: CheckpointService, portable_compressor: PortableCompressor,
                 cipher: Cipher | None = None):
        self.checkpoints = checkpoints
        self.compressor = portable_compressor
        self.cipher = cipher if cipher is not None else checkpoints.codec.cipher

    def export(self, package_id: str, tenant: str = LOCAL_TENANT) -> bytes:
        """The `.ctxpkg` bytes of a checkpoint this tenant may read (verified against its hash
        first). The file names the agent by its agent id, not this store's tenants.

        Raises CheckpointNotFound, CorruptedCheckpoint.
        """
        checkpoint, state = self.checkpoints.load(package_id, tenant)
        raw = canonical_json(state)
        body = self.compressor.compress(raw)
        if self.cipher is not None:
            body = self.cipher.encrypt(body)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "integrity_hash": checkpoint.integrity_hash,
            "checkpoint": {**{k: v for k, v in checkpoint.to_dict().items()
                              if k not in ("event_version", "shared_with")},
                           "agent_id": plain_agent_id(checkpoint.agent_id)},
            "body": {
                "compression": "zstd",
                "encryption": "aes-gcm" if self.cipher is not None else None,
                "size": len(body),
                "original_size": len(raw),
                "sha256": hashlib.sha256(body).hexdigest(),
            },
        }
        manifest_bytes = canonical_json(manifest)
        head = _HEADER.pack(MAGIC, len(manifest_bytes), len(body)) + manifest_bytes + body
        return head + hashlib.sha256(head).digest()

    def read_manifest(self, data: bytes) -> Manifest:
        """The verified manifest of a `.ctxpkg` file (framing and checksum checked)."""
        manifest, _ = self._unframe(data)
        return manifest

    def import_package(self, data: bytes, tenant: str = LOCAL_TENANT) -> Checkpoint:
        """Verify a `.ctxpkg` file completely, then keep it as a checkpoint of this tenant,
        of its agent of the id the file names (package ids are the tenant's: another tenant's
        package of the same id that this tenant cannot read is neither an obstacle nor
        revealed; one it can read is a PackageExists, as its own is).

        Importing the same package again returns the one already kept. Raises
        InvalidPackageFile (not a package, truncated, tampered, wrong key), PackageTooLarge,
        PackageExists (same id, other content); nothing is written on error.
        """
        manifest, body = self._unframe(data)
        info = manifest.body
        self.checkpoints.check_size(info.original_size, "package state")
        if info.encryption is not None:
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
            raw = self.compressor.decompress_bounded(body, info.original_size)
        except Exception as e:  # noqa: BLE001
            raise InvalidPackageFile(
                f"package body is not a zstd frame of the {info.original_size} bytes its "
                f"manifest declares: {e}") from e
        if len(raw) != info.original_size:
            raise InvalidPackageFile(
                f"package body is {len(raw)} bytes, its manifest says {info.original_size}")
        try:
            state, _ = bounds.loads(raw)
            bounds.check_json(state, "state", max_depth=bounds.MAX_STATE_DEPTH)
        except OutOfBounds as e:
            raise InvalidPackageFile(f"package body: {e}", field=f"body.{e.field}") from None
        except ValueError as e:
            raise InvalidPackageFile(f"package body is not JSON: {e}") from e
        try:
            # The same models as wire events: what the store accepts, every reader reads back.
            check_state(state)
        except InvalidState as e:
            field = f"body.state.{e.field}"
            raise InvalidPackageFile(f"package body is not a valid agent state: {field}: "
                                     f"{e.message}", field=field) from None
        fields = manifest.checkpoint
        if fields.integrity_hash != manifest.integrity_hash:
            raise InvalidPackageFile("manifest integrity hashes disagree")
        try:
            check_integrity(state, manifest.integrity_hash)
        except CorruptedCheckpoint as e:
            raise InvalidPackageFile(f"package state fails its integrity check: {e}") from None
        if state["agent_id"] != fields.agent_id or state["version"] != fields.version:
            raise InvalidPackageFile("package state is not the agent/version its manifest names")
        if fields.access_level not in ACCESS_LEVELS:
            raise InvalidPackageFile(f"manifest access_level {fields.access_level!r} is unknown")
        checkpoint = Checkpoint.from_dict({
            **fields.model_dump(), "shared_with": (),
            "agent_id": self.checkpoints.store.key_for(tenant, fields.agent_id)})
        try:
            owner, held = self.checkpoints.find(checkpoint.package_id, tenant)
        except CheckpointNotFound:
            # Not visible to this tenant (absent, or another's private one): importable, and
            # nothing about the other one is revealed.
            return self.checkpoints.store_imported(checkpoint, raw, tenant)
        if owner == tenant and held.integrity_hash == checkpoint.integrity_hash:
            return held
        # A tenant never sees two packages of one id; this one it can already see.
        whose = "this tenant already has" if owner == tenant else "this tenant can already read"
        raise PackageExists(f"{whose} a checkpoint {checkpoint.package_id!r}"
                            + (" with other content" if owner == tenant else ""))

    def _unframe(self, data: bytes) -> tuple[Manifest, bytes]:
        limit = self.checkpoints.max_package_bytes + MAX_MANIFEST_BYTES + _HEADER.size + 64
        if len(data) > limit:
            self.checkpoints.check_size(len(data), "package file")
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
