"""The `data` of each wire event type, as pydantic models, and the checks free-form JSON in
them must pass (finite numbers, no object the event store would take for its own tag).

One model per event type (PAYLOADS): the envelopes of domain.events carry them, the fold of
domain.state applies them and domain.state_check checks stored states against them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

JSON: TypeAlias = Any
Role = Literal["system", "user", "assistant", "tool"]
MemoryKind = Literal["short_term", "long_term", "episodic", "semantic"]
EventType = Literal[
    "message",
    "reasoning",
    "tool_call",
    "tool_result",
    "memory_stored",
    "memory_updated",
    "memory_forgotten",
    "memory_linked",
    "mcp_state",
    "channels",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

Id = Annotated[str, Field(min_length=1, max_length=256)]
# The event store tags its own values as an object of exactly the keys "_type_" and "_data_":
# an agent state's objects keyed by ids (memories, reasoning threads, MCP servers) must never
# be one, so the id "_type_" is reserved for them (never any other, so no such object forms).
RESERVED_KEY = "_type_"


def _not_reserved(value: str) -> str:
    if value == RESERVED_KEY:
        raise ValueError(f"{RESERVED_KEY!r} is reserved (the event store tags its own values "
                         "with it)")
    return value


StateKey = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_not_reserved)]
ShortText = Annotated[str, Field(max_length=256)]
MAX_EMBEDDING_DIMENSIONS = 16384


def _finite_json(value: Any, info: ValidationInfo) -> Any:
    """Reject NaN and infinities anywhere in free-form JSON: the canonical form has none."""
    if type(value) is str or value is None:
        return value
    if info.context is not None and info.context.get(PLAIN_JSON):
        return value  # see parse_envelope: nothing here could be refused
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError as e:
        raise ValueError("must be JSON without NaN or Infinity") from e
    except TypeError as e:
        raise ValueError(f"must be JSON: {e}") from e
    if '"_type_"' in text and _has_reserved_object(value):
        # The event store tags its own values this way: such an object would be stored but
        # could never be read back, making the agent's history unreadable.
        raise ValueError('must not contain an object whose only keys are "_type_" and "_data_"')
    return value


# Validation context key: the envelope was parsed by orjson (which refuses NaN, Infinity and
# numbers that overflow to them) from text that has no "_type_" and no \u escape that could
# spell one, so free-form JSON in it needs no further check.
PLAIN_JSON = "plain_json"


def _has_reserved_object(value: Any) -> bool:
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return True
        return any(_has_reserved_object(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_reserved_object(v) for v in value)
    return False


FreeJSON = Annotated[JSON, Field(default=None)]
# Free-form JSON fields: finite numbers only, no reserved objects (one check, every field).
FINITE = AfterValidator(_finite_json)


class Payload(BaseModel):
    """Base of every event's `data`: unknown fields are errors, floats are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SourceItem(Payload):
    """A framework's item as an adapter received it, kept beside the typed event made from it,
    so the adapter gives it back exactly (`infrastructure.adapters`); `position` orders a
    session's items across messages, reasoning and tool calls."""

    framework: Annotated[str, Field(min_length=1, max_length=64)]
    position: Annotated[int, Field(ge=0)]
    item: Annotated[dict[str, JSON], FINITE]


class MessageData(Payload):
    role: Role
    content: Annotated[str | list[dict[str, JSON]], FINITE]
    name: ShortText | None = None
    tool_call_id: Id | None = None
    message_id: Id | None = None
    tokens: Annotated[int, Field(ge=0)] | None = None
    source: SourceItem | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _content_shape(cls, v: Any) -> Any:
        # One clear error at data.content, not one per union member (data.content.str, ...).
        if isinstance(v, str) or (isinstance(v, list) and all(isinstance(p, dict) for p in v)):
            return v
        raise ValueError("must be a string or a list of content parts (JSON objects)")



class ReasoningData(Payload):
    thread_id: StateKey
    content: str
    step: Annotated[int, Field(ge=0)] | None = None
    source: SourceItem | None = None


class ToolCallData(Payload):
    call_id: Id
    tool: Annotated[str, Field(min_length=1, max_length=256)]
    arguments: Annotated[dict[str, JSON], FINITE]
    server: ShortText | None = None
    source: SourceItem | None = None


class ToolResultData(Payload):
    call_id: Id
    output: Annotated[JSON, FINITE] = None
    is_error: bool = False
    duration_ms: Annotated[float, Field(ge=0)] | None = None
    source: SourceItem | None = None



class MemoryStoredData(Payload):
    memory_id: StateKey
    kind: MemoryKind
    content: str
    embedding: Annotated[list[float], Field(max_length=MAX_EMBEDDING_DIMENSIONS)] | None = None
    importance: float | None = None
    metadata: Annotated[dict[str, JSON], FINITE] | None = None



class MemoryUpdatedData(Payload):
    memory_id: Id
    content: str | None = None
    importance: float | None = None
    metadata: Annotated[dict[str, JSON], FINITE] | None = None



class MemoryForgottenData(Payload):
    memory_id: Id
    reason: str | None = None


class MemoryLinkedData(Payload):
    source_id: Id
    target_id: Id
    relation: Annotated[str, Field(min_length=1, max_length=256)]


class McpStateData(Payload):
    server: StateKey
    state: Annotated[dict[str, JSON], FINITE]



class ChannelsData(Payload):
    """A framework's named state values other than messages (a LangGraph graph's channels), as
    that framework encodes them; null removes a name. `source` carries the framework's own
    record of the step (what it needs to find this point again), outside the content."""

    values: Annotated[dict[StateKey, JSON], FINITE]
    source: SourceItem | None = None


PAYLOADS: dict[str, type[Payload]] = {
    "message": MessageData,
    "reasoning": ReasoningData,
    "tool_call": ToolCallData,
    "tool_result": ToolResultData,
    "memory_stored": MemoryStoredData,
    "memory_updated": MemoryUpdatedData,
    "memory_forgotten": MemoryForgottenData,
    "memory_linked": MemoryLinkedData,
    "mcp_state": McpStateData,
    "channels": ChannelsData,
}
