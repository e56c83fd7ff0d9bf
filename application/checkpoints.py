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

import builtins
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args

from eventsourcing.persistence import Cipher, Compressor
from eventsourcing.utils import get_topic

from application.errors import (
    AgentNotFound,
    CheckpointNotFound,
    ContextStoreError,
    CorruptedCheckpoint,
    InvalidRequest,
    PackageTooLarge,
    PointNotFound,
)
from application.package_port import PackageRecorder, PackageRow
from application.retry import retry_on_conflict
from application.store import ContextStore
from domain.agent_id import LOCAL_TENANT, check_agent_key, plain_agent_id
from domain.aggregate import AgentContext
from domain.bounds import OutOfBounds, check_text
from domain.clock import to_us
from domain.state import CONTENT_FIELDS, canonical_json, content_hash

log = logging.getLogger(__name__)

AccessLevel = Literal["private", "shared", "public"]
ACCESS_LEVELS: tuple[str, ...] = get_args(AccessLevel)
Origin = Literal["captured", "imported"]
MAX_LABEL_LENGTH = 256
MAX_SHARED_WITH = 100
MIB = 1024 * 1024
_TAKEN = get_topic(AgentContext.CheckpointTaken)
_PRUNED = get_topic(AgentContext.CheckpointsPruned)


@dataclass(frozen=True)
class CheckpointFacts:
    """The fields of DESIGN §3 every view of a checkpoint shares (each adds its own time)."""

    package_id: str
    agent_id: str
    session_id: str | None
    version: int
    label: str | None
    original_size_bytes: int
    compressed_size_bytes: int
    compression_ratio: float
    compression_strategy: str
    integrity_hash: str
    message_count: int
    reasoning_thread_count: int
    tool_invocation_count: int
    memory_count: int
    is_encrypted: bool
    access_level: AccessLevel


@dataclass(frozen=True)
class Checkpoint(CheckpointFacts):
    """A checkpoint's metadata (every field of DESIGN §3, plus where it came from)."""

    created_at: datetime
    origin: Origin = "captured"
    event_version: int | None = None  # version of its CheckpointTaken event (None: imported)
    shared_with: tuple[str, ...] = ()  # the tenants a `shared` checkpoint is readable by

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (created_at as RFC 3339)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["shared_with"] = list(self.shared_with)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        created = values["created_at"]
        if isinstance(created, str):
            values["created_at"] = datetime.fromisoformat(created)
        values["shared_with"] = tuple(values.get("shared_with") or ())
        return cls(**values)

    def readable_by(self, owner: str, tenant: str) -> bool:
        """Whether `tenant` may read (and restore from) this checkpoint of `owner`'s."""
        return (owner == tenant or self.access_level == "public"
                or (self.access_level == "shared" and tenant in self.shared_with))


@dataclass
class PruneReport:
    """What a retention pass removed: package ids by agent, and agents it could not prune."""

    pruned: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class AutoCaptureReport:
    """What one round of automatic capture did (and the retention pass before it)."""

    captured: list[Checkpoint] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pruned: dict[str, list[str]] = field(default_factory=dict)


class BodyCodec:
    """Compress (and encrypt, when the store encrypts) package bodies and metadata."""

    def __init__(self, compressor: Compressor, cipher: Cipher | None = None):
        self.compressor = compressor
        self.cipher = cipher

    @property
    def is_encrypted(self) -> bool:
        return self.cipher is not None

    @property
    def strategy(self) -> str:
        """e.g. `zstd-3` or `zstd-3+dict-1234` (the compressor's level and active dictionary)."""
        level = getattr(self.compressor, "level", None)
        name = "zstd" if level is None else f"zstd-{level}"
        dict_id = getattr(self.compressor, "active_dictionary_id", None)
        return f"{name}+dict-{dict_id}" if dict_id else name

    def encode(self, raw: bytes) -> bytes:
        data = self.compressor.compress(raw)
        return self.cipher.encrypt(data) if self.cipher is not None else data

    def decode(self, data: bytes) -> bytes:
        if self.cipher is not None:
            data = self.cipher.decrypt(data)
        return self.compressor.decompress(data)


def state_counts(state: dict[str, Any]) -> dict[str, int]:
    return {
        "message_count": len(state["messages"]),
        "reasoning_thread_count": len(state["reasoning"]),
        "tool_invocation_count": len(state["tool_calls"]),
        "memory_count": len(state["memories"]),
    }


def current_session(state: dict[str, Any]) -> str | None:
    """The session of the agent's latest event, if its events carried sessions."""
    sessions = state.get("sessions") or []
    if not sessions:
        return None
    return cast(str, max(sessions, key=lambda s: s["last_version"])["session_id"])


def check_state(state: Any, expected_hash: str) -> None:
    """Raise CorruptedCheckpoint unless `state` is a context whose hash is `expected_hash`."""
    if not isinstance(state, dict) or any(f not in state for f in CONTENT_FIELDS):
        raise CorruptedCheckpoint("checkpoint body is not an agent state")
    try:
        actual = content_hash(state)
    except (TypeError, ValueError) as e:
        raise CorruptedCheckpoint(f"checkpoint body cannot be hashed: {e}") from e
    if actual != expected_hash:
        raise CorruptedCheckpoint(
            f"checkpoint body hashes to {actual}, not its integrity hash {expected_hash}"
        )
    if state.get("content_hash") not in (None, expected_hash):
        raise CorruptedCheckpoint("checkpoint body disagrees with its own content_hash")


class CheckpointService:
    """Capture, list and read checkpoints; retention and size limits from settings."""

    def __init__(
        self,
        store: ContextStore,
        *,
        max_checkpoints_per_agent: int = 10,
        max_package_bytes: int = 100 * MIB,
        retention_days: float | None = None,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ):
        if max_checkpoints_per_agent < 1:
            raise InvalidRequest("max_checkpoints_per_agent must be at least 1")
        if retention_days is not None and retention_days <= 0:
            raise InvalidRequest("retention_days must be positive")
        compressor = compressor or store.compressor
        if compressor is None:
            raise TypeError("checkpoints need a compressor (the store has none)")
        self.store = store
        self.packages: PackageRecorder = store.packages
        self.max_checkpoints_per_agent = max_checkpoints_per_agent
        self.max_package_bytes = max_package_bytes
        self.retention_days = retention_days
        self.codec = BodyCodec(compressor, cipher if cipher is not None else store.cipher)

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
    ) -> Checkpoint:
        """Capture the agent (by its key) now, or at `version`, as a new checkpoint, pruning
        the oldest beyond the per-agent limit. A `shared` one names the tenants that may read
        it in `shared_with`.

        Raises AgentNotFound, PointNotFound, PackageTooLarge (nothing written), InvalidRequest.
        """
        check_agent_key(agent_id)
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
        if self.store.summary(agent_id) is None:
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
                                      cast(AccessLevel, access_level), readers)

        return retry_on_conflict(capture_once,
                                 f"could not checkpoint {agent_id!r}: it kept changing")

    def _capture_once(self, agent: AgentContext, state: dict[str, Any], label: str | None,
                      session_id: str | None, access_level: AccessLevel,
                      shared_with: tuple[str, ...]) -> Checkpoint:
        raw = canonical_json(state)
        self.check_size(len(raw), f"checkpoint of {plain_agent_id(agent.agent_id)!r}")
        body = self.codec.encode(raw)
        now = agent.next_timestamp(datetime.now(UTC))
        checkpoint = Checkpoint(
            package_id=new_package_id(),
            agent_id=agent.agent_id,
            session_id=session_id if session_id is not None else current_session(state),
            version=state["version"],
            created_at=now,
            label=label,
            original_size_bytes=len(raw),
            compressed_size_bytes=len(body),
            compression_ratio=round(len(raw) / len(body), 3) if body else 0.0,
            compression_strategy=self.codec.strategy,
            integrity_hash=state["content_hash"],
            **state_counts(state),
            is_encrypted=self.codec.is_encrypted,
            access_level=access_level,
            origin="captured",
            event_version=agent.version + 1,
            shared_with=shared_with,
        )
        pruned = self._retention(self.packages.select_packages(agent.agent_id), now,
                                 adding=1)[0]
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
            meta=self.codec.encode(canonical_json(checkpoint.to_dict())),
            body=body,
            tenant=self.store.owner(agent.agent_id) or LOCAL_TENANT,
        )
        self.store.append(agent, package_rows=[row], pruned_package_ids=pruned)
        return checkpoint

    def check_size(self, size: int, what: str) -> None:
        if size > self.max_package_bytes:
            raise PackageTooLarge(
                f"{what} is {size} bytes, over CONTEXT_MAX_PACKAGE_SIZE_MB "
                f"({self.max_package_bytes / MIB:g} MiB = {self.max_package_bytes} bytes)"
            )

    # Retention -------------------------------------------------------------------------------
    def _retention(self, rows: list[PackageRow], now: datetime, *, adding: int = 0,
                   retention_days: float | None = None) -> tuple[list[str], str]:
        """Ids of one agent's captured checkpoints that retention removes (oldest first) when
        `adding` more are about to be kept, and why."""
        days = self.retention_days if retention_days is None else retention_days
        captured = [r for r in rows if r.event_version is not None]
        expired: list[PackageRow] = []
        if days is not None:
            cutoff = to_us(now - timedelta(days=days))
            expired = [r for r in captured if r.created_us < cutoff]
        kept = [r for r in captured if r not in expired]
        excess = kept[: max(0, len(kept) + adding - self.max_checkpoints_per_agent)]
        reasons = []
        if expired:
            reasons.append(f"older than {days:g} days (CONTEXT_RETENTION_DAYS)")
        if excess:
            reasons.append(f"over {self.max_checkpoints_per_agent} per agent "
                           "(CONTEXT_MAX_CHECKPOINTS_PER_AGENT)")
        return [r.package_id for r in expired + excess], "; ".join(reasons)

    def due_for_pruning(self, agent_id: str | None = None, *, now: datetime | None = None,
                        retention_days: float | None = None) -> dict[str, list[str]]:
        """What `prune` would remove now: package ids by agent (nothing is written)."""
        now = now or datetime.now(UTC)
        rows: dict[str, list[PackageRow]] = {}
        for row in self.packages.select_packages(agent_id):
            rows.setdefault(row.agent_id, []).append(row)
        due = {a: self._retention(r, now, retention_days=retention_days)[0]
               for a, r in rows.items()}
        return {a: ids for a, ids in due.items() if ids}

    def prune(self, agent_id: str | None = None, *, now: datetime | None = None,
              retention_days: float | None = None) -> PruneReport:
        """Apply retention (age, then count) to every agent's checkpoints, or one agent's:
        per agent, one `CheckpointsPruned` event commits with the deletions it lists.

        `now` and `retention_days` default to the clock and the service's setting.
        """
        if agent_id is not None:
            check_agent_key(agent_id)
        if retention_days is not None and retention_days <= 0:
            raise InvalidRequest("retention_days must be positive")
        report = PruneReport()
        for agent in self.due_for_pruning(agent_id, now=now, retention_days=retention_days):
            try:
                pruned = self._prune_agent(agent, now, retention_days)
            except ContextStoreError as e:
                log.warning("pruning the checkpoints of %s failed: %s", agent, e)
                report.failed[agent] = str(e)
                continue
            if pruned:
                report.pruned[agent] = pruned
        return report

    def _prune_agent(self, agent_id: str, now: datetime | None,
                     retention_days: float | None) -> list[str]:
        def prune_once() -> list[str]:
            agent = self.store.agent_at(agent_id)
            at = agent.next_timestamp(datetime.now(UTC))
            ids, reason = self._retention(self.packages.select_packages(agent_id), now or at,
                                          retention_days=retention_days)
            if not ids:
                return []
            agent.note_checkpoints_pruned(event_id=f"prune-{uuid.uuid4().hex}",
                                          package_ids=ids, reason=reason, timestamp=at)
            self.store.append(agent, pruned_package_ids=ids)
            return ids

        return retry_on_conflict(
            prune_once, f"could not prune the checkpoints of {agent_id!r}: it kept changing")

    # Automatic capture -----------------------------------------------------------------------
    def changed_agents(self) -> list[str]:
        """Agents whose content changed after their newest checkpoint (or with none at all);
        the checkpoint and prune events themselves are not changes."""
        last: dict[str, int] = {}
        for row in self.packages.select_packages():
            if row.event_version is not None:
                last[row.agent_id] = max(last.get(row.agent_id, 0), row.event_version)
        return [a.agent_id for a in self.store.agents()
                if a.version > last.get(a.agent_id, 0)
                and self._changed_after(a.agent_id, last.get(a.agent_id, 0))]

    def _changed_after(self, agent_id: str, version: int) -> bool:
        """Whether a content event comes after `version` and after the agent's latest
        checkpoint event (read newest first, by topic: nothing is decoded)."""
        for event in self.store.stored_events(agent_id, after_version=version,
                                              newest_first=True, page=20):
            if event.topic == _TAKEN:
                return False
            if event.topic != _PRUNED:
                return True
        return False

    def capture_changed(self, *, label: str = "auto", access_level: str = "private"
                        ) -> AutoCaptureReport:
        """Apply retention, then checkpoint every agent that changed since its last checkpoint;
        one failure (e.g. a state over the size limit) is reported and does not stop the
        others."""
        pruning = self.prune()
        report = AutoCaptureReport(pruned=pruning.pruned, failed=dict(pruning.failed))
        for agent_id in self.changed_agents():
            try:
                report.captured.append(self.capture(agent_id, label=label,
                                                    access_level=access_level))
            except ContextStoreError as e:
                log.warning("automatic checkpoint of %s failed: %s", agent_id, e)
                report.failed[agent_id] = str(e)
        return report

    # Reading ---------------------------------------------------------------------------------
    def get(self, package_id: str, tenant: str = LOCAL_TENANT) -> Checkpoint:
        """The checkpoint of that id this tenant may read: its own, else another tenant's
        public or shared-with-it one. Raises CheckpointNotFound otherwise."""
        return self.find(package_id, tenant)[1]

    def find(self, package_id: str, tenant: str = LOCAL_TENANT) -> tuple[str, Checkpoint]:
        """As `get`, with the checkpoint's owner (tenant)."""
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
        """The checkpoints this tenant may read, with their owners, oldest first."""
        found = []
        for row in self.packages.select_packages(agent_id):
            checkpoint = self._metadata(row)
            if checkpoint.readable_by(row.tenant, tenant):
                found.append((row.tenant, checkpoint))
        return found

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
            state = json.loads(self.codec.decode(row.body or b""))
        except Exception as e:  # noqa: BLE001 - any decoding failure means altered bytes
            raise CorruptedCheckpoint(
                f"checkpoint {package_id!r} cannot be read back ({type(e).__name__}: {e}); "
                "its stored bytes were altered"
            ) from e
        try:
            check_state(state, checkpoint.integrity_hash)
        except CorruptedCheckpoint as e:
            raise CorruptedCheckpoint(f"checkpoint {package_id!r}: {e}") from None
        return checkpoint, state

    def _metadata(self, row: PackageRow) -> Checkpoint:
        try:
            checkpoint = Checkpoint.from_dict(json.loads(self.codec.decode(row.meta)))
        except Exception as e:  # noqa: BLE001
            raise CorruptedCheckpoint(
                f"checkpoint {row.package_id!r} metadata cannot be read ({type(e).__name__})"
            ) from e
        if (checkpoint.package_id, checkpoint.agent_id, checkpoint.version) != (
            row.package_id, row.agent_id, row.version
        ):
            raise CorruptedCheckpoint(f"checkpoint {row.package_id!r} metadata was altered")
        return checkpoint

    # Imports ---------------------------------------------------------------------------------
    def store_imported(self, checkpoint: Checkpoint, raw_state: bytes,
                       tenant: str = LOCAL_TENANT) -> Checkpoint:
        """Keep a verified package from another store as this tenant's (application.packages);
        `checkpoint.agent_id` is already the agent's key in this tenant's namespace."""
        body = self.codec.encode(raw_state)
        imported = Checkpoint(**{
            **asdict(checkpoint),
            "compressed_size_bytes": len(body),
            "compression_ratio": round(len(raw_state) / len(body), 3) if body else 0.0,
            "compression_strategy": self.codec.strategy,
            "is_encrypted": self.codec.is_encrypted,
            "origin": "imported",
            "event_version": None,
        })
        self.packages.insert_package(PackageRow(
            package_id=imported.package_id,
            agent_id=imported.agent_id,
            version=imported.version,
            event_version=None,
            created_us=to_us(imported.created_at),
            meta=self.codec.encode(canonical_json(imported.to_dict())),
            body=body,
            tenant=tenant,
        ))
        return imported


def check_shared_with(access_level: str, shared_with: Sequence[str]) -> tuple[str, ...]:
    """The tenants a checkpoint is shared with: only for `shared`, names of tenants."""
    readers = tuple(dict.fromkeys(shared_with))
    if readers and access_level != "shared":
        raise InvalidRequest("shared_with: only a checkpoint with access_level 'shared' names "
                             "the tenants it is shared with")
    if len(readers) > MAX_SHARED_WITH:
        raise InvalidRequest(f"shared_with: at most {MAX_SHARED_WITH} tenants")
    for n, reader in enumerate(readers):
        if not isinstance(reader, str) or not reader.strip() or len(reader) > 128:
            raise InvalidRequest(f"shared_with.{n}: a tenant name of 1 to 128 characters")
    return readers


def new_package_id() -> str:
    """`ckpt-<32 hex>`: never mistaken for a version or a time when parsed as a point."""
    return f"ckpt-{uuid.uuid4().hex}"

