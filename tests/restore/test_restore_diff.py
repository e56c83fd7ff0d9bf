"""Diffs between two points of one agent and between two agents, on a real store."""

from __future__ import annotations

import json

from restore_support import Kit, env, msg, new_agent

from ctxstore.domain.points import Point


def test_diff_between_points_of_one_agent(kit: Kit) -> None:
    agent = new_agent()
    kit.store.record([
        msg(agent, "hello", message_id="m1"),
        env(agent, "memory_stored", {"memory_id": "a", "kind": "semantic", "content": "A"}),
        env(agent, "memory_stored", {"memory_id": "b", "kind": "episodic", "content": "B"}),
        env(agent, "tool_call", {"call_id": "c1", "tool": "search", "arguments": {"q": "x"}}),
        env(agent, "mcp_state", {"server": "fs", "state": {"v": 1}}),
    ])  # version 5
    kit.store.record([
        msg(agent, "again", message_id="m2"),
        env(agent, "reasoning", {"thread_id": "t", "content": "hmm"}),
        env(agent, "memory_updated", {"memory_id": "a", "content": "A2"}),
        env(agent, "memory_forgotten", {"memory_id": "b"}),
        env(agent, "memory_stored", {"memory_id": "c", "kind": "long_term", "content": "C"}),
        env(agent, "memory_linked", {"source_id": "a", "target_id": "c", "relation": "r"}),
        env(agent, "tool_result", {"call_id": "c1", "output": "done"}),
        env(agent, "tool_call", {"call_id": "c2", "tool": "fetch", "arguments": {}}),
        env(agent, "mcp_state", {"server": "fs", "state": {"v": 2}}),
        env(agent, "mcp_state", {"server": "git", "state": {"v": 1}}),
    ])  # version 15
    d = kit.services.diff.diff(agent, Point.of_version(5), Point.latest())
    assert (d.base.version, d.other.version, d.identical) == (5, 15, False)
    assert [m["content"] for m in d.messages_added] == ["again"] and d.messages_removed == []
    assert d.reasoning_added == {"t": [{"content": "hmm"}]}
    assert list(d.memories_stored) == ["c"] and list(d.memories_forgotten) == ["b"]
    assert d.memories_updated["a"]["before"]["content"] == "A"
    assert d.memories_updated["a"]["after"]["content"] == "A2"
    assert d.links_added == [{"source_id": "a", "target_id": "c", "relation": "r"}]
    assert [c["call_id"] for c in d.tool_calls_added] == ["c2"]
    assert [c["call_id"] for c in d.tool_calls_changed] == ["c1"]
    assert d.tool_calls_changed[0]["after"]["result"]["output"] == "done"
    assert d.mcp_changed == {"fs": {"before": {"v": 1}, "after": {"v": 2}},
                             "git": {"before": None, "after": {"v": 1}}}
    data = json.loads(json.dumps(d.to_dict()))
    assert data["summary"]["memories_stored"] == 1 and data["identical"] is False

    # Backwards: everything reverses.
    back = kit.services.diff.diff(agent, Point.latest(), Point.of_version(5))
    assert [m["content"] for m in back.messages_removed] == ["again"]
    assert list(back.memories_forgotten) == ["c"] and list(back.memories_stored) == ["b"]
    assert back.links_removed and [c["call_id"] for c in back.tool_calls_changed] == ["c1"]
    assert back.mcp_changed["git"] == {"before": {"v": 1}, "after": None}


def test_diff_after_a_rewind_shows_removed_messages(kit: Kit) -> None:
    agent = new_agent()
    kit.store.record([msg(agent, f"m{i}") for i in range(4)])
    kit.restore.restore(agent, Point.of_version(2))
    d = kit.services.diff.diff(agent, Point.of_version(4), Point.latest())
    assert [m["content"] for m in d.messages_removed] == ["m2", "m3"]
    assert d.messages_added == []
    same = kit.services.diff.diff(agent, Point.of_version(2), Point.latest())
    assert same.identical and not any(same.summary().values())


def test_diff_between_two_agents_and_a_checkpoint(kit: Kit) -> None:
    a, b = new_agent("a"), new_agent("b")
    kit.store.record([msg(a, "shared"), msg(a, "only a"), msg(b, "shared"), msg(b, "only b")])
    cp = kit.checkpoints.capture(a)
    d = kit.services.diff.diff(a, Point.of_checkpoint(cp.package_id), Point.latest(),
                               other_agent_id=b)
    assert (d.base.agent_id, d.other.agent_id) == (a, b)
    assert [m["content"] for m in d.messages_added] == ["only b"]
    assert [m["content"] for m in d.messages_removed] == ["only a"]
