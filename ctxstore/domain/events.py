"""The wire events agents publish, as pydantic models, and the envelope that carries them.

Validation lives here so every entry point (HTTP, NATS, CLI, importers) rejects the same input
with the same field-named reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ctxstore.domain import bounds
from ctxstore.domain.agent_id import AGENT_ID_PATTERN
from ctxstore.domain.bounds import OutOfBounds

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


def _finite_json(value: Any, info: ValidationInfo | None = None) -> Any:
    """Reject NaN and infinities anywhere in free-form JSON: the canonical form has none."""
    if type(value) is str or value is None:
        return value
    if info is not None and info.context is not None and info.context.get(PLAIN_JSON):
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
# Validation context key: the seconds an `occurred_at` may be ahead of this store's clock.
CLOCK_SKEW = "max_clock_skew_seconds"


def _has_reserved_object(value: Any) -> bool:
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return True
        return any(_has_reserved_object(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_reserved_object(v) for v in value)
    return False


FreeJSON = Annotated[JSON, Field(default=None)]


class Payload(BaseModel):
    """Base of every event's `data`: unknown fields are errors, floats are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MessageData(Payload):
    role: Role
    content: str | list[dict[str, JSON]]
    name: ShortText | None = None
    tool_call_id: Id | None = None
    message_id: Id | None = None
    tokens: Annotated[int, Field(ge=0)] | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _content_shape(cls, v: Any) -> Any:
        # One clear error at data.content, not one per union member (data.content.str, ...).
        if isinstance(v, str) or (isinstance(v, list) and all(isinstance(p, dict) for p in v)):
            return v
        raise ValueError("must be a string or a list of content parts (JSON objects)")

    @field_validator("content")
    @classmethod
    def _content_json(cls, v: Any, info: ValidationInfo) -> Any:
        return _finite_json(v, info)


class ReasoningData(Payload):
    thread_id: StateKey
    content: str
    step: Annotated[int, Field(ge=0)] | None = None


class ToolCallData(Payload):
    call_id: Id
    tool: Annotated[str, Field(min_length=1, max_length=256)]
    arguments: dict[str, JSON]
    server: ShortText | None = None

    @field_validator("arguments")
    @classmethod
    def _arguments_json(cls, v: Any, info: ValidationInfo) -> Any:
        return _finite_json(v, info)


class ToolResultData(Payload):
    call_id: Id
    output: JSON = None
    is_error: bool = False
    duration_ms: Annotated[float, Field(ge=0)] | None = None

    @field_validator("output")
    @classmethod
    def _output_json(cls, v: Any, info: ValidationInfo) -> Any:
        return _finite_json(v, info)


class MemoryStoredData(Payload):
    memory_id: StateKey
    kind: MemoryKind
    content: str
    embedding: Annotated[list[float], Field(max_length=MAX_EMBEDDING_DIMENSIONS)] | None = None
    importance: float | None = None
    metadata: dict[str, JSON] | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata_json(cls, v: Any, info: ValidationInfo) -> Any:
        return _finite_json(v, info)


class MemoryUpdatedData(Payload):
    memory_id: Id
    content: str | None = None
    importance: float | None = None
    metadata: dict[str, JSON] | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata_json(cls, v: Any, info: ValidationInfo) -> Any:
        return _finite_json(v, info)


class MemoryForgottenData(Payload):
    memory_id: Id
    reason: str | None = None


class MemoryLinkedData(Payload):
    source_id: Id
    target_id: Id
    relation: Annotated[str, Field(min_length=1, max_length=256)]


class McpStateData(Payload):
    server: StateKey
    state: dict[str, JSON]

    @field_validator("state")
    @classmethod
    def _state_json(cls, v: Any, info: ValidationInfo) -> Any:
        return _finite_json(v, info)


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
}


class _EnvelopeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Annotated[str, Field(min_length=1, max_length=256)]
    agent_id: Annotated[str, Field(pattern=AGENT_ID_PATTERN)]
    occurred_at: datetime | None = None
    session_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        # RFC 3339 times carry an offset; a naive time (older traces) is taken as UTC.
        if v is None:
            return v
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        skew = (info.context or {}).get(CLOCK_SKEW, bounds.DEFAULT_MAX_CLOCK_SKEW_SECONDS)
        try:
            return bounds.check_time(v, "occurred_at", max_skew_seconds=skew)
        except OutOfBounds as e:
            raise ValueError(e.message) from None

    def data_dict(self) -> dict[str, Any]:
        """The payload as canonical plain JSON (absent optionals left out)."""
        data: Payload = self.data  # type: ignore[attr-defined]
        return data.model_dump(mode="json", exclude_none=True)


class MessageEnvelope(_EnvelopeBase):
    type: Literal["message"]
    data: MessageData


class ReasoningEnvelope(_EnvelopeBase):
    type: Literal["reasoning"]
    data: ReasoningData


class ToolCallEnvelope(_EnvelopeBase):
    type: Literal["tool_call"]
    data: ToolCallData


class ToolResultEnvelope(_EnvelopeBase):
    type: Literal["tool_result"]
    data: ToolResultData


class MemoryStoredEnvelope(_EnvelopeBase):
    type: Literal["memory_stored"]
    data: MemoryStoredData


class MemoryUpdatedEnvelope(_EnvelopeBase):
    type: Literal["memory_updated"]
    data: MemoryUpdatedData


class MemoryForgottenEnvelope(_EnvelopeBase):
    type: Literal["memory_forgotten"]
    data: MemoryForgottenData


class MemoryLinkedEnvelope(_EnvelopeBase):
    type: Literal["memory_linked"]
    data: MemoryLinkedData


class McpStateEnvelope(_EnvelopeBase):
    type: Literal["mcp_state"]
    data: McpStateData


Envelope = Annotated[
    MessageEnvelope
    | ReasoningEnvelope
    | ToolCallEnvelope
    | ToolResultEnvelope
    | MemoryStoredEnvelope
    | MemoryUpdatedEnvelope
    | MemoryForgottenEnvelope
    | MemoryLinkedEnvelope
    | McpStateEnvelope,
    Field(discriminator="type"),
]
AnyEnvelope: TypeAlias = (
    MessageEnvelope
    | ReasoningEnvelope
    | ToolCallEnvelope
    | ToolResultEnvelope
    | MemoryStoredEnvelope
    | MemoryUpdatedEnvelope
    | MemoryForgottenEnvelope
    | MemoryLinkedEnvelope
    | McpStateEnvelope
)
ENVELOPE_ADAPTER: TypeAdapter[AnyEnvelope] = TypeAdapter(Envelope)


class FieldError(BaseModel):
    """One reason an envelope was rejected: the field path and what is wrong with it."""

    field: str
    message: str


class InvalidEnvelope(ValueError):
    """An envelope that cannot be recorded; `errors` name each offending field."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    @property
    def reason(self) -> str:
        return str(self)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(body)"


def errors_from_validation(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # A tagged union puts the tag first ("message", "data", "role"): leave it out.
        if loc and isinstance(loc[0], str) and loc[0] in PAYLOADS:
            loc = loc[1:]
        if err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            errors.append(
                FieldError(
                    field="type",
                    message=f"unknown event type {ctx.get('tag')!r}; expected one of "
                    + ", ".join(EVENT_TYPES),
                )
            )
            continue
        if err["type"] == "union_tag_not_found":
            errors.append(FieldError(field="type", message="field required"))
            continue
        errors.append(FieldError(field=_field_path(loc), message=err["msg"]))
    return errors


def _loads(raw: bytes | str) -> tuple[Any, bool]:
    """The JSON value, and whether orjson parsed it (see domain.bounds.loads)."""
    try:
        return bounds.loads(raw)
    except OutOfBounds as e:
        raise InvalidEnvelope([FieldError(field=e.field, message=e.message)]) from None
    except ValueError as e:
        raise InvalidEnvelope([FieldError(field="(body)", message=f"invalid JSON: {e}")]) from e


def parse_envelope(
    raw: Mapping[str, Any] | bytes | str,
    *,
    max_event_bytes: int | None = None,
    max_clock_skew_seconds: float = bounds.DEFAULT_MAX_CLOCK_SKEW_SECONDS,
) -> AnyEnvelope:
    """Validate one envelope from JSON text or a decoded mapping, or raise InvalidEnvelope.

    Every bound of domain.bounds applies, whichever door the envelope came through.
    """
    checked = None
    context: dict[str, Any] = {CLOCK_SKEW: max_clock_skew_seconds}
    within = False
    if isinstance(raw, bytes | str):
        text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        size = checked = len(text)
        if max_event_bytes is not None and size > max_event_bytes:
            raise InvalidEnvelope(
                [FieldError(field="(body)", message=f"event is {size} bytes, over the "
                            f"limit of {max_event_bytes} bytes")]
            )
        raw, by_orjson = _loads(text)
        within = by_orjson and bounds.text_within_bounds(text)
        if by_orjson and b"_type_" not in text and b"\\u" not in text:
            context[PLAIN_JSON] = True
    if not isinstance(raw, Mapping):
        raise InvalidEnvelope(
            [FieldError(field="(body)", message="an envelope must be a JSON object")]
        )
    if not within:
        try:
            bounds.check_json(raw)
        except OutOfBounds as e:
            raise InvalidEnvelope([FieldError(field=e.field, message=e.message)]) from None
    try:
        envelope = ENVELOPE_ADAPTER.validate_python(raw, context=context)
    except ValidationError as e:
        raise InvalidEnvelope(errors_from_validation(e)) from e
    if max_event_bytes is not None and checked is None:
        # A mapping has no size of its own: measure the validated event.
        size = len(envelope.model_dump_json())
        if size > max_event_bytes:
            raise InvalidEnvelope(
                [FieldError(field="data", message=f"event is {size} bytes, over the limit "
                            f"of {max_event_bytes} bytes")]
            )
    return envelope


def make_envelope(
    agent_id: str,
    type: str,
    data: Mapping[str, Any],
    *,
    event_id: str,
    occurred_at: datetime | None = None,
    session_id: str | None = None,
    max_event_bytes: int | None = bounds.DEFAULT_MAX_EVENT_BYTES,
    max_clock_skew_seconds: float = bounds.DEFAULT_MAX_CLOCK_SKEW_SECONDS,
) -> AnyEnvelope:
    """Build and validate an envelope from its parts (importers, CLI), within the bounds."""
    raw: dict[str, Any] = {"event_id": event_id, "agent_id": agent_id, "type": type,
                           "data": dict(data)}
    if occurred_at is not None:
        raw["occurred_at"] = occurred_at
    if session_id is not None:
        raw["session_id"] = session_id
    return parse_envelope(raw, max_event_bytes=max_event_bytes,
                          max_clock_skew_seconds=max_clock_skew_seconds)
