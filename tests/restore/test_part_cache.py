"""Decoded parts kept in memory (application.part_cache): reads, forks and rewinds at earlier
versions share the parts they hold with what was read before, and never see what a later
version changed. Real SQLite and PostgreSQL (hybrid keeps parts as files the same way).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hash_rule import independent_hash
from restore_support import Kit, env, msg, new_agent

from ctxstore.application.commands import LOCAL, Forget
from ctxstore.application.part_cache import PartCache
from ctxstore.domain.points import Point


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    made = make_kit(snapshot_interval=100)
    made.store.agent_cache = None  # every read folds from the snapshot's parts
    return made


def replayed_hash(kit: Kit, agent: str, version: int) -> str:
    folded, _ = kit.store.replay(agent, None, upto=version)
    assert folded is not None
    return independent_hash(folded.content)


def chatter(agent: str, start: int, count: int) -> list[Any]:
    return [msg(agent, f"message {i} {os.urandom(16).hex()} " + "lorem ipsum " * 10)
            for i in range(start, start + count)]


def agent_changing_old_items(kit: Kit) -> str:
    """An agent whose events after its first snapshot (version 100) change items that
    snapshot holds: a tool call's result, a memory's content, an MCP server's state."""
    agent = new_agent("shared")
    kit.store.record([
        env(agent, "tool_call", {"call_id": "c1", "tool": "search", "arguments": {"q": "x"}}),
        env(agent, "memory_stored", {"memory_id": "m1", "kind": "semantic",
                                     "content": "the old fact"}),
        env(agent, "mcp_state", {"server": "files", "state": {"cwd": "/old"}}),
        *chatter(agent, 0, 97)])
    assert kit.store.summary(agent).version == 100  # type: ignore[union-attr]
    kit.store.record([*chatter(agent, 97, 5),  # 101..105
                      env(agent, "tool_result", {"call_id": "c1", "output": "found"}),
                      env(agent, "memory_updated", {"memory_id": "m1",
                                                    "content": "the new fact"}),
                      env(agent, "mcp_state", {"server": "files", "state": {"cwd": "/new"}}),
                      *chatter(agent, 102, 5)])
    return agent


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_later_version_read_first_never_changes_an_earlier_one(kit: Kit) -> None:
    agent = agent_changing_old_items(kit)
    later = kit.store.context(agent, version=112)
    earlier = kit.store.context(agent, version=103)  # from the same snapshot's parts
    assert later["tool_calls"][0]["result"]["output"] == "found"
    assert earlier["tool_calls"][0]["result"] is None
    assert earlier["memories"]["m1"]["content"] == "the old fact"
    assert earlier["mcp_servers"] == {"files": {"cwd": "/old"}}
    assert earlier["content_hash"] == replayed_hash(kit, agent, 103)
    assert later["content_hash"] == replayed_hash(kit, agent, 112)
    # Forks and rewinds at either point, in any order, keep their source's hashes.
    fork_late = kit.services.restore.restore(agent, Point(version=112), new_agent("late"))
    fork_early = kit.services.restore.restore(agent, Point(version=103), new_agent("early"))
    assert fork_late.content_hash == later["content_hash"]
    assert fork_early.content_hash == earlier["content_hash"]
    assert kit.hash(fork_early.target_agent_id) == earlier["content_hash"]
    assert kit.hash(fork_late.target_agent_id) == later["content_hash"]
    assert kit.store.context(agent, version=103)["content_hash"] == earlier["content_hash"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_read_again_reads_no_part(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper = kit.store.part_content
    assert keeper is not None and keeper.cache is not None
    agent = agent_changing_old_items(kit)
    first = kit.store.context(agent, version=110)["content_hash"]
    asked: list[int] = []
    get_many = keeper.parts.get_many

    def counted(tenant: str, addresses: Any) -> Any:
        asked.append(len(addresses))
        return get_many(tenant, addresses)

    monkeypatch.setattr(keeper.parts, "get_many", counted)
    assert kit.store.context(agent, version=110)["content_hash"] == first
    assert kit.store.context(agent, version=104)["content_hash"] == replayed_hash(
        kit, agent, 104)
    assert asked == []
    # Without the cache the same read asks the part store again.
    monkeypatch.setattr(keeper, "cache", None)
    assert kit.store.context(agent, version=110)["content_hash"] == first
    assert asked


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_forgetting_an_agent_drops_its_released_parts_from_memory(kit: Kit) -> None:
    keeper = kit.store.part_content
    assert keeper is not None and keeper.cache is not None
    agent = agent_changing_old_items(kit)
    kit.store.context(agent, version=110)
    held = len(keeper.cache)
    assert held > 0
    result = kit.services.commands.forget(LOCAL, Forget(agent_id=agent, by="test"))
    assert result.parts_released > 0
    assert len(keeper.cache) == held - result.parts_released


def test_the_cache_keeps_the_most_recently_used_parts_within_its_bytes() -> None:
    cache = PartCache(100)
    cache.put("t", "a", ["a"], 40)
    cache.put("t", "b", ["b"], 40)
    assert cache.found("t", ["a"]) == {"a": ["a"]}  # now the most recently used
    cache.put("t", "c", ["c"], 40)  # over 100: the least recently used (b) goes
    assert cache.found("t", ["a", "b", "c"]) == {"a": ["a"], "c": ["c"]}
    assert cache.bytes == 80
    cache.put("t", "huge", ["h"], 101)  # larger than the whole budget: not kept
    assert cache.found("t", ["huge"]) == {} and cache.bytes == 80
    assert cache.found("other tenant", ["a"]) == {}
    cache.evict("t", ["a", "missing"])
    assert cache.found("t", ["a", "c"]) == {"c": ["c"]} and cache.bytes == 40
    with pytest.raises(ValueError):
        PartCache(-1)
