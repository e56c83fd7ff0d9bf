"""What a restore reads and answers: the source state it rebuilt, the result it reports
(with the seed plan's `success`, `restoration_details` and `validation_result`), and the
checks `basic` validation makes (application.restore runs them)."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, cast, get_args

from ctxstore.application.errors import (
    InvalidRequest,
)
from ctxstore.domain.pages import PartHashes
from ctxstore.domain.parts import ALL_PARTS, Part
from ctxstore.domain.points import Point
from ctxstore.domain.state import Content

MergeStrategy = Literal["replace", "merge"]
ValidationLevel = Literal["basic", "comprehensive"]
VALIDATION_LEVELS: tuple[str, ...] = get_args(ValidationLevel)
# latest: the agent's latest version as the store holds it folded (by-reference forks).
Base = Literal["empty", "events", "snapshot", "checkpoint", "latest"]
RestoreMode = Literal["rewind", "fork", "into_existing"]


@dataclass(frozen=True)
class SourceState:
    """An agent's content at a point, and how it was built."""

    agent_id: str
    version: int
    point: Point
    content: Content
    content_hash: str
    sessions: list[dict[str, Any]]
    as_of: str | None
    base: Base  # empty (version 0), events (no base: from the start), snapshot, checkpoint
    base_version: int
    checkpoint_id: str | None
    events_replayed: int
    validation_level: ValidationLevel
    # The content parts it holds (a partial checkpoint's; domain.parts), what validation
    # checked, and the hash it was checked against (the checkpoint's integrity hash, or the
    # full history's with `comprehensive`; its own hash when nothing gives another).
    parts: tuple[Part, ...] = ALL_PARTS
    checked: tuple[str, ...] = ()
    reference_hash: str | None = None
    # The addresses of the content's parts known when it was read (domain.pages), its own:
    # a target given this content starts with a copy, so its hash costs no rehashing.
    part_hashes: PartHashes = field(default_factory=PartHashes)
    # Read in part (domain.content_tree `tail`): only the pages its events touched hold
    # items, so the content is for keeping by reference alone, never handed out.
    in_part: bool = False
    # Where its open tool calls are (domain.window.OpenCalls.to_json), when known without
    # looking at every call: a restore by reference records it beside the root it refers to.
    open_calls: list[Any] | None = None

    def validation_result(self) -> dict[str, Any]:
        """The seed's `validation_result`: what was checked, both hashes, the outcome (a
        failed check raises before any result exists, so a result's outcome is `passed`)."""
        return {"level": self.validation_level, "parts": list(self.parts),
                "checked": list(self.checked),
                "expected_hash": self.reference_hash or self.content_hash,
                "actual_hash": self.content_hash, "valid": True, "outcome": "passed"}

    @property
    def snapshot_version(self) -> int | None:
        return self.base_version if self.base == "snapshot" else None

    def state(self) -> dict[str, Any]:
        """The DESIGN §2 form of this state."""
        return {"agent_id": self.agent_id, "version": self.version, "as_of": self.as_of,
                **copy.deepcopy(self.content), "sessions": copy.deepcopy(self.sessions),
                "content_hash": self.content_hash}


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: source, point, base used, events replayed, target version, hash."""

    source_agent_id: str
    target_agent_id: str
    mode: RestoreMode
    point: dict[str, Any]
    source_version: int
    source_content_hash: str
    base: Base
    base_version: int
    snapshot_version: int | None
    checkpoint_id: str | None
    events_replayed: int
    merge_strategy: MergeStrategy
    validation_level: ValidationLevel
    event_id: str
    target_version: int
    content_hash: str
    duration_ms: float
    # The content parts restored (a partial checkpoint's); with `replace` the target's other
    # parts stay as they were.
    parts: tuple[Part, ...] = ALL_PARTS
    # The seed's answer, beside ours: an error raises, so a result is a success.
    success: bool = True
    restoration_details: dict[str, Any] = field(default_factory=dict)
    validation_result: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_validation_level(value: str) -> ValidationLevel:
    if value not in VALIDATION_LEVELS:
        raise InvalidRequest(f"validation_level: must be one of {', '.join(VALIDATION_LEVELS)}"
                             f", not {value!r}")
    return cast(ValidationLevel, value)


def basic_checks(base: Base, base_version: int, checkpoint_id: str | None,
                  replayed: int) -> tuple[str, ...]:
    """What building a point checked, as `validation_result.checked` lists it."""
    checks = {
        "empty": "version 0: the empty state",
        "events": "no base: the events folded from the start",
        "snapshot": f"the snapshot at version {base_version}: read back as this agent at "
                    "its version",
        "checkpoint": f"checkpoint {checkpoint_id}: its body against its integrity hash",
        "latest": f"the latest version {base_version} as this store holds it folded (brought "
                  "up to date with the events recorded since), its parts held by the part "
                  "store (those it lacked written) under the root its hash names",
    }
    return (checks[base],) + ((f"{replayed} events after version {base_version} replayed",)
                              if replayed else ())


def holds_of(content: Content) -> dict[str, int]:
    """How many items of each field a content holds (`restoration_details.target_holds`)."""
    return {"messages": len(content["messages"]),
            "reasoning_threads": len(content["reasoning"]),
            "tool_calls": len(content["tool_calls"]),
            "memories": len(content["memories"]),
            "memory_links": len(content["memory_links"]),
            "mcp_servers": len(content["mcp_servers"])}


def restore_result(*, source: SourceState, holds: dict[str, int], **fields: Any
                   ) -> RestoreResult:
    """Our result, with the seed's `restoration_details` (`holds`: what the target now holds)
    and `validation_result` beside it."""
    result = RestoreResult(**fields)
    details = {
        "mode": result.mode, "source_agent_id": result.source_agent_id,
        "source_version": result.source_version, "checkpoint_id": result.checkpoint_id,
        "target_agent_id": result.target_agent_id, "target_version": result.target_version,
        "merge_strategy": result.merge_strategy, "parts": list(result.parts),
        "content_hash": result.content_hash,
        "target_holds": holds,
    }
    return replace(result, restoration_details=details,
                   validation_result=source.validation_result())
