"""Checkpoints (context packages, DESIGN §3): named, compressed captures of an agent's state.

Storage: each capture appends one `CheckpointTaken` event to the agent's own stream (the audit
trail and what the checkpoint catalogue projection follows) and, in the same transaction, one
row of the package table holding the encoded body (zstd-compressed canonical JSON of the state,
encrypted when the store encrypts) and the encoded metadata. Keeping bodies out of the event
means retention can drop old bodies while the history that announced them stays intact; the
event that prunes them lists their ids (`pruned_package_ids`), so a catalogue reader sees the
prune in the same event that adds the new checkpoint.

Retention keeps at most `max_checkpoints_per_agent` per agent and none older than
`retention_days`. A capture prunes both kinds in its own `CheckpointTaken`; checkpoints that
expire while their agent is idle are pruned by `prune` (each automatic round, or the
`checkpoint-prune` command) with one `CheckpointsPruned` event per agent, committed with the
deletions. Neither event changes the content, so neither counts as a change for automatic
capture. Imported packages have no event here and are never pruned.

Tenants: a package id is its tenant's (a captured one's tenant is its agent's; an imported one's
is the importer's), so two tenants may hold one id. A tenant reads its own, every `public` one,
and the `shared` ones whose `shared_with` names it; any other is not found, as if absent.

An aggregate per checkpoint was the alternative; it would put multi-megabyte bodies into the
immutable event log (never prunable) and need a second stream per capture.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, cast

from ctxstore.application.checkpoint_bodies import CheckpointBodies
from ctxstore.application.checkpoint_changes import changed_agents
from ctxstore.application.checkpoint_model import (
    ACCESS_LEVELS,
    MAX_LABEL_LENGTH,
    MIB,
    AccessLevel,
    AutoCaptureReport,
    Checkpoint,
    check_shared_with,
    current_session,
    new_package_id,
    state_counts,
)
from ctxstore.application.checkpoint_pruning import CheckpointPruning
from ctxstore.application.errors import (
    AgentNotFound,
    ContextStoreError,
    InvalidRequest,
    PackageTooLarge,
    PointNotFound,
)
from ctxstore.application.operation_log import recorded
from ctxstore.application.package_port import PackageCodec, PackageRecorder, PackageRow
from ctxstore.application.part_port import PartStore
from ctxstore.application.ports import AgentSummary
from ctxstore.application.retry import retry_on_conflict
from ctxstore.application.store import UNREAD, ContextStore, Unread
from ctxstore.domain.agent_id import (
    LOCAL_TENANT,
    aggregate_id,
    check_agent_key,
    plain_agent_id,
)
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.bounds import OutOfBounds, check_text
from ctxstore.domain.clock import to_us
from ctxstore.domain.parts import ALL_PARTS, Part, only_parts, parts_of
from ctxstore.domain.state import canonical_json, canonical_json_of_content, content_hash

log = logging.getLogger(__name__)

class CheckpointService(CheckpointPruning):
    """Capture checkpoints (retention: CheckpointPruning; reading: CheckpointReads), with
    retention and size limits from settings."""

    def __init__(
        self,
        store: ContextStore,
        codec: PackageCodec,
        *,
        max_checkpoints_per_agent: int = 10,
        max_package_bytes: int = 100 * MIB,
        retention_days: float | None = None,
        parts: PartStore | None = None,
        strategy: str = "basic",
        bodies_in_parts: bool | None = None,
        target_ratio: float | None = None,
    ):
        if max_checkpoints_per_agent < 1:
            raise InvalidRequest("max_checkpoints_per_agent must be at least 1")
        if retention_days is not None and retention_days <= 0:
            raise InvalidRequest("retention_days must be positive")
        self.store = store
        self.packages: PackageRecorder = store.packages
        self.max_checkpoints_per_agent = max_checkpoints_per_agent
        self.max_package_bytes = max_package_bytes
        self.retention_days = retention_days
        self.codec = codec
        # The part store: `semantic`'s pieces, and bodies when not in their rows (`hybrid`).
        self.parts = parts
        self.bodies = CheckpointBodies(
            codec, parts, strategy=strategy,
            bodies_in_parts=parts is not None if bodies_in_parts is None else bodies_in_parts)
        # CONTEXT_DEFAULT_COMPRESSION_RATIO: what a capture reports against (compressed ÷
        # original at most this meets it).
        self.target_ratio = target_ratio

    def _ratio_facts(self, original: int, compressed: int) -> dict[str, Any]:
        # compression_ratio and space_saving follow from the sizes (checkpoint_model)
        facts: dict[str, Any] = {"original_size_bytes": original,
                                 "compressed_size_bytes": compressed,
                                 "compression_strategy": self.bodies.label}
        if self.target_ratio is not None:
            facts["target_compression_ratio"] = self.target_ratio
            facts["target_met"] = bool(original) and compressed / original <= self.target_ratio
        return facts

    # Capture ---------------------------------------------------------------------------------
    def capture(
        self,
        agent_id: str,
        *,
        version: int | None = None,
        label: str | None = None,
        session_id: str | None = None,
        access_level: str = "private",
        shared_with: Sequence[str] = (),
        parts: Sequence[Part] = ALL_PARTS,
        row: AgentSummary | None | Unread = UNREAD,
    ) -> Checkpoint:
        """Capture the agent (by its key) now, or at `version`, as a new checkpoint, pruning
        the oldest beyond the per-agent limit. A `shared` one names the tenants that may read
        it in `shared_with`. With fewer than all `parts` (domain.parts) it holds only those,
        the others empty, and its integrity hash is the content hash of that. `row`: the
        agent's catalogue row as the caller just read it (not asked again).

        Raises AgentNotFound, PointNotFound, PackageTooLarge (nothing written), InvalidRequest.
        Every attempt's outcome goes to the store's operation log (application.operation_log).
        """
        return self._capture_recorded(agent_id, False, version=version, label=label,
                                      session_id=session_id, access_level=access_level,
                                      shared_with=shared_with, parts=parts, row=row)

    def _capture_recorded(self, agent_id: str, automatic: bool, **options: Any) -> Checkpoint:
        # One connection for the capture's statements, as a command's (an automatic round's
        # captures run outside any command: each statement paid the pool's check).
        with self.store.one_connection.scope(), \
                recorded(self.store.operations, "capture", lambda: agent_id,
                         lambda: self.store.tenant_of(agent_id), automatic=automatic) as attempt:
            checkpoint = self._capture(agent_id, **options)
            attempt.package_id = checkpoint.package_id
            attempt.original_size_bytes = checkpoint.original_size_bytes
            attempt.compressed_size_bytes = checkpoint.compressed_size_bytes
            return checkpoint

    def _capture(self, agent_id: str, *, version: int | None, label: str | None,
                 session_id: str | None, access_level: str, shared_with: Sequence[str],
                 parts: Sequence[str] = ALL_PARTS,
                 row: AgentSummary | None | Unread = UNREAD) -> Checkpoint:
        check_agent_key(agent_id)
        try:
            held_parts = parts_of(parts)
        except ValueError as e:
            raise InvalidRequest(f"parts: {e}") from None
        if not held_parts:
            raise InvalidRequest("parts: a capture holds at least one part")
        if access_level not in ACCESS_LEVELS:
            raise InvalidRequest(
                f"access_level: must be one of {', '.join(ACCESS_LEVELS)}, not {access_level!r}"
            )
        readers = check_shared_with(access_level, shared_with)
        try:
            if label is not None:
                check_text(label, "label", max_length=MAX_LABEL_LENGTH)
            if session_id is not None:
                check_text(session_id, "session_id")
        except OutOfBounds as e:
            raise InvalidRequest(str(e)) from None
        if version is not None and version < 0:
            raise PointNotFound(f"version must be 0 or more, not {version}")
        if (self.store.summary(agent_id) if isinstance(row, Unread) else row) is None:
            raise AgentNotFound(plain_agent_id(agent_id))

        def capture_once() -> Checkpoint:
            # From fresh state each time: another writer may have appended meanwhile.
            agent = self.store.agent_at(agent_id)
            at_version = agent.version if version is None else version
            if at_version > agent.version:
                raise PointNotFound(
                    f"agent {plain_agent_id(agent_id)!r} has no version {at_version} "
                    f"(latest is {agent.version})"
                )
            source = agent if at_version == agent.version else self.store.agent_at(
                agent_id, at_version)
            return self._capture_once(agent, source.state(), label, session_id,
                                      cast(AccessLevel, access_level), readers, held_parts)

        return retry_on_conflict(capture_once,
                                 f"could not checkpoint {agent_id!r}: it kept changing")

    def _capture_once(self, agent: AgentContext, state: dict[str, Any], label: str | None,
                      session_id: str | None, access_level: AccessLevel,
                      shared_with: tuple[str, ...], parts: tuple[Part, ...]) -> Checkpoint:
        if parts != ALL_PARTS:
            # The left-out parts empty: still a whole state, hashed as any other.
            kept = only_parts(state, parts)
            state = {**state, **kept, "content_hash": content_hash(kept)}
        raw = canonical_json_of_content(state)
        self.check_size(len(raw), f"checkpoint of {plain_agent_id(agent.agent_id)!r}")
        tenant = self.store.owner(agent.agent_id) or LOCAL_TENANT
        encoded = self.bodies.encode(tenant, raw, state, agent.id)
        now = agent.next_timestamp(datetime.now(UTC))
        checkpoint = Checkpoint(
            package_id=new_package_id(),
            agent_id=agent.agent_id,
            session_id=session_id if session_id is not None else current_session(state),
            version=state["version"],
            created_at=now,
            label=label,
            integrity_hash=state["content_hash"],
            **{**self._ratio_facts(len(raw), encoded.stored_bytes), **state_counts(state)},
            is_encrypted=self.codec.is_encrypted,
            access_level=access_level,
            origin="captured",
            event_version=agent.version + 1,
            shared_with=shared_with,
            parts=parts,
            chain_head=self.store.chain_link(agent.id, state["version"]),
        )
        held = self.packages.select_packages(agent.agent_id)
        pruned = self._retention(held, now, adding=1)[0]
        referenced = self._referenced(held, pruned)
        agent.note_checkpoint(
            event_id=f"checkpoint-{checkpoint.package_id}",
            # The agent as its tenant knows it: the history shows this to the tenant.
            checkpoint={**checkpoint.to_dict(), "agent_id": plain_agent_id(agent.agent_id),
                        "created_us": to_us(now),
                        "pruned_package_ids": pruned},
            timestamp=now,
        )
        row = PackageRow(
            package_id=checkpoint.package_id,
            agent_id=agent.agent_id,
            version=checkpoint.version,
            event_version=checkpoint.event_version,
            created_us=to_us(now),
            meta=self.codec.encode(canonical_json(checkpoint.to_dict()), agent.id),
            tenant=tenant,
            **encoded.for_row(),
        )
        self.store.append(agent, package_rows=[row], pruned_package_ids=pruned)
        self.bodies.kept(row, encoded)
        self._release(held, pruned, referenced)
        return checkpoint

    def check_size(self, size: int, what: str) -> None:
        if size > self.max_package_bytes:
            raise PackageTooLarge(
                f"{what} is {size} bytes, over CONTEXT_MAX_PACKAGE_SIZE_MB "
                f"({self.max_package_bytes / MIB:g} MiB = {self.max_package_bytes} bytes)"
            )

    # Automatic capture -----------------------------------------------------------------------
    def changed_agents(self) -> list[str]:
        """Agents whose content changed after their newest checkpoint (or with none at all);
        the checkpoint and prune events themselves are not changes."""
        return changed_agents(self.store, self.packages.select_packages())

    def capture_changed(self, *, label: str = "auto", access_level: str = "private",
                        exclude: Collection[str] = ()) -> AutoCaptureReport:
        """Apply retention, then checkpoint every agent that changed since its last checkpoint
        (but those in `exclude`: the agents with their own schedule); one failure (e.g. a state
        over the size limit) is reported and does not stop the others."""
        with self.store.one_connection.scope():  # the round's questions: one connection
            pruning = self.prune()
            changed = self.changed_agents()
        report = AutoCaptureReport(pruned=pruning.pruned, failed=dict(pruning.failed))
        for agent_id in changed:
            if agent_id in exclude:
                continue
            try:
                report.captured.append(self.capture_automatic(agent_id, label=label,
                                                              access_level=access_level))
            except ContextStoreError as e:
                log.warning("automatic checkpoint of %s failed: %s", agent_id, e)
                report.failed[agent_id] = str(e)
        return report

    def capture_automatic(self, agent_id: str, *, label: str = "auto",
                          access_level: str = "private") -> Checkpoint:
        """An automatic capture of the agent (by its key) now, logged as automatic."""
        return self._capture_recorded(agent_id, True, version=None, label=label,
                                      session_id=None, access_level=access_level,
                                      shared_with=())

    def changed_since_checkpoint(self, agent_id: str) -> bool:
        """Whether the agent (by its key) changed after its newest checkpoint, or has none."""
        return agent_id in changed_agents(self.store, self.packages.select_packages(agent_id),
                                          only=agent_id)

    # Imports ---------------------------------------------------------------------------------
    def store_imported(self, checkpoint: Checkpoint, raw_state: bytes,
                       tenant: str = LOCAL_TENANT) -> Checkpoint:
        """Keep a verified package from another store as this tenant's (application.packages);
        `checkpoint.agent_id` is already the agent's key in this tenant's namespace."""
        self.store.prepare_data_key(checkpoint.agent_id)
        encoded = self.bodies.encode(tenant, raw_state, json.loads(raw_state),
                                     aggregate_id(checkpoint.agent_id))
        imported = Checkpoint(**{
            **asdict(checkpoint),
            **self._ratio_facts(len(raw_state), encoded.stored_bytes),
            "is_encrypted": self.codec.is_encrypted,
            "origin": "imported",
            "event_version": None,
        })
        row = PackageRow(
            package_id=imported.package_id,
            agent_id=imported.agent_id,
            version=imported.version,
            event_version=None,
            created_us=to_us(imported.created_at),
            meta=self.codec.encode(canonical_json(imported.to_dict()),
                                   aggregate_id(imported.agent_id)),
            tenant=tenant,
            **encoded.for_row(),
        )
        self.packages.insert_package(row)
        self.bodies.kept(row, encoded)
        return imported


