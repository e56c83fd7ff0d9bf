"""Response models of the HTTP API: they are the OpenAPI contract (requests are the
application's commands, application.commands).

What a use case already returns as a dataclass (`HistoryItem`, `Checkpoint`, `RestoreResult`)
is its own response model: pydantic validates and serialises stdlib dataclasses, so the schema
cannot drift from the result.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands.catalogue import CheckpointList
from ctxstore.application.results import HistoryItem
from ctxstore.domain.agent_id import AGENT_ID_PATTERN


class FieldErrorOut(BaseModel):
    """One reason something was rejected: where (`field`, a dotted path) and what is wrong."""

    field: str = Field(examples=["body.0.data.role"])
    message: str
    index: int | None = Field(default=None, description="Position in the batch, when one.")


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a sentence, and the offending fields when there are any."""

    detail: str
    errors: list[FieldErrorOut] = Field(default_factory=list)


class EventOutcomeOut(BaseModel):
    index: int = Field(description="Position of the envelope in the request (0 for a single one).")
    event_id: str | None
    status: Literal["recorded", "duplicate", "rejected"]
    version: int | None = Field(
        default=None, description="The agent version the event holds (recorded or duplicate)."
    )
    field: str | None = None
    reason: str | None = None


class RecordResponse(BaseModel):
    """What a POST of events did, envelope by envelope."""

    agent_id: str
    recorded: int
    duplicates: int
    rejected: int
    version: int = Field(description="The agent's version after the request.")
    outcomes: list[EventOutcomeOut]
    detail: str | None = None
    errors: list[FieldErrorOut] = Field(
        default_factory=list, description="Every rejected envelope's fields, with its index."
    )


class HistoryPage(BaseModel):
    agent_id: str
    items: list[HistoryItem]
    next_after_version: int | None = Field(
        description="Pass as after_version for the next page; null on the last page."
    )


class SessionOut(BaseModel):
    session_id: str
    first_version: int
    last_version: int


class ContextWindow(BaseModel):
    tail: int
    messages_total: int
    tool_calls_total: int
    reasoning_total: int


class ContextState(BaseModel):
    """An agent's context at a point (DESIGN §2)."""

    model_config = ConfigDict(extra="allow")

    agent_id: str
    version: int
    as_of: str | None
    messages: list[dict[str, Any]]
    reasoning: dict[str, list[dict[str, Any]]]
    tool_calls: list[dict[str, Any]]
    memories: dict[str, dict[str, Any]]
    memory_links: list[dict[str, Any]]
    mcp_servers: dict[str, Any]
    sessions: list[SessionOut]
    content_hash: str = Field(description="The whole state's hash at this version, also in "
                              "a window.")
    window: ContextWindow | None = Field(
        default=None, description="Present when `tail` asked for a window: what it left out.")


class AgentOut(BaseModel):
    agent_id: str
    version: int
    created_at: str
    updated_at: str


class AgentPage(BaseModel):
    items: list[AgentOut]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


AgentId = Field(pattern=AGENT_ID_PATTERN, max_length=128)


class CheckStatus(BaseModel):
    status: Literal["ok", "error", "unreachable"]
    detail: str | None = None
    latency_ms: float | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded", "error"] = Field(
        description="ok: all fine; degraded: NATS unreachable (optional); error: no database."
    )
    database: CheckStatus
    nats: CheckStatus


class CheckpointPage(BaseModel):
    """A page of checkpoints, in our shape (`items`, `next_offset`) and the seed's
    (`packages`, the same list); `total` counts every match, not the page."""

    packages: list[Checkpoint] = Field(description="The seed's name for the page.")
    items: list[Checkpoint] = Field(description="The page (the same list as `packages`).")
    total: int = Field(description="How many match the filters (before paging).")
    next_offset: int | None

    @classmethod
    def of(cls, found: CheckpointList) -> CheckpointPage:
        return cls(packages=found.items, items=found.items, total=found.total,
                   next_offset=found.next_offset)


class PointOut(BaseModel):
    agent_id: str
    point: dict[str, Any]
    version: int
    content_hash: str


class DiffOut(BaseModel):
    """Changes from `base` to `other` (before/after pairs where something changed in place)."""

    base: PointOut
    other: PointOut
    identical: bool
    summary: dict[str, int]
    messages_added: list[dict[str, Any]]
    messages_removed: list[dict[str, Any]]
    reasoning_added: dict[str, list[dict[str, Any]]]
    reasoning_removed: dict[str, list[dict[str, Any]]]
    memories_stored: dict[str, dict[str, Any]]
    memories_updated: dict[str, dict[str, Any]]
    memories_forgotten: dict[str, dict[str, Any]]
    links_added: list[dict[str, Any]]
    links_removed: list[dict[str, Any]]
    tool_calls_added: list[dict[str, Any]]
    tool_calls_removed: list[dict[str, Any]]
    tool_calls_changed: list[dict[str, Any]]
    mcp_changed: dict[str, dict[str, Any]]


class EvolutionPointOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    start: str
    start_us: int
    events: int
    messages: int
    tokens: int
    tool_calls: int
    tool_errors: int
    memories_stored: int
    memories_updated: int
    memories_forgotten: int
    checkpoints: int
    restores: int
    raw_bytes: int
    stored_bytes: int
    version: int
    live_memories: int
    compression_ratio: float | None = Field(description="Stored ÷ raw bytes of the bucket's "
                                            "events (the seed's compressed ÷ original).")
    total_compression_ratio: float | None
    space_saving: float | None = Field(description="1 − compression_ratio.")


class EvolutionOut(BaseModel):
    agent_id: str
    bucket: str
    position: int | None = Field(description="Last event-log position the read model holds.")
    points: list[EvolutionPointOut]
