"""Partial checkpoints (the seed's `include_*` flags, issue 14): a capture of some parts holds
only those, the others empty, says which in `parts`, and its integrity hash is the content hash
of that; a `replace` restore from it replaces only those parts of the target; `comprehensive`
validation compares the same parts of the state rebuilt from history. On every backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from restore_support import Kit, env, msg, new_agent

from ctxstore.application.commands import LOCAL, Capture, Restore
from ctxstore.application.errors import CorruptedCheckpoint
from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json, content_hash

EMPTY = {"messages": [], "reasoning": {}, "tool_calls": [], "memories": {},
         "memory_links": [], "mcp_servers": {}}
CONVERSATION = ("messages", "reasoning", "tool_calls")
MEMORY = ("memories", "memory_links")


def busy_agent(kit: Kit, tag: str) -> str:
    """An agent with every part: messages, reasoning, a tool call, memories and a link, and
    an MCP server."""
    agent = new_agent(tag)
    kit.store.record([
        msg(agent, f"{tag}: hello"),
        env(agent, "reasoning", {"thread_id": "t", "content": f"{tag} thinks"}),
        env(agent, "tool_call", {"call_id": "c", "tool": "search", "arguments": {"q": tag}}),
        env(agent, "tool_result", {"call_id": "c", "output": f"{tag} found"}),
        env(agent, "memory_stored", {"memory_id": f"{tag}-m1", "kind": "semantic",
                                     "content": f"{tag} fact"}),
        env(agent, "memory_stored", {"memory_id": f"{tag}-m2", "kind": "episodic",
                                     "content": f"{tag} event"}),
        env(agent, "memory_linked", {"source_id": f"{tag}-m1", "target_id": f"{tag}-m2",
                                     "relation": "explains"}),
        env(agent, "mcp_state", {"server": f"{tag}-files", "state": {"cwd": f"/{tag}"}}),
    ])
    return agent


def with_only(context: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The content fields of `context` with those not in `fields` empty (written out here,
    not through the code under test)."""
    return {f: context[f] if f in fields else empty for f, empty in EMPTY.items()}


def capture(kit: Kit, agent: str, **flags: bool) -> Any:
    return kit.services.commands.capture(LOCAL, Capture(agent_id=agent, **flags))


def restore(kit: Kit, package_id: str, target: str, **options: str) -> Any:
    return kit.services.commands.restore(LOCAL, Restore(package_id=package_id,
                                                        target_agent_id=target, **options))


def test_a_partial_capture_holds_only_its_parts_and_says_which(kit: Kit) -> None:
    agent = busy_agent(kit, "src")
    whole = kit.store.context(agent)
    cp = capture(kit, agent, include_memory=False, include_mcp_state=False,
                 session_id="s-1")
    assert cp.parts == ("conversation",) and cp.session_id == "s-1"
    assert cp.integrity_hash == content_hash(with_only(whole, CONVERSATION))
    assert cp.integrity_hash != whole["content_hash"]
    assert (cp.message_count, cp.tool_invocation_count, cp.memory_count) == (1, 1, 0)
    _, state = kit.checkpoints.load(cp.package_id)
    assert {f: state[f] for f in EMPTY} == with_only(whole, CONVERSATION)
    assert state["content_hash"] == cp.integrity_hash
    # The metadata reads back with its parts, in every listing.
    assert kit.checkpoints.get(cp.package_id).parts == ("conversation",)
    assert [c.parts for c in kit.checkpoints.list(cp.agent_id)] == [("conversation",)]
    memory_only = capture(kit, agent, include_conversation=False, include_mcp_state=False)
    assert memory_only.parts == ("memory",)
    assert memory_only.integrity_hash == content_hash(with_only(whole, MEMORY))
    whole_cp = capture(kit, agent)
    assert whole_cp.parts == ("conversation", "memory", "mcp_state")
    assert whole_cp.integrity_hash == whole["content_hash"]


def test_a_capture_of_nothing_is_refused_naming_a_flag(kit: Kit) -> None:
    agent = busy_agent(kit, "src")
    with pytest.raises(ValidationError) as caught:
        Capture(agent_id=agent, include_conversation=False, include_memory=False,
                include_mcp_state=False)
    assert [e["loc"] for e in caught.value.errors()] == [("include_conversation",)]
    assert kit.checkpoints.list() == []


def test_a_replace_restore_from_a_partial_checkpoint_replaces_only_its_parts(
        kit: Kit) -> None:
    source, target = busy_agent(kit, "src"), busy_agent(kit, "dst")
    src, dst = kit.store.context(source), kit.store.context(target)
    cp = capture(kit, source, include_conversation=False, include_mcp_state=False)
    result = restore(kit, cp.package_id, target)
    after = kit.store.context(target)
    # The memories and links are the source's; the conversation and MCP state the target's.
    assert {f: after[f] for f in MEMORY} == {f: src[f] for f in MEMORY}
    assert {f: after[f] for f in (*CONVERSATION, "mcp_servers")} == {
        f: dst[f] for f in (*CONVERSATION, "mcp_servers")}
    assert result.parts == ("memory",) and result.success is True
    assert result.content_hash == after["content_hash"]
    details = result.restoration_details
    assert (details["mode"], details["parts"], details["target_version"]) == (
        "into_existing", ["memory"], after["version"])
    assert details["target_holds"]["messages"] == len(dst["messages"])
    assert details["target_holds"]["memories"] == 2
    # Into a new agent: only the chosen parts, the rest empty.
    fork = new_agent("fork")
    restore(kit, cp.package_id, fork)
    forked = kit.store.context(fork)
    assert {f: forked[f] for f in EMPTY} == with_only(src, MEMORY)
    # A rewind of the source from a conversation-only checkpoint keeps its later memories.
    conversation = capture(kit, source, include_memory=False, include_mcp_state=False)
    kit.store.record([msg(source, "later"),
                      env(source, "memory_stored", {"memory_id": "new", "kind": "semantic",
                                                    "content": "kept"})])
    restore(kit, conversation.package_id, source)
    rewound = kit.store.context(source)
    assert [m["content"] for m in rewound["messages"]] == ["src: hello"]
    assert "new" in rewound["memories"] and rewound["mcp_servers"] == src["mcp_servers"]


def test_comprehensive_validation_of_a_partial_checkpoint(kit: Kit) -> None:
    agent = busy_agent(kit, "src")
    cp = capture(kit, agent, include_memory=False)
    kit.store.record([msg(agent, "after the checkpoint")])
    result = restore(kit, cp.package_id, new_agent("t"), validation_level="comprehensive")
    check = result.validation_result
    assert (check["level"], check["parts"], check["outcome"]) == (
        "comprehensive", ["conversation", "mcp_state"], "passed")
    assert check["expected_hash"] == check["actual_hash"] == cp.integrity_hash
    assert any("full event history" in c for c in check["checked"])
    assert any(cp.package_id in c for c in check["checked"])
    basic = restore(kit, cp.package_id, new_agent("t")).validation_result
    assert basic["level"] == "basic"
    assert not any("full event history" in c for c in basic["checked"])


def test_comprehensive_validation_catches_a_partial_checkpoint_with_other_content(
        make_kit: Callable[..., Kit]) -> None:
    """A forged body whose metadata agrees with it passes `basic`; the rebuilt history's
    parts tell. (`basic` keeps the body one frame, so the forgery is one well-formed body.)"""
    kit = make_kit(compression_strategy="basic")
    agent = busy_agent(kit, "src")
    cp = capture(kit, agent, include_memory=False)
    _, state = kit.checkpoints.load(cp.package_id)
    state["messages"][0]["content"] = "forged"
    forged_hash = content_hash(state)
    state["content_hash"] = forged_hash
    kit.set_stored_body(cp.package_id, kit.checkpoints.codec.encode(canonical_json(state)))
    meta = {**cp.to_dict(), "integrity_hash": forged_hash}
    kit.sql(f"UPDATE {kit.table('packages')} SET meta = ? WHERE package_id = ?",
            (kit.checkpoints.codec.encode(canonical_json(meta)), cp.package_id))
    target = new_agent("t")
    with pytest.raises(CorruptedCheckpoint, match="comparing its parts: conversation, "
                       "mcp_state"):
        restore(kit, cp.package_id, target, validation_level="comprehensive")
    assert kit.store.index.agent(target) is None
    assert restore(kit, cp.package_id, target).validation_result["expected_hash"] == (
        forged_hash)


def test_a_partial_checkpoint_is_never_the_base_of_another_point(
        make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(snapshot_interval=100)
    agent = busy_agent(kit, "src")
    cp = capture(kit, agent, include_conversation=False)
    kit.store.record([msg(agent, "later")])
    later = kit.restore.state_at(agent, Point.of_version(cp.version + 2))
    assert later.base == "events"  # not the partial checkpoint
    assert later.content_hash == kit.hash(agent, cp.version + 2)


def test_a_partial_checkpoint_exports_and_imports_with_its_parts(
        make_kit: Callable[..., Kit]) -> None:
    one, two = make_kit("one"), make_kit("two")
    agent = busy_agent(one, "src")
    cp = capture(one, agent, include_conversation=False, include_memory=False)
    data = one.services.packages.export(cp.package_id)
    imported = two.services.packages.import_package(data)
    assert imported.parts == ("mcp_state",) and imported.integrity_hash == cp.integrity_hash
    target = busy_agent(two, "dst")
    before = two.store.context(target)
    restore(two, cp.package_id, target)
    after = two.store.context(target)
    assert after["mcp_servers"] == one.store.context(agent)["mcp_servers"]
    assert after["messages"] == before["messages"] and after["memories"] == before["memories"]
    assert json.loads(json.dumps(cp.to_dict()))["parts"] == ["mcp_state"]
