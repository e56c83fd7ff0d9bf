"""Merging contents case by case (pure), points parsing, and merge restores on a real store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from restore_support import Kit, env, msg, new_agent

from ctxstore.domain.merge import merge_content
from ctxstore.domain.points import InvalidPoint, Point
from ctxstore.domain.state import content_hash, empty_content


def content(**fields: object) -> dict[str, object]:
    return {**empty_content(), **fields}


def m(text: str, message_id: str | None = None) -> dict[str, str]:
    out = {"role": "user", "content": text}
    if message_id:
        out["message_id"] = message_id
    return out


def test_messages_appended_in_order_skipping_known_ids() -> None:
    target = content(messages=[m("a", "1"), m("b", "2")])
    source = content(messages=[m("b again", "2"), m("c", "3"), m("d", "4"), m("c dup", "3")])
    merged = merge_content(target, source)
    assert [x["content"] for x in merged["messages"]] == ["a", "b", "c", "d"]


def test_messages_without_ids_match_by_equality_so_a_shared_prefix_is_not_doubled() -> None:
    target = content(messages=[m("hi"), m("ok"), m("mine")])
    source = content(messages=[m("hi"), m("ok"), m("ok"), m("theirs")])
    merged = merge_content(target, source)
    assert [x["content"] for x in merged["messages"]] == ["hi", "ok", "mine", "ok", "theirs"]


def test_memories_united_source_wins() -> None:
    target = content(memories={"k": {"kind": "semantic", "content": "old"},
                               "t": {"kind": "episodic", "content": "target only"}})
    source = content(memories={"k": {"kind": "semantic", "content": "new"},
                               "s": {"kind": "long_term", "content": "source only"}})
    merged = merge_content(target, source)
    assert merged["memories"] == {"k": {"kind": "semantic", "content": "new"},
                                  "t": {"kind": "episodic", "content": "target only"},
                                  "s": {"kind": "long_term", "content": "source only"}}


def test_links_tool_calls_mcp_and_reasoning_united() -> None:
    link1 = {"source_id": "a", "target_id": "b", "relation": "r"}
    link2 = {"source_id": "b", "target_id": "c", "relation": "r"}
    call_open: dict[str, object] = {"call_id": "c1", "tool": "t", "arguments": {}, "result": None}
    call_done = {**call_open, "result": {"output": 1, "is_error": False}}
    call2 = {"call_id": "c2", "tool": "t", "arguments": {"x": 1}, "result": None}
    target = content(memory_links=[link1], tool_calls=[call_open],
                     mcp_servers={"fs": {"v": 1}, "git": {"v": 1}},
                     reasoning={"t1": [{"content": "x"}]})
    source = content(memory_links=[link1, link2], tool_calls=[call_done, call2],
                     mcp_servers={"fs": {"v": 2}, "web": {"v": 1}},
                     reasoning={"t1": [{"content": "x"}, {"content": "y"}],
                                "t2": [{"content": "z"}]})
    merged = merge_content(target, source)
    assert merged["memory_links"] == [link1, link2]
    assert merged["tool_calls"] == [call_done, call2]  # same call id: the source's wins
    assert merged["mcp_servers"] == {"fs": {"v": 2}, "git": {"v": 1}, "web": {"v": 1}}
    assert merged["reasoning"] == {"t1": [{"content": "x"}, {"content": "y"}],
                                   "t2": [{"content": "z"}]}


def test_merge_is_idempotent_and_leaves_inputs_alone() -> None:
    target = content(messages=[m("a", "1")], memories={"k": {"content": "t"}})
    source = content(messages=[m("b", "2"), m("c")], memories={"k": {"content": "s"}},
                     memory_links=[{"source_id": "k", "target_id": "k", "relation": "self"}])
    before = (content_hash(target), content_hash(source))
    once = merge_content(target, source)
    assert content_hash(merge_content(once, source)) == content_hash(once)
    assert (content_hash(target), content_hash(source)) == before
    assert content_hash(merge_content(empty_content(), source)) == content_hash(source)
    assert content_hash(merge_content(source, empty_content())) == content_hash(source)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", Point(version=12)), ("v3", Point(version=3)), ("version:0", Point(version=0)),
        ("latest", Point()), ("now", Point()),
        ("2025-03-01T12:00:00Z", Point(at=datetime(2025, 3, 1, 12, tzinfo=UTC))),
        ("at:2025-03-01T12:00:00", Point(at=datetime(2025, 3, 1, 12, tzinfo=UTC))),
        ("ckpt-0123abcd", Point(checkpoint_id="ckpt-0123abcd")),
        ("checkpoint:x", Point(checkpoint_id="x")),
    ],
)
def test_point_parse(text: str, expected: Point) -> None:
    assert Point.parse(text) == expected


def test_point_rejects_several_or_bad_values() -> None:
    with pytest.raises(InvalidPoint):
        Point(version=1, checkpoint_id="x")
    with pytest.raises(InvalidPoint):
        Point(version=-1)
    with pytest.raises(InvalidPoint):
        Point.parse("at:yesterday")
    with pytest.raises(InvalidPoint):
        Point.parse("  ")
    assert Point.of_version(2).to_dict() == {"version": 2}
    assert Point.latest().kind == "latest"


def test_merge_restore_into_an_existing_agent(kit: Kit) -> None:
    source, target = new_agent("src"), new_agent("dst")
    kit.store.record([
        msg(source, "shared", message_id="s1"), msg(source, "from source", message_id="s2"),
        env(source, "memory_stored", {"memory_id": "k", "kind": "semantic", "content": "src"}),
        env(source, "mcp_state", {"server": "fs", "state": {"v": 2}}),
        msg(target, "shared", message_id="s1"), msg(target, "own", message_id="t1"),
        env(target, "memory_stored", {"memory_id": "k", "kind": "semantic", "content": "dst"}),
        env(target, "memory_stored", {"memory_id": "own", "kind": "episodic", "content": "x"}),
    ])
    before = kit.store.context(target)
    result = kit.restore.restore(source, Point.latest(), target, merge_strategy="merge")
    after = kit.store.context(target)
    assert result.mode == "into_existing" and result.merge_strategy == "merge"
    assert [x["message_id"] for x in after["messages"]] == ["s1", "t1", "s2"]
    assert after["memories"]["k"]["content"] == "src" and "own" in after["memories"]
    assert after["mcp_servers"] == {"fs": {"v": 2}}
    assert result.content_hash == after["content_hash"] == content_hash(
        merge_content(before, kit.store.context(source)))
    # Merging the same source again changes nothing but still records the restore.
    again = kit.restore.restore(source, Point.latest(), target, merge_strategy="merge")
    assert again.content_hash == result.content_hash
    assert again.target_version == result.target_version + 1
