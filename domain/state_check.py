"""What a valid agent state is, for states that come from outside (a `.ctxpkg` body).

An event reaches an agent's state only through the wire models of domain.events and the fold
of domain.state. A state read from a file skips both, so it is checked here against the very
same models: each message, reasoning step, tool call (and result), memory, memory link and MCP
server state must be what some validated event folds to. Without this a crafted package could
hold `tool_calls: "x"` or `messages: 5` (the diff, capture and context then answered 500), or
an object tagged like the event store's own values (`{"_type_": ..., "_data_": ...}`), which
is stored but never read back and left every reader of the tenant (and of any tenant whose
projections it reached) failing.

Validation is strict (no coercion): the state is kept byte for byte as imported, so a value
the models would have converted (a string `"5"` for an integer) is refused, not reinterpreted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from ctxstore.domain import bounds
from ctxstore.domain.agent_id import AGENT_ID_PATTERN
from ctxstore.domain.bounds import OutOfBounds
from ctxstore.domain.events import (
    RESERVED_KEY,
    ChannelsData,
    McpStateData,
    MemoryLinkedData,
    MemoryStoredData,
    MessageData,
    ReasoningData,
    ToolCallData,
    ToolResultData,
    errors_from_validation,
)
from ctxstore.domain.state import CHANNELS, CONTENT_FIELDS

_AGENT_ID_RE = re.compile(AGENT_ID_PATTERN)
STATE_FIELDS = frozenset({"agent_id", "version", "as_of", "sessions", "content_hash",
                          CHANNELS, *CONTENT_FIELDS})
_SESSION_FIELDS = frozenset({"session_id", "first_version", "last_version"})


class InvalidState(OutOfBounds):
    """A state no sequence of valid events could have produced; `field` is its path
    (`messages.0.content`)."""


def check_state(state: Any, *, max_clock_skew_seconds: float =
                bounds.DEFAULT_MAX_CLOCK_SKEW_SECONDS) -> dict[str, Any]:
    """`state` when it is an agent state in the DESIGN §2 form (what a checkpoint holds) whose
    every field could come from valid events, else InvalidState naming the first bad field.

    The hash is not checked here (application.checkpoint_model.check_integrity does that)."""
    if not isinstance(state, dict):
        raise InvalidState("(state)", "an agent state must be a JSON object")
    unknown = sorted(set(state) - STATE_FIELDS)
    if unknown:
        raise InvalidState(str(unknown[0]), "is not a field of an agent state")
    agent_id = state.get("agent_id")
    if not isinstance(agent_id, str) or not _AGENT_ID_RE.match(agent_id):
        raise InvalidState("agent_id", f"must match {AGENT_ID_PATTERN}")
    _version(state.get("version"), "version")
    _as_of(state.get("as_of"), max_clock_skew_seconds)
    _sessions(state.get("sessions", []))
    digest = state.get("content_hash")
    if digest is not None and not isinstance(digest, str):
        raise InvalidState("content_hash", "must be a string")
    check_content(state)
    return state


def check_content(content: Mapping[str, Any]) -> None:
    """Raise InvalidState unless each content field of `content` has the shape the fold of
    valid events gives it (see domain.state.apply_event)."""
    for name in CONTENT_FIELDS:
        if name not in content:
            raise InvalidState(name, "field required")
    _each_item(content, "messages", lambda m, where: _model(MessageData, m, where))
    for thread_id, steps in _keyed(content, "reasoning"):
        if not isinstance(steps, list):
            raise InvalidState(f"reasoning.{thread_id}", "must be a list of reasoning steps")
        for n, step in enumerate(steps):
            where = f"reasoning.{thread_id}.{n}"
            _model(ReasoningData, _with(step, "thread_id", thread_id, where), where)
    _each_item(content, "tool_calls", _tool_call)
    for memory_id, memory in _keyed(content, "memories"):
        where = f"memories.{memory_id}"
        _model(MemoryStoredData, _with(memory, "memory_id", memory_id, where), where)
    _each_item(content, "memory_links", lambda link, where: _model(MemoryLinkedData, link,
                                                                    where))
    for server, server_state in _keyed(content, "mcp_servers"):
        where = f"mcp_servers.{server}"
        _model(McpStateData, {"server": server, "state": server_state}, where)
    if CHANNELS in content:
        _model(ChannelsData, {"values": content[CHANNELS]}, CHANNELS)


def _each_item(content: Mapping[str, Any], name: str, check: Any) -> None:
    items = content[name]
    if not isinstance(items, list):
        raise InvalidState(name, "must be a list")
    for n, item in enumerate(items):
        check(item, f"{name}.{n}")


def _keyed(content: Mapping[str, Any], name: str) -> list[tuple[str, Any]]:
    items = content[name]
    if not isinstance(items, dict):
        raise InvalidState(name, "must be an object keyed by id")
    for key in items:
        if key == RESERVED_KEY:
            raise InvalidState(f"{name}.{key}", f"{RESERVED_KEY!r} is reserved")
    return list(items.items())


def _with(item: Any, key: str, value: Any, where: str) -> dict[str, Any]:
    """`item` (an object the fold took `key` out of) with `key` put back."""
    if not isinstance(item, dict):
        raise InvalidState(where, "must be a JSON object")
    if key in item:
        raise InvalidState(f"{where}.{key}", "is not a field here")
    return {**item, key: value}


def _tool_call(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise InvalidState(where, "must be a JSON object")
    if "result" not in entry:
        raise InvalidState(f"{where}.result", "field required (null until a result arrives)")
    result = entry["result"]
    call = {k: v for k, v in entry.items() if k != "result"}
    if set(call) == {"call_id"}:
        # A result whose call was never recorded (domain.state keeps it alone).
        if result is None:
            raise InvalidState(f"{where}.result", "a tool result without its call needs one")
    else:
        _model(ToolCallData, call, where)
    if result is not None:
        call_id = call.get("call_id")
        _model(ToolResultData, _with(result, "call_id", call_id, f"{where}.result"),
               f"{where}.result")


def _model(model: type[BaseModel], value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise InvalidState(where, "must be a JSON object")
    try:
        model.model_validate(value, strict=True)
    except ValidationError as e:
        first = errors_from_validation(e)[0]
        raise InvalidState(f"{where}.{first.field}" if first.field != "(body)" else where,
                           first.message) from None


def _version(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise InvalidState(where, "must be an integer, 0 or more")
    try:
        return bounds.check_int(value, where)
    except OutOfBounds as e:
        raise InvalidState(e.field, e.message) from None


def _as_of(value: Any, skew: float) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidState("as_of", "must be an RFC 3339 time or null")
    try:
        bounds.check_time(datetime.fromisoformat(value), "as_of", max_skew_seconds=skew)
    except OutOfBounds as e:
        raise InvalidState(e.field, e.message) from None
    except ValueError:
        raise InvalidState("as_of", f"not an RFC 3339 time: {value[:64]!r}") from None


def _sessions(sessions: Any) -> None:
    if not isinstance(sessions, list):
        raise InvalidState("sessions", "must be a list")
    for n, session in enumerate(sessions):
        where = f"sessions.{n}"
        if not isinstance(session, dict) or set(session) != _SESSION_FIELDS:
            raise InvalidState(where, "must be an object of session_id, first_version and "
                               "last_version")
        session_id = session["session_id"]
        if not isinstance(session_id, str) or not 1 <= len(session_id) <= bounds.MAX_TEXT_LENGTH:
            raise InvalidState(f"{where}.session_id", "must be a string of 1 to "
                               f"{bounds.MAX_TEXT_LENGTH} characters")
        _version(session["first_version"], f"{where}.first_version")
        _version(session["last_version"], f"{where}.last_version")
