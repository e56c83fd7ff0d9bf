"""What the use cases return: plain dataclasses every adapter can render."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.pages import TREE_PREFIX
from ctxstore.domain.state import content_hash

Status = Literal["recorded", "duplicate", "rejected"]


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    agent_id: str
    status: Status
    version: int | None = None
    field: str | None = None
    reason: str | None = None
    # Refused because its agent (or its event id) was forgotten: a door must not keep a copy
    # of it (no dead letter), as that would bring the forgotten content back.
    forgotten: bool = False

    @classmethod
    def recorded(cls, event_id: str, agent_id: str, version: int) -> EventOutcome:
        """The outcome of an event recorded at `version`: one per event written, so made
        without the frozen dataclass's __init__, which sets each of the seven fields through
        object.__setattr__ (0.72 against 0.33 µs)."""
        outcome = object.__new__(cls)
        outcome.__dict__.update(_OUTCOME_DEFAULTS, event_id=event_id, agent_id=agent_id,
                                status="recorded", version=version)
        return outcome


# Every field's default, in the declared order (the required ones are set by whoever makes it).
_OUTCOME_DEFAULTS = {f.name: f.default for f in fields(EventOutcome)}


@dataclass
class RecordResult:
    outcomes: list[EventOutcome] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "recorded")

    @property
    def duplicates(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "duplicate")

    @property
    def rejected(self) -> list[EventOutcome]:
        return [o for o in self.outcomes if o.status == "rejected"]


@dataclass(frozen=True)
class HistoryItem:
    """One stored event of an agent, as history pages show it."""

    version: int
    event_id: str
    type: str
    recorded_at: str
    session_id: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, event: AgentContext.Event) -> HistoryItem:
        """A stored agent event as one history entry (a restore shows its content's hash)."""
        type_, data = event.described()
        if isinstance(event, AgentContext.ContextRestored):
            ref = event.content_ref  # kept by reference: its root is its hash
            data = {"provenance": data["provenance"],
                    "content_hash": TREE_PREFIX + ref["root"] if ref
                    else content_hash(data["content"])}
        return cls(
            version=event.originator_version,
            event_id=event.event_id,
            type=type_,
            recorded_at=event.timestamp.isoformat(),
            session_id=event.session_id if isinstance(event, AgentContext.Recorded) else None,
            data=data,
        )
