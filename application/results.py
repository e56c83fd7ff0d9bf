"""What the use cases return: plain dataclasses every adapter can render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["recorded", "duplicate", "rejected"]


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    agent_id: str
    status: Status
    version: int | None = None
    field: str | None = None
    reason: str | None = None


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
