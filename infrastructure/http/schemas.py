"""Response (and small request) models of the HTTP API: they are the OpenAPI contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.agent_id import AGENT_ID_PATTERN


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


class HistoryItemOut(BaseModel):
    version: int
    event_id: str
    type: str
    recorded_at: str
    session_id: str | None
    data: dict[str, Any]


class HistoryPage(BaseModel):
    agent_id: str
    items: list[HistoryItemOut]
    next_after_version: int | None = Field(
        description="Pass as after_version for the next page; null on the last page."
    )


class SessionOut(BaseModel):
    session_id: str
    first_version: int
    last_version: int


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
    content_hash: str


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
