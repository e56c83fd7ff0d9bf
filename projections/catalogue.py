"""The checkpoint catalogue: every checkpoint (context package) of DESIGN §3, searchable.

Fed by the `CheckpointTaken` events on the agents' streams, so it is rebuilt from the log like
every other view; a checkpoint removed by retention stays in the history and is marked pruned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from types import UnionType
from typing import Any, Literal, Union, cast, get_args, get_origin, get_type_hints

from ctxstore.application.checkpoint_model import ACCESS_LEVELS, AccessLevel, CheckpointFacts
from ctxstore.application.store import from_us
from ctxstore.domain.parts import ALL_PARTS
from ctxstore.projections.events import CHECKPOINT_TAKEN, CHECKPOINTS_PRUNED, ProjectedEvent


@dataclass(frozen=True)
class CheckpointEntry(CheckpointFacts):
    """A checkpoint as the catalogue keeps it: times in microseconds, pruned or not."""

    created_us: int
    event_version: int | None = None  # the agent version of its CheckpointTaken event
    pruned_us: int | None = None
    # A partial checkpoint's parts, comma-joined (None: the whole state, as every checkpoint
    # made before partial captures); the compression target its capture reported against.
    parts: str | None = None
    target_compression_ratio: float | None = None
    target_met: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = from_us(self.created_us).isoformat()
        out["pruned_at"] = from_us(self.pruned_us).isoformat() if self.pruned_us else None
        out["pruned"] = self.pruned_us is not None
        out["size_bytes"] = self.compressed_size_bytes  # the seed's package field
        out["parts"] = self.parts.split(",") if self.parts else list(ALL_PARTS)
        return out


def column_type(hint: Any) -> tuple[str, bool]:
    """(python type name, nullable) of a field's type: `int | None` -> ("int", True); a
    Literal of strings -> "str"."""
    args = get_args(hint)
    nullable = get_origin(hint) in (Union, UnionType) and type(None) in args
    if nullable:
        hint = next(a for a in args if a is not type(None))
    if get_origin(hint) is Literal:
        hint = type(get_args(hint)[0])
    return hint.__name__, nullable


# Columns added after the catalogue's first release: the views add them to tables made
# before (nullable, so old rows read as whole checkpoints without a target).
ADDED_COLUMNS: tuple[str, ...] = ("parts", "target_compression_ratio", "target_met")

# The ratio keeps the column tables made before already have (every read derives it again from
# the sizes, so rows written with the old ratio read right); space_saving has no column.
CATALOGUE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CheckpointEntry)
                                           if f.name != "space_saving")
# column -> (python type name, nullable): each SQL backend maps these to its own types
CATALOGUE_TYPES: dict[str, tuple[str, bool]] = {
    name: column_type(hint) for name, hint in get_type_hints(CheckpointEntry).items()
    if name in CATALOGUE_COLUMNS
}


TEXT_COLUMNS = ("label", "agent_id", "package_id", "integrity_hash")


@dataclass(frozen=True)
class CatalogueFilter:
    """What to list: every field optional; `text` matches label, agent, package id or hash."""

    agent_id: str | None = None
    created_after_us: int | None = None
    min_message_count: int | None = None
    access_level: str | None = None
    text: str | None = None
    include_pruned: bool = False
    limit: int = 100

    def __post_init__(self) -> None:
        if self.access_level is not None and self.access_level not in ACCESS_LEVELS:
            raise ValueError(f"access_level: {self.access_level!r} is not one of "
                             + ", ".join(ACCESS_LEVELS))
        if self.min_message_count is not None and self.min_message_count < 0:
            raise ValueError("min_message_count: must be 0 or more")
        if self.limit < 1:
            raise ValueError("limit: must be at least 1")

    def sql_where(self, param: str, text_match: str,
                  text_value: str | None = None) -> tuple[str, list[Any]]:
        """The SQL condition selecting what this filter lists, and its parameters, for every
        backend: `param` is its placeholder, `text_match` its test of one column `{col}`
        against the text, `text_value` what that test binds (default: the text itself)."""
        clauses, params = ["pruned_us IS NULL"] if not self.include_pruned else [], []
        for column, op, value in (("agent_id", "=", self.agent_id),
                                  ("created_us", ">", self.created_after_us),
                                  ("message_count", ">=", self.min_message_count),
                                  ("access_level", "=", self.access_level)):
            if value is not None:
                clauses.append(f"{column} {op} {param}")
                params.append(value)
        if self.text:
            clauses.append("(" + " OR ".join(text_match.format(col=c) for c in TEXT_COLUMNS)
                           + ")")
            params.extend([self.text if text_value is None else text_value] * len(TEXT_COLUMNS))
        return " AND ".join(clauses) or "true", params


def pruned_by(event: ProjectedEvent) -> list[str]:
    """Package ids a `CheckpointTaken` (count or age) or `CheckpointsPruned` (age, agent idle)
    event removed by retention (kept in the catalogue, marked pruned)."""
    if event.type not in (CHECKPOINT_TAKEN, CHECKPOINTS_PRUNED):
        return []
    ids = event.data.get("pruned_package_ids") or []
    return [str(i) for i in ids if isinstance(i, str)]


def _int(data: dict[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key)
    return int(value) if isinstance(value, int | float) else default


def _access_level(value: Any) -> AccessLevel:
    return cast(AccessLevel, value) if value in ACCESS_LEVELS else "private"


def entry_for(event: ProjectedEvent) -> CheckpointEntry | None:
    """The catalogue entry a `CheckpointTaken` event describes (None for other events)."""
    if event.type != CHECKPOINT_TAKEN:
        return None
    data = event.data
    original = _int(data, "original_size_bytes")
    compressed = _int(data, "compressed_size_bytes")
    created = data.get("created_us")
    return CheckpointEntry(
        package_id=str(data.get("package_id") or f"{event.agent_id}@{event.version}"),
        agent_id=event.agent_id,
        session_id=data.get("session_id"),
        version=_int(data, "version", event.version),
        created_us=int(created) if isinstance(created, int) else event.ts_us,
        label=data.get("label"),
        original_size_bytes=original,
        compressed_size_bytes=compressed,  # the ratio follows from the sizes, old events too
        compression_strategy=str(data.get("compression_strategy") or ""),
        integrity_hash=str(data.get("integrity_hash") or ""),
        message_count=_int(data, "message_count"),
        reasoning_thread_count=_int(data, "reasoning_thread_count"),
        tool_invocation_count=_int(data, "tool_invocation_count"),
        memory_count=_int(data, "memory_count"),
        is_encrypted=bool(data.get("is_encrypted", False)),
        access_level=_access_level(data.get("access_level")),
        event_version=event.version,
        parts=_parts(data.get("parts")),
        target_compression_ratio=_float_or_none(data.get("target_compression_ratio")),
        target_met=data["target_met"] if isinstance(data.get("target_met"), bool) else None,
    )


def _parts(value: Any) -> str | None:
    """A partial checkpoint's parts as the column keeps them; None for the whole state."""
    if not isinstance(value, list) or not value:
        return None
    chosen = [str(p) for p in value]
    return None if tuple(chosen) == tuple(ALL_PARTS) else ",".join(chosen)


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None
