"""Reading checkpoints: which a tenant may read, their metadata and their checked states.

The read half of CheckpointService (application.checkpoints), kept apart as ContextStore's
reads are (application.store_reads): capture, retention and imports write; this only reads.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from typing import Any

from ctxstore.application.chain import Commitment
from ctxstore.application.checkpoint_bodies import CheckpointBodies
from ctxstore.application.checkpoint_model import Checkpoint, check_integrity
from ctxstore.application.errors import CheckpointNotFound, CorruptedCheckpoint
from ctxstore.application.package_port import PackageCodec, PackageRecorder, PackageRow
from ctxstore.domain.agent_id import LOCAL_TENANT, aggregate_id
from ctxstore.domain.state_check import InvalidState, check_state


class CheckpointReads:
    """What CheckpointService sets up (its package table, codec and body store) and reads."""

    packages: PackageRecorder
    codec: PackageCodec
    bodies: CheckpointBodies

    def get(self, package_id: str, tenant: str = LOCAL_TENANT) -> Checkpoint:
        """The checkpoint of that id this tenant may read: its own, else another tenant's
        public or shared-with-it one. Raises CheckpointNotFound otherwise."""
        return self.find(package_id, tenant)[1]

    def find(self, package_id: str, tenant: str = LOCAL_TENANT) -> tuple[str, Checkpoint]:
        """As `get`, with the checkpoint's owner (tenant). When several tenants' checkpoints of
        that id are readable, the tenant's own wins, else the earliest created (then the
        owner's name): the one `readable` lists."""
        row = self.packages.select_package(package_id, tenant=tenant, with_body=False)
        if row is not None:
            return tenant, self._metadata(row)
        for row in self.packages.select_package_rows(package_id):
            checkpoint = self._metadata(row)
            if checkpoint.readable_by(row.tenant, tenant):
                return row.tenant, checkpoint
        raise CheckpointNotFound(package_id)

    def list(self, agent_id: str | None = None) -> list[Checkpoint]:
        """Checkpoints of every tenant (of one agent, by its key, when given), oldest first."""
        return [self._metadata(r) for r in self.packages.select_packages(agent_id)]

    def readable(self, tenant: str, agent_id: str | None = None
                 ) -> builtins.list[tuple[str, Checkpoint]]:
        """The checkpoints this tenant may read, with their owners, oldest first; one per
        package id (a tenant never sees two of one id): its own, else the earliest created
        other tenant's (then by owner), as `find` picks."""
        found: dict[str, tuple[str, Checkpoint]] = {}
        for row in self.packages.select_packages(agent_id):  # by created_us, id, tenant
            checkpoint = self._metadata(row)
            if not checkpoint.readable_by(row.tenant, tenant):
                continue
            if row.package_id not in found or row.tenant == tenant:
                found[row.package_id] = (row.tenant, checkpoint)
        return sorted(found.values(), key=lambda held: (held[1].created_at,
                                                        held[1].package_id))

    def load(self, package_id: str, tenant: str = LOCAL_TENANT
             ) -> tuple[Checkpoint, dict[str, Any]]:
        """A checkpoint this tenant may read (see `get`) and its state (DESIGN §2 form),
        checked against its integrity hash.

        Raises CheckpointNotFound, or CorruptedCheckpoint when the stored bytes were altered.
        """
        owner, _ = self.find(package_id, tenant)
        row = self.packages.select_package(package_id, tenant=owner, with_body=True)
        if row is None:
            raise CheckpointNotFound(package_id)
        checkpoint = self._metadata(row)
        try:
            state = self.bodies.decode(row, checkpoint.compression_strategy)
        except Exception as e:  # noqa: BLE001 - any decoding failure means altered bytes
            raise CorruptedCheckpoint(
                f"checkpoint {package_id!r} cannot be read back ({type(e).__name__}: {e}); "
                "its stored bytes were altered"
            ) from e
        try:
            check_integrity(state, checkpoint.integrity_hash)
            if checkpoint.origin == "imported":
                # Kept before imports checked states (domain.state_check): never restored
                # unless valid, whatever its hash says.
                check_state(state)
        except CorruptedCheckpoint as e:
            raise CorruptedCheckpoint(f"checkpoint {package_id!r}: {e}") from None
        except InvalidState as e:
            raise CorruptedCheckpoint(f"checkpoint {package_id!r} is not a valid agent state: "
                                      f"{e}") from None
        return checkpoint, state

    def chain_commitments(self, agent_id: str) -> Iterator[Commitment]:
        """The chain head each checkpoint captured here of an agent (by key) committed to
        (`ctxstore verify`); an imported one's history is in another store."""
        for row in self.packages.select_packages(agent_id):
            if row.event_version is None:
                continue
            try:
                head = self._metadata(row).chain_head
            except CorruptedCheckpoint:
                yield Commitment("checkpoint", row.package_id, row.version, None, readable=False)
                continue
            yield Commitment("checkpoint", row.package_id, row.version, head)

    def metadata(self, row: PackageRow) -> Checkpoint:
        """A package row's checkpoint metadata (CorruptedCheckpoint when unreadable)."""
        return self._metadata(row)

    def _metadata(self, row: PackageRow) -> Checkpoint:
        try:
            checkpoint = Checkpoint.from_dict(json.loads(
                self.codec.decode(row.meta, aggregate_id(row.agent_id))))
        except Exception as e:  # noqa: BLE001
            raise CorruptedCheckpoint(
                f"checkpoint {row.package_id!r} metadata cannot be read ({type(e).__name__})"
            ) from e
        if (checkpoint.package_id, checkpoint.agent_id, checkpoint.version) != (
            row.package_id, row.agent_id, row.version
        ):
            raise CorruptedCheckpoint(f"checkpoint {row.package_id!r} metadata was altered")
        return checkpoint
