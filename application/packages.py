"""Portable checkpoint files (`.ctxpkg`, DESIGN §3): export from one store, import into another.

The bytes are the codec's (application.package_file_port; infrastructure.persistence.
ctxpkg_codec writes and frames them). Import checks, before anything is written: the file's
size, its framing and manifest (the codec), the declared state size, the body (decrypted,
decompressed never past the declared size), the state's shape (domain.state_check: the wire
event models, so a package cannot hold what no event could) and the content hash.
"""

from __future__ import annotations

from ctxstore.application.checkpoint_model import ACCESS_LEVELS, Checkpoint, check_integrity
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.errors import (
    CheckpointNotFound,
    CorruptedCheckpoint,
    InvalidPackageFile,
    PackageExists,
)
from ctxstore.application.package_file_port import Manifest, PackageFileCodec
from ctxstore.domain import bounds
from ctxstore.domain.agent_id import LOCAL_TENANT, plain_agent_id
from ctxstore.domain.bounds import OutOfBounds
from ctxstore.domain.state import canonical_json_of_content
from ctxstore.domain.state_check import InvalidState, check_state


class PackageService:
    """Export checkpoints to `.ctxpkg` bytes and import them (verified) into this store."""

    def __init__(self, checkpoints: CheckpointService, files: PackageFileCodec):
        self.checkpoints = checkpoints
        self.files = files

    def export(self, package_id: str, tenant: str = LOCAL_TENANT) -> bytes:
        """The `.ctxpkg` bytes of a checkpoint this tenant may read (verified against its hash
        first). The file names the agent by its agent id, not this store's tenants.

        Raises CheckpointNotFound, CorruptedCheckpoint.
        """
        checkpoint, state = self.checkpoints.load(package_id, tenant)
        fields = {**{k: v for k, v in checkpoint.to_dict().items()
                     if k not in ("event_version", "shared_with")},
                  "agent_id": plain_agent_id(checkpoint.agent_id)}
        return self.files.encode(fields, checkpoint.integrity_hash,
                                 canonical_json_of_content(state))

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
        self.checkpoints.check_size(manifest.body.original_size, "package state")
        raw = self.files.open_body(manifest.body, body)
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
        """The codec's unframing, once the file's size is within this store's limit."""
        if len(data) > self.checkpoints.max_package_bytes + self.files.max_overhead:
            self.checkpoints.check_size(len(data), "package file")
        return self.files.unframe(data)
