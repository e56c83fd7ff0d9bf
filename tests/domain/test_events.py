"""Validation of the wire envelopes: every event type, and errors that name the field."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ctxstore.domain.events import (
    EVENT_TYPES,
    MAX_EMBEDDING_DIMENSIONS,
    InvalidEnvelope,
    make_envelope,
    parse_envelope,
)

VALID: dict[str, dict[str, Any]] = {
    "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}], "name": "bot",
                "tool_call_id": "c1", "message_id": "m1", "tokens": 3},
    "reasoning": {"thread_id": "t1", "content": "because", "step": 0},
    "tool_call": {"call_id": "c1", "tool": "search", "arguments": {"q": "x", "n": [1, 2.5]},
                  "server": "web"},
    "tool_result": {"call_id": "c1", "output": [{"hit": None}], "is_error": True,
                    "duration_ms": 12.5},
    "memory_stored": {"memory_id": "m1", "kind": "episodic", "content": "saw x",
                      "embedding": [0.1, -2.0], "importance": 0.7, "metadata": {"k": ["v"]}},
    "memory_updated": {"memory_id": "m1", "content": "saw y", "importance": 0.1,
                       "metadata": {}},
    "memory_forgotten": {"memory_id": "m1", "reason": "stale"},
    "memory_linked": {"source_id": "m1", "target_id": "m2", "relation": "causes"},
    "mcp_state": {"server": "fs", "state": {"cwd": "/tmp", "open": []}},
    "channels": {"values": {"counter": {"type": "json", "b64": "MQ=="}, "gone": None}},
}

REQUIRED: dict[str, list[str]] = {
    "message": ["role", "content"],
    "reasoning": ["thread_id", "content"],
    "tool_call": ["call_id", "tool", "arguments"],
    "tool_result": ["call_id"],
    "memory_stored": ["memory_id", "kind", "content"],
    "memory_updated": ["memory_id"],
    "memory_forgotten": ["memory_id"],
    "memory_linked": ["source_id", "target_id", "relation"],
    "mcp_state": ["server", "state"],
    "channels": ["values"],
}


def envelope(type: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"event_id": "e-1", "agent_id": "agent-1", "type": type, "data": data, **extra}


def rejected(raw: Any, **kwargs: Any) -> dict[str, str]:
    """Parse what must fail; return {field: message} of its errors."""
    with pytest.raises(InvalidEnvelope) as info:
        parse_envelope(raw, **kwargs)
    errors = {e.field: e.message for e in info.value.errors}
    assert errors, "an InvalidEnvelope must name at least one field"
    for field in errors:
        assert field in str(info.value)
    return errors


def test_every_type_is_covered() -> None:
    assert set(VALID) == set(EVENT_TYPES) == set(REQUIRED)


@pytest.mark.parametrize("type", EVENT_TYPES)
def test_valid_event_of_each_type(type: str) -> None:
    parsed = parse_envelope(envelope(type, VALID[type], session_id="s-1",
                                     occurred_at="2025-01-02T03:04:05+02:00"))
    assert parsed.type == type and parsed.agent_id == "agent-1" and parsed.session_id == "s-1"
    assert parsed.data_dict() == VALID[type]
    assert parsed.occurred_at == datetime(2025, 1, 2, 1, 4, 5, tzinfo=UTC)
    # The same from JSON bytes and text.
    text = json.dumps(envelope(type, VALID[type]))
    assert parse_envelope(text).data_dict() == VALID[type]
    assert parse_envelope(text.encode()).data_dict() == VALID[type]


@pytest.mark.parametrize("type", EVENT_TYPES)
def test_required_fields_of_each_type(type: str) -> None:
    for field in REQUIRED[type]:
        data = {k: v for k, v in VALID[type].items() if k != field}
        errors = rejected(envelope(type, data))
        assert errors == {f"data.{field}": "Field required"}


@pytest.mark.parametrize("type", EVENT_TYPES)
def test_unknown_data_field_of_each_type(type: str) -> None:
    errors = rejected(envelope(type, {**VALID[type], "colour": "blue"}))
    assert errors == {"data.colour": "Extra inputs are not permitted"}


@pytest.mark.parametrize("type", EVENT_TYPES)
def test_optional_fields_may_be_left_out(type: str) -> None:
    minimal = {k: VALID[type][k] for k in REQUIRED[type]}
    parsed = parse_envelope(envelope(type, minimal))
    dumped = parsed.data_dict()
    if type == "tool_result":
        assert dumped == {**minimal, "is_error": False}
    else:
        assert dumped == minimal


@pytest.mark.parametrize(
    ("type", "field", "value", "says"),
    [
        ("message", "role", "robot", "'system', 'user', 'assistant' or 'tool'"),
        ("message", "content", 7, "a string or a list of content parts"),
        ("message", "content", ["not a part"], "a string or a list of content parts"),
        ("message", "tokens", -1, "greater than or equal to 0"),
        ("message", "name", "n" * 257, "at most 256"),
        ("message", "message_id", "", "at least 1"),
        ("reasoning", "thread_id", "", "at least 1"),
        ("reasoning", "step", -2, "greater than or equal to 0"),
        ("tool_call", "arguments", [1, 2], "valid dictionary"),
        ("tool_call", "tool", "", "at least 1"),
        ("tool_result", "is_error", "perhaps", "valid boolean"),
        ("tool_result", "duration_ms", -0.5, "greater than or equal to 0"),
        ("memory_stored", "kind", "forever", "'short_term', 'long_term', 'episodic' or "
                                             "'semantic'"),
        ("memory_stored", "embedding", ["a"], "valid number"),
        ("memory_stored", "embedding", [0.0] * (MAX_EMBEDDING_DIMENSIONS + 1), "at most"),
        ("memory_stored", "metadata", "not an object", "valid dictionary"),
        ("memory_updated", "importance", "high", "valid number"),
        ("memory_linked", "relation", "", "at least 1"),
        ("mcp_state", "state", "up", "valid dictionary"),
        ("mcp_state", "server", "", "at least 1"),
    ],
)
def test_bad_values_name_the_field(type: str, field: str, value: Any, says: str) -> None:
    errors = rejected(envelope(type, {**VALID[type], field: value}))
    assert list(errors) in ([f"data.{field}"], [f"data.{field}.0"])
    assert says in next(iter(errors.values()))


@pytest.mark.parametrize(
    ("type", "field", "value"),
    [
        ("message", "content", [{"type": "number", "value": math.nan}]),
        ("tool_call", "arguments", {"x": math.inf}),
        ("tool_result", "output", {"deep": [1, {"x": -math.inf}]}),
        ("tool_result", "duration_ms", math.nan),
        ("memory_stored", "importance", math.nan),
        ("memory_stored", "embedding", [0.5, math.nan]),
        ("memory_stored", "metadata", {"score": math.nan}),
        ("memory_updated", "metadata", {"score": math.inf}),
        ("memory_updated", "importance", math.inf),
        ("mcp_state", "state", {"load": math.nan}),
    ],
)
def test_nan_and_infinity_are_rejected(type: str, field: str, value: Any) -> None:
    errors = rejected(envelope(type, {**VALID[type], field: value}))
    assert len(errors) == 1
    (name,) = errors
    assert name.startswith(f"data.{field}")
    assert "finite" in errors[name] or "NaN" in errors[name]


@pytest.mark.parametrize(("type", "field", "value"), [
    ("tool_result", "output", {"_type_": "datetime_iso", "_data_": "2025-01-01"}),
    ("tool_call", "arguments", {"deep": [{"_data_": 1, "_type_": "x"}]}),
    ("mcp_state", "state", {"a": {"_type_": "uuid_hex", "_data_": "00"}}),
    ("memory_stored", "metadata", {"list": [[{"_type_": "", "_data_": None}]]}),
])
def test_store_tag_shaped_objects_are_rejected(type: str, field: str, value: Any) -> None:
    # The event store tags its own values as {"_type_", "_data_"}: such user data would be
    # stored but never read back.
    errors = rejected(envelope(type, {**VALID[type], field: value}))
    assert list(errors) == [f"data.{field}"] and '"_type_"' in errors[f"data.{field}"]
    ok = {**VALID[type], field: {"_type_": "fine", "_data_": 1, "third": 2}}
    assert parse_envelope(envelope(type, ok)).data_dict()[field] == ok[field]


@pytest.mark.parametrize(("literal", "field"), [
    ("NaN", "data.output"), ("Infinity", "data.output"), ("-Infinity", "data.output"),
    ("1e400", "data.output"), ("[1, -1e999]", "data.output.1")])
def test_nan_in_json_text_is_rejected(literal: str, field: str) -> None:
    text = '{"event_id":"e","agent_id":"a","type":"tool_result",' \
           f'"data":{{"call_id":"c","output":{literal}}}}}'
    assert list(rejected(text)) == [field]
    assert list(rejected(text.encode())) == [field]


@pytest.mark.parametrize("tag", [
    '{"_type_": "datetime_iso", "_data_": "x"}',
    '{"\\u005ftype_": "datetime_iso", "_data_": "x"}',  # the same key, escaped
    '[{"_d\\u0061ta_": 1, "_type_": "x"}]',
])
def test_store_tag_shaped_objects_in_json_text_are_rejected(tag: str) -> None:
    # JSON text takes a faster path than a mapping (parse_envelope's PLAIN_JSON): same rules.
    text = '{"event_id":"e","agent_id":"a","type":"tool_result",' \
           f'"data":{{"call_id":"c","output":{{"deep":{tag}}}}}}}'
    for raw in (text, text.encode()):
        errors = rejected(raw)
        assert list(errors) == ["data.output"] and '"_type_"' in errors["data.output"]


def test_unknown_and_missing_type() -> None:
    errors = rejected(envelope("telepathy", {}))
    assert list(errors) == ["type"]
    assert "'telepathy'" in errors["type"] and "memory_linked" in errors["type"]
    raw = envelope("message", VALID["message"])
    del raw["type"]
    assert rejected(raw) == {"type": "field required"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"agent_id": "has space"}, "agent_id"),
        ({"agent_id": "-leading-dash"}, "agent_id"),
        ({"agent_id": "a" * 129}, "agent_id"),
        ({"agent_id": "dots.are.subject.separators"}, "agent_id"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "e" * 257}, "event_id"),
        ({"session_id": ""}, "session_id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"priority": "high"}, "priority"),
    ],
)
def test_envelope_fields_name_the_field(change: dict[str, Any], field: str) -> None:
    errors = rejected({**envelope("message", VALID["message"]), **change})
    assert list(errors) == [field]


def test_missing_envelope_fields_are_all_reported() -> None:
    errors = rejected({"type": "message", "data": VALID["message"]})
    assert set(errors) == {"event_id", "agent_id"}


def test_several_errors_reported_together() -> None:
    errors = rejected(envelope("memory_stored", {"memory_id": "", "kind": "x", "content": 1},
                               agent_id="bad agent"))
    assert set(errors) == {"agent_id", "data.memory_id", "data.kind", "data.content"}


def test_body_errors() -> None:
    assert list(rejected(b"{not json")) == ["(body)"]
    assert list(rejected("[1, 2]")) == ["(body)"]
    assert list(rejected([1, 2])) == ["(body)"]


def test_size_limit() -> None:
    big = envelope("message", {"role": "user", "content": "x" * 2000})
    errors = rejected(json.dumps(big), max_event_bytes=1000)
    assert list(errors) == ["(body)"] and "over the limit of 1000 bytes" in errors["(body)"]
    errors = rejected(big, max_event_bytes=1000)
    assert list(errors) == ["data"]
    assert parse_envelope(big, max_event_bytes=4000).data_dict()["content"] == "x" * 2000


def test_times_naive_taken_as_utc_and_offsets_kept() -> None:
    naive = parse_envelope(envelope("message", VALID["message"],
                                    occurred_at="2025-05-06T07:08:09"))
    assert naive.occurred_at == datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
    offset = parse_envelope(envelope("message", VALID["message"],
                                     occurred_at="2025-05-06T07:08:09-05:00"))
    assert offset.occurred_at is not None
    assert offset.occurred_at.utcoffset() == timedelta(hours=-5)
    assert offset.occurred_at == datetime(2025, 5, 6, 12, 8, 9, tzinfo=UTC)


def test_make_envelope_validates() -> None:
    made = make_envelope("agent-1", "memory_linked", VALID["memory_linked"], event_id="x",
                         occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
                         session_id="s")
    assert made.type == "memory_linked" and made.session_id == "s"
    with pytest.raises(InvalidEnvelope) as info:
        make_envelope("agent-1", "memory_linked", {"source_id": "a"}, event_id="x")
    assert {e.field for e in info.value.errors} == {"data.target_id", "data.relation"}


def test_envelopes_are_immutable() -> None:
    parsed = parse_envelope(envelope("reasoning", VALID["reasoning"]))
    with pytest.raises(ValueError):
        parsed.agent_id = "other"  # type: ignore[misc]
