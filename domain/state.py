"""Folding wire events into an agent's context, and the canonical content hash (DESIGN §2).

The fold dispatches on the payload model (domain.payloads) of each event type: one small
function each, found by one dict lookup (FOLD).

The content is plain JSON (dicts, lists, strings, numbers) so that it snapshots, compresses,
hashes and exports without any custom encoding.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import orjson

from ctxstore.domain.payloads import (
    PAYLOADS,
    ChannelsData,
    McpStateData,
    MemoryForgottenData,
    MemoryLinkedData,
    MemoryStoredData,
    MemoryUpdatedData,
    MessageData,
    Payload,
    ReasoningData,
    ToolCallData,
    ToolResultData,
)

Content = dict[str, Any]
CONTENT_FIELDS: tuple[str, ...] = (
    "messages",
    "reasoning",
    "tool_calls",
    "memories",
    "memory_links",
    "mcp_servers",
)
# The seventh content field (issue 15): a framework's other state values (LangGraph channels),
# name -> value as the framework encodes it. In the content, and so in its hash, only when
# non-empty, so every content without it keeps its hash.
CHANNELS = "channels"


class EventNotApplicable(ValueError):
    """A well-formed event that contradicts the agent's state (e.g. updating an unknown memory)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def empty_content() -> Content:
    return {
        "messages": [],
        "reasoning": {},
        "tool_calls": [],
        "memories": {},
        "memory_links": [],
        "mcp_servers": {},
    }


def canonical_json(value: Any) -> bytes:
    """Keys sorted, no spaces, UTF-8, no NaN: the one byte form that is hashed and exported."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


_ORJSON_CANONICAL = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                     | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)
# Where orjson writes a float otherwise than Python's repr (which json.dumps writes): a
# one-digit negative exponent ("1e-7", not "1e-07"), and positions ("0.00001", not "1e-05")
# below 1e-4; as float tokens, ended by what ends a value. Text that holds such a token sends
# its value to canonical_json too.
_SMALL_POSITIONAL = re.compile(rb"(?:\A|[:,\[-])0\.0000")
# Found from its "-" (a one-byte literal the search skips to fastest: 3.7 against 5.6 ms over
# the 9 MB of a 10k agent's pages for "e-"), the "e" and the digit before looked at apart.
_SHORT_NEGATIVE_EXPONENT = re.compile(rb"-[1-9](?:[,\]}]|\Z)")
_DIGITS = frozenset(b"0123456789")
_E = ord("e")


def _short_negative_exponent(raw: bytes) -> bool:
    """Whether `raw` holds a token such as `1.5e-7`: a digit, "e-", one digit, the end of a
    value."""
    return any(at > 1 and raw[at - 1] == _E and raw[at - 2] in _DIGITS
               for at in (m.start() for m in _SHORT_NEGATIVE_EXPONENT.finditer(raw)))


def canonical_json_of_content(value: Any) -> bytes:
    """`canonical_json(value)` of what an agent holds (its state, its content or a part of
    it, its parts' addresses): the same bytes, by orjson, in about half the time on pages of
    the real traces (what each hash of a changed page, each snapshot, each fork and each
    checkpoint pays).

    For such values orjson writes what json.dumps does: keys sorted by code point, strings
    escaped alike (checked for every code point), integers alike (it refuses those past 64
    bits), and floats alike but for the tokens that `_short_negative_exponent` and
    `_SMALL_POSITIONAL` find in its output: those go to canonical_json, as does anything
    orjson refuses (a subclass, a datetime, a lone surrogate). The one thing it would write
    otherwise unseen is a NaN or an infinity (as null): content has none, every door refusing
    them (domain.payloads, domain.bounds), so it is no input here."""
    try:
        raw = orjson.dumps(value, option=_ORJSON_CANONICAL)
    except (TypeError, orjson.JSONEncodeError):
        return canonical_json(value)
    if (b"0.0000" in raw and _SMALL_POSITIONAL.search(raw)) or _short_negative_exponent(raw):
        return canonical_json(value)
    return raw


def content_of(state: dict[str, Any]) -> Content:
    content = {field: state[field] for field in CONTENT_FIELDS}
    if state.get(CHANNELS):
        content[CHANNELS] = state[CHANNELS]
    return content


def content_hash(content: dict[str, Any]) -> str:
    """The content's hash (scheme `sha256-tree1`, domain.pages) from nothing cached: of the
    content fields only (not id, version, time, sessions). An aggregate knows most of its
    parts' addresses already (AgentContext.content_hash)."""
    from ctxstore.domain.pages import tree_hash

    return tree_hash(content)


def copy_content(content: Content) -> Content:
    """A deep copy of the content fields: through orjson (plain JSON, several times faster
    than `copy.deepcopy` on megabytes of it), else (an integer past 64 bits) by deepcopy."""
    fields = content_of(content)
    try:
        copied: Content = orjson.loads(orjson.dumps(fields))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(fields)
    return copied


def own_containers(content: Content) -> Content:
    """The content fields with containers of their own (lists, objects and the lists in
    them), sharing their items: what a second holder of a content needs, since the fold
    changes containers in place but never an item (it replaces one it changes). Costs the
    number of items, not their bytes."""
    out: Content = {}
    for field, value in content_of(content).items():
        if isinstance(value, list):
            out[field] = list(value)
        elif isinstance(value, dict):
            out[field] = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
        else:
            out[field] = value
    return out


def check_applicable(content: Content, type: str, data: dict[str, Any]) -> None:
    """Raise EventNotApplicable when an event refers to something the agent does not hold."""
    if type in ("memory_updated", "memory_forgotten"):
        memory_id = data["memory_id"]
        if memory_id not in content["memories"]:
            raise EventNotApplicable(
                "data.memory_id", f"memory {memory_id!r} is not stored for this agent"
            )


def _find_tool_call(tool_calls: list[dict[str, Any]], call_id: str) -> int | None:
    # Results nearly always follow their call closely: search from the end.
    for at in range(len(tool_calls) - 1, -1, -1):
        if tool_calls[at]["call_id"] == call_id:
            return at
    return None


# The fold, one small function per payload model: `data` is that model's validated plain JSON
# (Envelope.data_dict). Registered by model, so a payload without a fold fails at import.
Apply = Callable[[Content, dict[str, Any]], None]
_BY_PAYLOAD: dict[type[Payload], Apply] = {}


def _folds(payload: type[Payload]) -> Callable[[Apply], Apply]:
    def register(apply: Apply) -> Apply:
        _BY_PAYLOAD[payload] = apply
        return apply

    return register


@_folds(MessageData)
def _message(content: Content, data: dict[str, Any]) -> None:
    content["messages"].append(dict(data))


@_folds(ReasoningData)
def _reasoning(content: Content, data: dict[str, Any]) -> None:
    step = dict(data)  # a copy, and faster than a filtering comprehension
    del step["thread_id"]
    content["reasoning"].setdefault(data["thread_id"], []).append(step)


@_folds(ToolCallData)
def _tool_call(content: Content, data: dict[str, Any]) -> None:
    entry = dict(data)
    entry["result"] = None
    content["tool_calls"].append(entry)


@_folds(ToolResultData)
def _tool_result(content: Content, data: dict[str, Any]) -> None:
    calls = content["tool_calls"]
    at = _find_tool_call(calls, data["call_id"])
    fold_result_at(content, data, None if at is None or calls[at].get("result") is not None
                   else at)


def fold_result_at(content: Content, data: dict[str, Any], at: int | None) -> None:
    """A tool result given to the open call at `at` (the last call of its id); None: its id's
    last call is answered already, or it has no recorded call, and it is kept as an entry of
    its own, not lost."""
    calls = content["tool_calls"]
    result = dict(data)
    del result["call_id"]
    result.setdefault("is_error", False)
    if at is None:
        calls.append({"call_id": data["call_id"], "result": result})
    else:
        # Replaced, not changed in place: items may be shared with earlier versions' contents.
        calls[at] = {**calls[at], "result": result}


@_folds(MemoryStoredData)
def _memory_stored(content: Content, data: dict[str, Any]) -> None:
    memory = dict(data)
    del memory["memory_id"]
    content["memories"][data["memory_id"]] = memory


@_folds(MemoryUpdatedData)
def _memory_updated(content: Content, data: dict[str, Any]) -> None:
    memories = content["memories"]
    memory = dict(memories[data["memory_id"]])  # replaced, not changed in place (as above)
    for key in ("content", "importance", "metadata"):
        if key in data:
            memory[key] = data[key]
    memories[data["memory_id"]] = memory


@_folds(MemoryForgottenData)
def _memory_forgotten(content: Content, data: dict[str, Any]) -> None:
    del content["memories"][data["memory_id"]]


@_folds(MemoryLinkedData)
def _memory_linked(content: Content, data: dict[str, Any]) -> None:
    link = {"source_id": data["source_id"], "target_id": data["target_id"],
            "relation": data["relation"]}
    if link not in content["memory_links"]:
        content["memory_links"].append(link)


@_folds(McpStateData)
def _mcp_state(content: Content, data: dict[str, Any]) -> None:
    content["mcp_servers"][data["server"]] = data["state"]


@_folds(ChannelsData)
def _channels(content: Content, data: dict[str, Any]) -> None:
    values = content.get(CHANNELS) or {}
    for name, value in data["values"].items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    if values:
        content[CHANNELS] = values
    else:
        content.pop(CHANNELS, None)


# Event type -> its payload's fold: one dict lookup per event (the aggregate's replay uses it).
FOLD: dict[str, Apply] = {kind: _BY_PAYLOAD[model] for kind, model in PAYLOADS.items()}


def apply_event(content: Content, type: str, data: dict[str, Any]) -> None:
    """Mutate `content` by one wire event whose data has been validated (see domain.events)."""
    try:
        apply = FOLD[type]
    except KeyError:
        # The envelope models admit no other type.
        raise ValueError(f"unknown event type {type!r}") from None
    apply(content, data)
