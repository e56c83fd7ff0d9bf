"""The fold of each event type into an agent's content, the applicability checks and the hash."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hash_rule import independent_hash

from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.events import EVENT_TYPES, PAYLOADS
from ctxstore.domain.state import (
    CONTENT_FIELDS,
    FOLD,
    EventNotApplicable,
    apply_event,
    canonical_json,
    check_applicable,
    content_hash,
    copy_content,
    empty_content,
)


def fold(*events: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    content = empty_content()
    for type, data in events:
        check_applicable(content, type, data)
        apply_event(content, type, data)
    return content


def test_empty_content() -> None:
    assert empty_content() == {"messages": [], "reasoning": {}, "tool_calls": [],
                               "memories": {}, "memory_links": [], "mcp_servers": {}}
    assert tuple(empty_content()) == CONTENT_FIELDS


def test_message_appends_in_order() -> None:
    content = fold(("message", {"role": "user", "content": "hi", "message_id": "m1"}),
                   ("message", {"role": "assistant", "content": [{"type": "text"}],
                                "tokens": 4}))
    assert content["messages"] == [
        {"role": "user", "content": "hi", "message_id": "m1"},
        {"role": "assistant", "content": [{"type": "text"}], "tokens": 4},
    ]
    assert {k: v for k, v in content.items() if k != "messages"} == {
        k: v for k, v in empty_content().items() if k != "messages"}


def test_reasoning_groups_steps_by_thread() -> None:
    content = fold(("reasoning", {"thread_id": "a", "content": "one", "step": 0}),
                   ("reasoning", {"thread_id": "b", "content": "other"}),
                   ("reasoning", {"thread_id": "a", "content": "two", "step": 1}))
    assert content["reasoning"] == {
        "a": [{"content": "one", "step": 0}, {"content": "two", "step": 1}],
        "b": [{"content": "other"}],
    }


def test_tool_call_then_result() -> None:
    content = fold(
        ("tool_call", {"call_id": "c1", "tool": "search", "arguments": {"q": "x"},
                       "server": "web"}),
        ("tool_call", {"call_id": "c2", "tool": "read", "arguments": {}}),
        ("tool_result", {"call_id": "c1", "output": ["hit"], "duration_ms": 3.5}),
        ("tool_result", {"call_id": "c2", "output": "boom", "is_error": True}),
    )
    assert content["tool_calls"] == [
        {"call_id": "c1", "tool": "search", "arguments": {"q": "x"}, "server": "web",
         "result": {"output": ["hit"], "duration_ms": 3.5, "is_error": False}},
        {"call_id": "c2", "tool": "read", "arguments": {},
         "result": {"output": "boom", "is_error": True}},
    ]


def test_tool_result_without_call_or_twice_is_kept() -> None:
    content = fold(
        ("tool_result", {"call_id": "orphan", "output": 1}),
        ("tool_call", {"call_id": "c", "tool": "t", "arguments": {}}),
        ("tool_result", {"call_id": "c", "output": "first"}),
        ("tool_result", {"call_id": "c", "output": "second"}),
    )
    assert content["tool_calls"] == [
        {"call_id": "orphan", "result": {"output": 1, "is_error": False}},
        {"call_id": "c", "tool": "t", "arguments": {},
         "result": {"output": "first", "is_error": False}},
        {"call_id": "c", "result": {"output": "second", "is_error": False}},
    ]


def test_memory_lifecycle() -> None:
    stored = {"memory_id": "m1", "kind": "semantic", "content": "sky is blue",
              "embedding": [0.5], "importance": 0.2, "metadata": {"src": "a"}}
    content = fold(("memory_stored", stored))
    assert content["memories"] == {"m1": {"kind": "semantic", "content": "sky is blue",
                                          "embedding": [0.5], "importance": 0.2,
                                          "metadata": {"src": "a"}}}
    apply_event(content, "memory_updated", {"memory_id": "m1", "importance": 0.9})
    assert content["memories"]["m1"]["importance"] == 0.9
    assert content["memories"]["m1"]["content"] == "sky is blue"  # untouched
    apply_event(content, "memory_updated", {"memory_id": "m1", "content": "sky is grey",
                                            "metadata": {"src": "b"}})
    assert content["memories"]["m1"] == {"kind": "semantic", "content": "sky is grey",
                                         "embedding": [0.5], "importance": 0.9,
                                         "metadata": {"src": "b"}}
    # Storing again under the same id replaces the memory.
    apply_event(content, "memory_stored", {"memory_id": "m1", "kind": "episodic",
                                           "content": "new"})
    assert content["memories"]["m1"] == {"kind": "episodic", "content": "new"}
    apply_event(content, "memory_forgotten", {"memory_id": "m1", "reason": "stale"})
    assert content["memories"] == {}


@pytest.mark.parametrize("type", ["memory_updated", "memory_forgotten"])
def test_unknown_memory_is_not_applicable(type: str) -> None:
    content = fold(("memory_stored", {"memory_id": "known", "kind": "short_term",
                                      "content": "x"}))
    before = copy_content(content)
    with pytest.raises(EventNotApplicable) as info:
        check_applicable(content, type, {"memory_id": "ghost"})
    assert info.value.field == "data.memory_id"
    assert "'ghost'" in str(info.value) and str(info.value).startswith("data.memory_id: ")
    assert content == before
    check_applicable(content, type, {"memory_id": "known"})  # no error


def test_other_types_are_always_applicable() -> None:
    for type, data in [("message", {"role": "user", "content": "x"}),
                       ("memory_linked", {"source_id": "nope", "target_id": "none",
                                          "relation": "r"}),
                       ("tool_result", {"call_id": "nope"})]:
        check_applicable(empty_content(), type, data)


def test_memory_links_are_a_set() -> None:
    link = {"source_id": "a", "target_id": "b", "relation": "supports"}
    content = fold(("memory_linked", link), ("memory_linked", dict(link)),
                   ("memory_linked", {**link, "relation": "contradicts"}))
    assert content["memory_links"] == [link, {**link, "relation": "contradicts"}]


def test_mcp_state_replaces_per_server() -> None:
    content = fold(("mcp_state", {"server": "fs", "state": {"cwd": "/a", "open": [1]}}),
                   ("mcp_state", {"server": "git", "state": {"branch": "main"}}),
                   ("mcp_state", {"server": "fs", "state": {"cwd": "/b"}}))
    assert content["mcp_servers"] == {"fs": {"cwd": "/b"}, "git": {"branch": "main"}}


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        apply_event(empty_content(), "telepathy", {})


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": ["é", {"d": None, "c": 2.5}]}) == \
        '{"a":["é",{"c":2.5,"d":null}],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_content_hash_matches_independent_computation() -> None:
    content = fold(("message", {"role": "user", "content": "grüße ✓"}),
                   ("reasoning", {"thread_id": "t", "content": "r"}),
                   ("tool_call", {"call_id": "c", "tool": "t", "arguments": {"z": 1, "a": 2}}),
                   ("memory_stored", {"memory_id": "m", "kind": "long_term", "content": "c"}),
                   ("memory_linked", {"source_id": "m", "target_id": "m", "relation": "r"}),
                   ("mcp_state", {"server": "s", "state": {}}))
    assert content_hash(content) == independent_hash(content)
    assert content_hash(empty_content()) == independent_hash(empty_content())
    # Only the content fields count.
    state = {**content, "agent_id": "x", "version": 6, "as_of": "now", "sessions": [1]}
    assert content_hash(state) == content_hash(content)
    changed = copy_content(content)
    changed["messages"][0]["content"] = "grüße"
    assert content_hash(changed) != content_hash(content)


def test_copy_content_is_deep() -> None:
    content = fold(("memory_stored", {"memory_id": "m", "kind": "episodic", "content": "c",
                                      "metadata": {"tags": ["a"]}}))
    copied = copy_content({**content, "agent_id": "x"})
    assert copied == content and "agent_id" not in copied
    copied["memories"]["m"]["metadata"]["tags"].append("b")
    assert content["memories"]["m"]["metadata"]["tags"] == ["a"]


# The aggregate ----------------------------------------------------------------------------------

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_aggregate_version_is_event_count_and_state() -> None:
    agent = AgentContext.start("agent-7")
    assert agent.version == 0 and agent.state()["messages"] == []
    agent.record(event_id="e1", type="message", data={"role": "user", "content": "a"},
                 timestamp=T0, session_id="s1")
    agent.record(event_id="e2", type="memory_stored",
                 data={"memory_id": "m", "kind": "semantic", "content": "x"},
                 timestamp=T0 + timedelta(seconds=1), session_id="s1")
    agent.record(event_id="e3", type="message", data={"role": "assistant", "content": "b"},
                 timestamp=T0 + timedelta(seconds=2), session_id="s2")
    state = agent.state()
    assert state["agent_id"] == "agent-7" and state["version"] == 3
    assert state["as_of"] == (T0 + timedelta(seconds=2)).isoformat()
    assert state["sessions"] == [
        {"session_id": "s1", "first_version": 1, "last_version": 2},
        {"session_id": "s2", "first_version": 3, "last_version": 3},
    ]
    assert state["content_hash"] == independent_hash(state)
    events = agent.collect_events()
    assert [e.originator_version for e in events] == [1, 2, 3]

    # Replaying the events from nothing gives the same agent.
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None and replayed.state() == state
    assert replayed.created_on == T0


def test_recorded_events_are_what_their_dataclass_makes() -> None:
    """record() makes its event without the dataclass's __init__: the same fields, values
    and order (the stored JSON lists them so), equal to the event __init__ makes."""
    agent = AgentContext.start("agent-made")
    agent.record(event_id="e1", type="message", data={"role": "user", "content": "a"},
                 timestamp=T0, session_id="s1")
    event = agent.collect_events()[0]
    made = AgentContext.Recorded(
        originator_id=agent.id, originator_version=1, timestamp=T0, agent_id="agent-made",
        event_id="e1", type="message", data={"role": "user", "content": "a"},
        session_id="s1")
    assert type(event) is AgentContext.Recorded and event == made
    assert list(vars(event).items()) == list(vars(made).items())


def test_aggregate_refuses_inapplicable_event_without_change() -> None:
    agent = AgentContext.start("agent-8")
    agent.record(event_id="e1", type="message", data={"role": "user", "content": "a"},
                 timestamp=T0)
    with pytest.raises(EventNotApplicable):
        agent.record(event_id="e2", type="memory_forgotten", data={"memory_id": "none"},
                     timestamp=T0)
    assert agent.version == 1 and len(agent.pending_events) == 1


def test_aggregate_restore_replaces_content_and_keeps_hash() -> None:
    source = fold(("message", {"role": "user", "content": "from the source"}),
                  ("memory_stored", {"memory_id": "m", "kind": "episodic", "content": "c"}))
    agent = AgentContext.start("agent-9")
    agent.record(event_id="e1", type="message", data={"role": "user", "content": "mine"},
                 timestamp=T0)
    agent.restore(event_id="r1", content=source, provenance={"source_agent_id": "src"},
                  timestamp=T0)
    assert agent.version == 2
    assert agent.state()["content_hash"] == content_hash(source)
    source["messages"].append({"role": "user", "content": "later"})  # the source moves on
    assert len(agent.content["messages"]) == 1
    agent.note_checkpoint(event_id="k1", checkpoint={"package_id": "p"}, timestamp=T0)
    assert agent.version == 3 and agent.state()["content_hash"] == independent_hash(
        agent.content)


def test_every_event_type_folds_by_its_payload_model() -> None:
    assert set(FOLD) == set(PAYLOADS) == set(EVENT_TYPES)
