"""A portable checkpoint file (`.ctxpkg`, DESIGN §3) as the application sees it: its manifest,
and the port of the codec that turns it into bytes and back.

The byte format (framing, checksum, compression, encryption) is infrastructure's
(infrastructure.persistence.ctxpkg_codec); what a package may hold, and whether it is kept, is
application.packages'. The manifest's fields are the checkpoint metadata within the bounds
every door applies (domain.bounds), so a file's claims are checked as any request's are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ctxstore.domain.agent_id import AGENT_ID_PATTERN
from ctxstore.domain.bounds import BoundedText, Int64, OutOfBounds, PackageId, check_time
from ctxstore.domain.pages import HASH_PATTERN
from ctxstore.domain.parts import ALL_PARTS, Part

FORMAT = "ctxpkg"
FORMAT_VERSION = 1
FILE_SUFFIX = ".ctxpkg"


class CheckpointFields(BaseModel):
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
    integrity_hash: str = Field(pattern=HASH_PATTERN)  # either scheme (domain.pages)
    message_count: Int64
    reasoning_thread_count: Int64
    tool_invocation_count: Int64
    memory_count: Int64
    is_encrypted: bool
    access_level: BoundedText
    origin: BoundedText = "captured"
    # The content parts it holds (domain.parts); files written before had every part.
    parts: list[Part] = Field(default_factory=lambda: list(ALL_PARTS), min_length=1,
                              max_length=len(ALL_PARTS))

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


class BodyFacts(BaseModel):
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
    checkpoint: CheckpointFields
    body: BodyFacts


class PackageFileCodec(Protocol):
    """Package bytes: written whole, read in two steps so that the caller can refuse a file
    by its manifest (size, owner) before its body is decrypted and decompressed.

    Every read error is an application.errors.InvalidPackageFile naming what is wrong.
    """

    @property
    def max_overhead(self) -> int:
        """The most bytes a file holds besides its body (framing, manifest, checksum)."""

    def encode(self, checkpoint: Mapping[str, Any], integrity_hash: str, state: bytes
               ) -> bytes:
        """A file of this checkpoint metadata and state (canonical JSON bytes), its body
        compressed without a dictionary (any store reads it) and encrypted when the store
        encrypts."""

    def unframe(self, data: bytes) -> tuple[Manifest, bytes]:
        """The verified manifest and the still encoded body (framing, checksum, manifest
        shape and body hash checked)."""

    def open_body(self, facts: BodyFacts, body: bytes) -> bytes:
        """The body's bytes: decrypted when encrypted, decompressed never past the size the
        manifest declares, and exactly that size."""
