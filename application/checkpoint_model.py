"""What a checkpoint is (DESIGN §3): its metadata, who may read it, and checks on its state.

Plain values shared by capture, retention, reading and the package format; no storage here.

`compression_ratio` is the seed plan's: compressed ÷ original (0.2 means 80 % smaller), with
`space_saving` (1 − ratio) beside it. Both are derived from the two sizes whenever a checkpoint
is built, whatever value came with it: stores, events and `.ctxpkg` files written before the
ratio was turned around hold original ÷ compressed, and all of them kept the sizes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, cast, get_args

from ctxstore.application.errors import CorruptedCheckpoint, InvalidRequest
from ctxstore.domain.pages import hash_like
from ctxstore.domain.parts import ALL_PARTS, Part, parts_of
from ctxstore.domain.state import CONTENT_FIELDS

AccessLevel = Literal["private", "shared", "public"]
ACCESS_LEVELS: tuple[str, ...] = get_args(AccessLevel)
Origin = Literal["captured", "imported"]
MAX_LABEL_LENGTH = 256
MAX_SHARED_WITH = 100
MIB = 1024 * 1024


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
    compression_strategy: str
    integrity_hash: str
    message_count: int
    reasoning_thread_count: int
    tool_invocation_count: int
    memory_count: int
    is_encrypted: bool
    access_level: AccessLevel
    # Derived from the sizes in __post_init__ (see the module docstring): a value given is
    # replaced. Keyword-only so they can follow the fields above and still be serialised.
    compression_ratio: float = field(default=1.0, kw_only=True)
    space_saving: float = field(default=0.0, kw_only=True)

    def __post_init__(self) -> None:
        original, compressed = self.original_size_bytes, self.compressed_size_bytes
        object.__setattr__(self, "compression_ratio", ratio_of(original, compressed))
        object.__setattr__(self, "space_saving", saving_of(original, compressed))


def ratio_of(original: int, compressed: int) -> float:
    """The seed plan's ratio, compressed ÷ original (1.0 when there was nothing to compress)."""
    return round(compressed / original, 4) if original > 0 else 1.0


def saving_of(original: int, compressed: int) -> float:
    """The share of the original size compression saved: 1 − compression_ratio."""
    return round(1 - compressed / original, 4) if original > 0 else 0.0


@dataclass(frozen=True)
class Checkpoint(CheckpointFacts):
    """A checkpoint's metadata (every field of DESIGN §3, plus where it came from, the parts
    of the content it holds and the seed's `size_bytes`)."""

    created_at: datetime
    origin: Origin = "captured"
    event_version: int | None = None  # version of its CheckpointTaken event (None: imported)
    shared_with: tuple[str, ...] = ()  # the tenants a `shared` checkpoint is readable by
    # CONTEXT_DEFAULT_COMPRESSION_RATIO when it was made, and whether its compressed ÷
    # original size was at most that (None: made before targets).
    target_compression_ratio: float | None = None
    target_met: bool | None = None
    # The content parts it holds (domain.parts); the others are empty in its body. Metadata
    # written before captures could leave parts out has none: whole.
    parts: tuple[Part, ...] = ALL_PARTS
    # The agent's hash-chain link at `version` when captured (hex; application.chain): what
    # history the checkpoint was built from. None: imported, or captured before chains.
    chain_head: str | None = None
    # The seed's package field: the stored (compressed) size, derived as the ratio is.
    size_bytes: int = field(default=0, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "size_bytes", self.compressed_size_bytes)

    @property
    def is_partial(self) -> bool:
        return self.parts != ALL_PARTS

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (created_at as RFC 3339)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["shared_with"] = list(self.shared_with)
        data["parts"] = list(self.parts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        created = values["created_at"]
        if isinstance(created, str):
            values["created_at"] = datetime.fromisoformat(created)
        values["shared_with"] = tuple(values.get("shared_with") or ())
        values["parts"] = parts_of(values.get("parts") or ALL_PARTS)
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


def check_integrity(state: Any, expected_hash: str) -> None:
    """Raise CorruptedCheckpoint unless `state` is a context whose hash is `expected_hash`."""
    if not isinstance(state, dict) or any(f not in state for f in CONTENT_FIELDS):
        raise CorruptedCheckpoint("checkpoint body is not an agent state")
    try:
        actual = hash_like(state, expected_hash)  # an old checkpoint's `sha256:` too
    except (TypeError, ValueError) as e:
        raise CorruptedCheckpoint(f"checkpoint body cannot be hashed: {e}") from e
    if actual != expected_hash:
        raise CorruptedCheckpoint(
            f"checkpoint body hashes to {actual}, not its integrity hash {expected_hash}"
        )
    if state.get("content_hash") not in (None, expected_hash):
        raise CorruptedCheckpoint("checkpoint body disagrees with its own content_hash")


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

