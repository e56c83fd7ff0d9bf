"""A restore by reference at an earlier version reads its base snapshot in part (issue 16
item 1): each list's last pages, every earlier item standing unread, so a fork or rewind costs
what the events after the snapshot changed. Whatever it reads, the content it gives is the one
the full history gives, item for item and hash for hash; an event that needs an item not read
makes it read the whole content. Real SQLite, PostgreSQL and `hybrid`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hash_rule import independent_hash
from restore_support import Kit, env, msg, new_agent

from ctxstore.application import restore as restore_module
from ctxstore.application.restore import RestoreService
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.content_tree import UNREAD, InPart, NotRead, content_of_tree
from ctxstore.domain.pages import PAGE
from ctxstore.domain.points import Point
from ctxstore.domain.state import content_of

# The restores' own setting, before a fixture's own replaces it.
DEFAULT_IN_PART = restore_module.IN_PART


@pytest.fixture
def kit(make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> Kit:
    # Contents from 64 items are read in part (the default, 4,096, would need a long test).
    monkeypatch.setattr(restore_module, "IN_PART", InPart(pages=2, from_items=64))
    return make_kit(snapshot_interval=100)


@pytest.fixture
def in_part(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each restore at an earlier version, whether the content it gave its target was
    read in part."""
    seen: list[bool] = []
    real = RestoreService._restore_source

    def spied(self: RestoreService, source: Any, *args: Any) -> Any:
        seen.append(source.in_part)
        return real(self, source, *args)

    monkeypatch.setattr(RestoreService, "_restore_source", spied)
    return seen


def work(kit: Kit, agent: str, start: int, count: int) -> None:
    """Messages, tool calls answered at once, memories stored and updated, MCP states and
    reasoning: every kind of change a fold makes, 50 events a batch."""
    batch: list[Any] = []
    for i in range(start, start + count):
        kind = i % 7
        if kind == 1:
            batch.append(env(agent, "tool_call", {"call_id": f"c{i}", "tool": "search",
                                                  "arguments": {"q": f"q{i}"}}))
        elif kind == 2:
            batch.append(env(agent, "tool_result", {"call_id": f"c{i - 1}",
                                                    "output": f"found {i}"}))
        elif kind == 3:
            batch.append(env(agent, "memory_stored" if i % 2 else "memory_updated",
                             {"memory_id": f"m{i % 40}", "kind": "semantic",
                              "content": f"fact {i}"} if i % 2 else
                             {"memory_id": f"m{(i - 7) % 40}", "content": f"fact {i} again"}))
        elif kind == 4 and i % 3 == 0:
            batch.append(env(agent, "mcp_state", {"server": f"s{i % 3}",
                                                  "state": {"tools": [f"t{i}"]}}))
        elif kind == 5:
            batch.append(env(agent, "reasoning", {"thread_id": f"th{i % 4}",
                                                  "content": f"because {i}"}))
        else:
            batch.append(msg(agent, f"message {i} {os.urandom(8).hex()}"))
        if len(batch) == 50:
            kit.store.record(batch)
            batch = []
    if batch:
        kit.store.record(batch)


def full(kit: Kit, agent: str, version: int) -> dict[str, Any]:
    """The content at `version` folded from every event (no snapshot, no part)."""
    folded, _ = kit.store.replay(agent, None, upto=version)
    assert folded is not None
    return content_of(folded.content)


def fork_after(kit: Kit, agent: str, events: list[Any], name: str
               ) -> tuple[Any, str, dict[str, Any]]:
    """`events` recorded, then one message more (the version forked is not the latest): the
    fork at the version they end, its agent id, and the whole history's content there."""
    kit.store.record(events)
    version = kit.version(agent)
    kit.store.record([msg(agent, "not the latest any more")])
    fork = new_agent(name)
    result = kit.restore.restore(agent, Point.of_version(version), fork)
    return result, fork, full(kit, agent, version)


def test_forks_and_rewinds_at_earlier_versions_read_the_tail_and_give_the_whole_content(
        kit: Kit, in_part: list[bool]) -> None:
    agent = new_agent("long")
    work(kit, agent, 0, 1200)  # snapshots every 100 versions; ~600 messages, 170 calls
    latest = kit.version(agent)
    # From version 400 its messages fill more than the two pages read.
    points = sorted({400, 401, 499, 699, 700, 1001, latest - 1,
                     *random.Random(7).sample(range(400, latest), 4)})
    for n, version in enumerate(points):
        fork = new_agent(f"fork{n}")
        result = kit.restore.restore(agent, Point.of_version(version), fork)
        want = full(kit, agent, version)
        assert result.content_hash == independent_hash(want)
        # Not handed to the store with its unread items: read back from its parts.
        assert aggregate_id(fork) not in kit.store.agent_cache
        assert content_of(kit.store.context(fork)) == want, version
    assert in_part == [True] * len(points)  # every one read its snapshot in part

    # A rewind of the agent itself: its content is the earlier one, and it takes more.
    in_part.clear()
    rewind = kit.restore.restore(agent, Point.of_version(650), agent)
    assert in_part == [True] and rewind.mode == "rewind"
    assert rewind.content_hash == independent_hash(full(kit, agent, 650))
    work(kit, agent, 5000, 60)
    kit.store.agent_cache = None
    after = kit.store.context(agent)
    assert after["content_hash"] == independent_hash(full(kit, agent, kit.version(agent)))
    assert len(after["messages"]) > len(full(kit, agent, 650)["messages"])


def test_an_event_that_looks_at_an_item_not_read_reads_the_whole_content(
        kit: Kit, in_part: list[bool]) -> None:
    agent = new_agent("late")
    kit.store.record([env(agent, "tool_call", {"call_id": "early", "tool": "t",
                                               "arguments": {}})])
    work(kit, agent, 0, 1000)
    # After the snapshot at 1000, a result for the very first call: its page was not read.
    result, fork, want = fork_after(kit, agent, [
        env(agent, "tool_result", {"call_id": "early", "output": "late"}),
        msg(agent, "after the late result")], "late-fork")
    assert in_part == [False]  # read whole instead
    assert want["tool_calls"][0]["result"] is not None
    assert result.content_hash == independent_hash(want)
    kit.store.agent_cache = None
    assert content_of(kit.store.context(fork)) == want


def test_a_restore_at_a_forks_versions_before_its_snapshot_reads_what_it_restored_in_part(
        kit: Kit, in_part: list[bool]) -> None:
    """A fork's versions before its first snapshot fold from its restore's reference: a fork
    of one of them reads that restored content in part as it would a snapshot, and gives
    the whole content all the same; a result for a call pages back makes it read whole."""
    agent = new_agent("origin")
    kit.store.record([env(agent, "tool_call", {"call_id": "early", "tool": "t",
                                               "arguments": {}})])
    work(kit, agent, 0, 1000)
    fork = new_agent("first")
    kit.restore.restore(agent, Point.of_version(kit.version(agent) - 5), fork)
    work(kit, fork, 2000, 40)  # versions 2 to 41: no snapshot of its own yet
    in_part.clear()
    for n, version in enumerate((1, 20, 40)):
        second = new_agent(f"second{n}")
        result = kit.restore.restore(fork, Point.of_version(version), second)
        want = full(kit, fork, version)
        assert result.content_hash == independent_hash(want), version
        assert content_of(kit.store.context(second)) == want, version
    assert in_part == [True, True, True]
    # The first call, open since the origin's version 1, answered on the fork: its page
    # was not read, so a restore after it reads the whole content.
    kit.store.record([env(fork, "tool_result", {"call_id": "early", "output": "late"}),
                      msg(fork, "after the late result")])
    version = kit.version(fork)
    kit.store.record([msg(fork, "not the latest any more")])
    in_part.clear()
    third = new_agent("third")
    result = kit.restore.restore(fork, Point.of_version(version), third)
    assert in_part == [False]
    want = full(kit, fork, version)
    assert want["tool_calls"][0]["result"] is not None
    assert result.content_hash == independent_hash(want)
    assert content_of(kit.store.context(third)) == want


def test_a_small_content_is_read_whole_and_handed_to_its_target(
        kit: Kit, in_part: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    agent = new_agent("small")
    work(kit, agent, 0, 700)
    # Lists of fewer items than the bound, or of no more pages than are read: read whole.
    for version, bound in ((650, 10_000), (150, 64)):
        monkeypatch.setattr(restore_module, "IN_PART", InPart(pages=2, from_items=bound))
        fork = new_agent("small-fork")
        kit.restore.restore(agent, Point.of_version(version), fork)
        assert aggregate_id(fork) in kit.store.agent_cache  # held: its next write folds none
        assert content_of(kit.store.context(fork)) == full(kit, agent, version)
    assert in_part == [False, False]


def test_unread_items_refuse_every_look() -> None:
    tree_pages = {f"p{k}": [{"n": 64 * k + i} for i in range(64)] for k in range(3)}
    tops = {"g": ["p0", "p1", "p2"], "mcp": {}}
    parts: dict[str, Any] = {**tree_pages, **tops}
    tree = {"messages": ["g"], "tool_calls": [], "memory_links": [], "reasoning": {},
            "memories": {}, "mcp_servers": "mcp"}
    content, hashes = content_of_tree(tree, lambda wanted: {a: parts[a] for a in wanted},
                                      InPart(pages=1))
    messages = content["messages"]
    assert len(messages) == 192 and messages[128:] == tree_pages["p2"]
    assert messages[0] is UNREAD and messages[127] is UNREAD
    for look in (lambda: messages[0]["n"], lambda: messages[5] == {"n": 5},
                 lambda: {"n": 5} in messages, lambda: bool(messages[3])):
        with pytest.raises(NotRead):
            look()
    # Every part's address known: nothing unread is hashed (it would raise NotRead).
    known = hashes.manifest(content)
    assert known["messages"] == ["p0", "p1", "p2"] and known["mcp_servers"] == "mcp"


def test_a_result_whose_call_is_answered_or_absent_needs_no_page_not_read(
        kit: Kit, in_part: list[bool]) -> None:
    """Its fold appends it as an entry of its own, whatever the pages not read hold: the
    snapshot's open calls show no open call of its id (one answered long ago, one never made),
    so the fork reads in part and gives the whole history's content."""
    agent = new_agent("answered")
    kit.store.record([env(agent, "tool_call", {"call_id": "done", "tool": "t", "arguments": {}}),
                      env(agent, "tool_result", {"call_id": "done", "output": "first"})])
    work(kit, agent, 0, 1000)
    result, fork, want = fork_after(kit, agent, [
        env(agent, "tool_result", {"call_id": "done", "output": "again"}),
        env(agent, "tool_result", {"call_id": "never", "output": "orphan"}),
        msg(agent, "after the results")], "answered-fork")
    assert in_part == [True]
    assert [c["call_id"] for c in want["tool_calls"][-2:]] == ["done", "never"]
    assert result.content_hash == independent_hash(want)
    kit.store.agent_cache = None
    assert content_of(kit.store.context(fork)) == want


def test_the_default_reads_a_lists_last_page_and_places_late_results_by_the_record(
        kit: Kit, in_part: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    """As a fork reads by default (IN_PART: each list's last page, and the pages of the open
    calls its snapshot records), from 64 items: a result, after the snapshot, for a call open
    on the page before the last, and one for a call pages back, go where the record says,
    with nothing else read, and the fork's content is the whole history's."""
    monkeypatch.setattr(restore_module, "IN_PART", replace(DEFAULT_IN_PART, from_items=64))
    assert DEFAULT_IN_PART.pages == 1 and DEFAULT_IN_PART.open_calls
    agent = new_agent("record")
    kit.store.record([env(agent, "tool_call", {"call_id": "first", "tool": "t",
                                               "arguments": {}})])
    work(kit, agent, 0, 800)
    kit.store.record([env(agent, "tool_call", {"call_id": "recent", "tool": "t",
                                               "arguments": {}})])
    for i in range(40):  # the open call ends up a page before the last
        kit.store.record([env(agent, "tool_call", {"call_id": f"x{i}", "tool": "t",
                                                   "arguments": {}}),
                          env(agent, "tool_result", {"call_id": f"x{i}", "output": i})])
    calls_made = kit.version(agent)
    kit.store.record([msg(agent, f"pad {i}") for i in range(120)])  # a snapshot after them
    snapshot = kit.store.snapshot_at(agent, kit.version(agent))
    assert snapshot is not None
    snapshot_version = snapshot.version
    assert snapshot_version >= calls_made
    at_snapshot = full(kit, agent, snapshot_version)["tool_calls"]
    calls = [c["call_id"] for c in at_snapshot]
    last_page = (len(calls) - 1) // PAGE
    assert calls.index("recent") // PAGE == last_page - 1 and calls.index("first") == 0
    result, fork, want = fork_after(kit, agent, [
        env(agent, "tool_result", {"call_id": "recent", "output": "late"}),
        env(agent, "tool_result", {"call_id": "first", "output": "later"}),
        msg(agent, "after the late results")], "record-fork")
    assert in_part == [True]
    answered = {c["call_id"]: c.get("result") for c in want["tool_calls"]}
    assert answered["recent"] is not None and answered["first"] is not None
    assert result.content_hash == independent_hash(want)
    kit.store.agent_cache = None
    assert content_of(kit.store.context(fork)) == want
