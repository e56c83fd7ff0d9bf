"""A content cut into the parts of its hash tree and put back together (domain.content_tree):
the same content, the same hash, nothing hashed again, and every part under its address."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hash_rule import independent_hash

from ctxstore.domain import pages
from ctxstore.domain.content_tree import content_of_tree, content_parts
from ctxstore.domain.pages import RECENT_PARTS, PartHashes, RecentParts, address, tree_hash
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


@pytest.mark.parametrize("messages,memories,channels",
                         [(0, 0, 0), (1, 1, 0), (64, 3, 2), (64 * 64 + 1, 200, 5)])
def test_a_content_comes_back_whole_from_its_parts(messages: int, memories: int,
                                                   channels: int) -> None:
    content = sample(messages, memories)
    if channels:  # named values (a LangGraph thread's channels), each one part kept whole
        content["channels"] = {f"ch{i}": {"v": i, "items": [i] * i} for i in range(channels)}
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


def test_a_content_read_back_knows_its_memory_buckets_and_group_nodes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The buckets' ids come with the memories read from their parts, and the group nodes'
    addresses with the nodes: the first hash places no memory and hashes no group again (the
    root object alone is encoded), and changing, adding and deleting memories afterwards
    hashes as from nothing."""
    content = sample(64 * 64 + 70, 200)
    expected = tree_hash(content)
    root, parts = stored(content)
    pages.GROUP_NODES.clear()  # as in a process that never hashed these groups
    back, hashes = content_of_tree(parts[root], lambda wanted: {a: parts[a] for a in wanted})
    placed: list[str] = []
    encoded: list[Any] = []
    real_bucket, real_encode = pages.bucket_of, pages.canonical_json_of_content

    def bucket(memory_id: str) -> int:
        placed.append(memory_id)
        return real_bucket(memory_id)

    def encode(value: Any) -> bytes:
        encoded.append(value)
        return real_encode(value)

    monkeypatch.setattr(pages, "bucket_of", bucket)
    monkeypatch.setattr(pages, "canonical_json_of_content", encode)
    assert hashes.content_hash(back) == expected
    assert placed == [] and len(encoded) == 1 and isinstance(encoded[0], dict)  # the root
    back["memories"]["mem-3"] = {"content": "changed"}
    back["memories"]["mem-new"] = {"content": "added"}
    del back["memories"]["mem-7"]
    for memory_id in ("mem-3", "mem-new", "mem-7"):
        hashes.memory(memory_id)
    assert hashes.content_hash(back) == tree_hash(back) == independent_hash(back)


def test_parts_are_shared_between_contents_that_share_pages() -> None:
    first = sample(200, 10)
    second = sample(200, 10)
    second["messages"].append({"role": "user", "content": "one more"})
    _, one = stored(first)
    _, two = stored(second)
    # Pages 0-2 of messages, the other fields' parts: the same; page 3, its group and the
    # root differ.
    assert len(set(two) - set(one)) == 3


def test_a_keep_after_a_hash_takes_the_bytes_the_hash_encoded() -> None:
    """The pages a hash has just encoded are not encoded again by the keep that follows (a
    restore of a source hashed a moment before, a snapshot): their bytes are taken once."""
    content = sample(200, 10)
    hashes = PartHashes()
    hashes.content_hash(content)
    cut = content_parts(content, hashes)
    pages = [page for node, kids in cut.children.items() if node != cut.root for page in kids]
    assert len(pages) >= 4
    held = {page: RECENT_PARTS.take(page) for page in pages}
    assert all(raw is not None and address(raw) == page for page, raw in held.items())
    for page, raw in held.items():
        RECENT_PARTS.put(page, raw)
    for page in pages:
        assert address(cut.raw(page)) == page
        assert RECENT_PARTS.take(page) is None  # taken by the keep
    assert address(cut.raw(cut.root)) == cut.root  # the root's bytes: made once, with it


def test_recent_parts_keep_to_their_budget() -> None:
    recent = RecentParts(max_bytes=160)
    for name in "abcd":
        recent.put(name, name.encode() * 40)
    recent.put("e", b"e" * 40)  # over the budget: the oldest goes
    assert recent.take("a") is None
    assert recent.take("b") == b"b" * 40
    assert recent.take("b") is None  # taken once
    recent.put("huge", b"h" * 41)  # over a quarter of the budget: not kept
    assert recent.take("huge") is None
    assert [recent.take(name) for name in "cde"] == [b"c" * 40, b"d" * 40, b"e" * 40]


def test_a_page_changed_in_place_after_a_read_back_is_the_only_one_hashed_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A list read back keeps its pages' addresses as one list, not as a leaf each; a page
    changed in place (a tool result's call) turns them into leaves first, so the next hash
    encodes that page alone of them, and gives the hash from nothing."""
    content = sample(64 * 12, 3)  # 256 tool calls: 4 pages
    root, parts = stored(content)
    back, hashes = content_of_tree(parts[root], lambda wanted: {a: parts[a] for a in wanted})
    assert not any(key.startswith("t") for key in hashes.leaves)  # held as one list
    back["tool_calls"][70] = {"call_id": "c70", "tool": "t", "result": {"output": "done"}}
    hashes.drop("t1")
    expected = tree_hash(back)
    encoded: list[Any] = []
    real_encode = pages.canonical_json_of_content

    def encode(value: Any) -> bytes:
        encoded.append(value)
        return real_encode(value)

    monkeypatch.setattr(pages, "canonical_json_of_content", encode)
    assert hashes.content_hash(back) == expected
    pages_encoded = [v for v in encoded if isinstance(v, list) and isinstance(v[0], dict)]
    assert pages_encoded == [back["tool_calls"][64:128]]  # that page alone, then its group, root
    assert hashes.to_json()["leaves"].keys() >= {f"t{k}" for k in range(4)}
