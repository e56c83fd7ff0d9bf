"""A content cut into the parts of its hash tree and put back together (domain.content_tree):
the same content, the same hash, nothing hashed again, and every part under its address."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hash_rule import independent_hash

from ctxstore.domain.content_tree import content_of_tree, content_parts
from ctxstore.domain.pages import PartHashes, address, tree_hash
from ctxstore.domain.state import Content, empty_content


def sample(messages: int, memories: int) -> Content:
    content = empty_content()
    content["messages"] = [{"role": "user", "content": f"m{i}", "n": i * 1.5}
                           for i in range(messages)]
    content["tool_calls"] = [{"call_id": f"c{i}", "tool": "t", "result": None}
                             for i in range(messages // 3)]
    content["reasoning"] = {"a": [{"content": str(i)} for i in range(70)], "b": [{"x": 1}]}
    content["memories"] = {f"mem-{i}": {"content": "é" * i} for i in range(memories)}
    content["memory_links"] = [{"source_id": "a", "target_id": "b", "relation": "r"}]
    content["mcp_servers"] = {"fs": {"status": "up"}}
    return content


def stored(content: Content) -> tuple[str, dict[str, Any]]:
    """The root and every part's parsed JSON by address, checking each address."""
    cut = content_parts(content, PartHashes())
    parts: dict[str, Any] = {}

    def walk(node: str) -> None:
        raw = cut.raw(node)
        assert address(raw) == node
        parts[node] = json.loads(raw)
        for child in cut.children.get(node, ()):
            walk(child)

    walk(cut.root)
    return cut.root, parts


@pytest.mark.parametrize("messages,memories", [(0, 0), (1, 1), (64, 3), (64 * 64 + 1, 200)])
def test_a_content_comes_back_whole_from_its_parts(messages: int, memories: int) -> None:
    content = sample(messages, memories)
    root, parts = stored(content)
    assert "sha256-tree1:" + root == tree_hash(content) == independent_hash(content)
    asked: list[int] = []

    def fetch(addresses: Any) -> dict[str, Any]:
        asked.append(len(addresses))
        return {a: parts[a] for a in addresses}

    back, hashes = content_of_tree(parts[root], fetch)
    assert back == content
    assert len(asked) == 2  # one round for group nodes and single parts, one for pages
    # The addresses came with it: hashing it again hashes nothing.
    known = dict(hashes.leaves)
    assert hashes.content_hash(back) == tree_hash(content)
    assert hashes.leaves == known


def test_parts_are_shared_between_contents_that_share_pages() -> None:
    first = sample(200, 10)
    second = sample(200, 10)
    second["messages"].append({"role": "user", "content": "one more"})
    _, one = stored(first)
    _, two = stored(second)
    # Pages 0-2 of messages, the other fields' parts: the same; page 3, its group and the
    # root differ.
    assert len(set(two) - set(one)) == 3
