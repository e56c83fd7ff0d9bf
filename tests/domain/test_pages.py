"""The paging rule and the tree hash (domain.pages): the aggregate's hash, kept up to date part
by part as events fold, is always the hash of its content computed from nothing, and both are
what a client computes from the rule; a fold step drops only the parts its event touched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hash_rule import independent_hash, legacy_independent_hash
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxstore.domain import pages
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.pages import PartHashes, hash_like, legacy_hash, tree_hash
from ctxstore.domain.state import EventNotApplicable, apply_event, copy_content, empty_content

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(kind: int, n: int) -> tuple[str, dict[str, Any]]:
    """One event of each kind by number, referring to earlier ids so results, updates and
    forgets land on earlier pages and buckets."""
    k = kind % 10
    if k == 0:
        return "message", {"role": "user", "content": f"m{n}"}
    if k == 1:
        return "reasoning", {"thread_id": f"t{n % 3}", "content": f"r{n}"}
    if k == 2:
        return "tool_call", {"call_id": f"c{n % 40}", "tool": "t", "arguments": {"n": n}}
    if k == 3:
        return "tool_result", {"call_id": f"c{(n * 7) % 40}", "output": n}
    if k == 4:
        return "memory_stored", {"memory_id": f"k{n % 30}", "kind": "episodic",
                                 "content": f"v{n}"}
    if k == 5:
        return "memory_updated", {"memory_id": f"k{(n * 3) % 30}", "content": f"u{n}"}
    if k == 6:
        return "memory_forgotten", {"memory_id": f"k{(n * 5) % 30}"}
    if k == 7:
        return "memory_linked", {"source_id": f"k{n % 4}", "target_id": f"k{n % 5}",
                                 "relation": "r"}
    if k == 8:
        return "mcp_state", {"server": f"s{n % 2}", "state": {"n": n}}
    return "channels", {"values": {f"ch{n % 3}": None if n % 4 == 0 else {"n": n}}}


def _fold(agent: AgentContext, kinds: list[int], start: int = 0) -> Iterator[None]:
    for n, kind in enumerate(kinds, start):
        type, data = _event(kind, n)
        try:
            agent.record(event_id=f"e{n}", type=type, data=data,
                         timestamp=T0 + timedelta(seconds=n))
        except EventNotApplicable:
            continue
        yield


@settings(max_examples=150, deadline=None)
@given(kinds=st.lists(st.integers(0, 9), max_size=120),
       every=st.integers(1, 7), restore_at=st.integers(0, 130),
       reread_at=st.integers(0, 130))
def test_the_kept_hash_is_the_hash_from_nothing(kinds: list[int], every: int,
                                                restore_at: int, reread_at: int) -> None:
    """`reread_at`: there the agent's addresses are replaced by those a content read back
    from its parts starts with (PartHashes.of_manifest), as a restore's source is."""
    with pytest.MonkeyPatch.context() as patch:
        # Pages of 3, groups of 2, 4 buckets: every boundary is crossed within a few events.
        patch.setattr(pages, "PAGE", 3)
        patch.setattr(pages, "GROUP", 2)
        patch.setattr(pages, "BUCKETS", 4)
        agent = AgentContext.start("a")
        for n, _ in enumerate(_fold(agent, kinds)):
            if n == restore_at:
                agent.restore(event_id="back", content=copy_content(agent.content),
                              provenance={}, timestamp=T0 + timedelta(days=1))
            if n == reread_at:
                manifest = agent.part_hashes.manifest(agent.content)
                agent.__dict__["_parts"] = PartHashes.of_manifest(manifest, agent.content)
            if n % every == 0:
                assert agent.content_hash() == tree_hash(agent.content)
                # Asked again unchanged: the root object and its address as made (the memo).
                assert agent.content_hash() == tree_hash(agent.content)
        assert agent.content_hash() == tree_hash(agent.content)


def test_the_rule_is_what_a_client_computes() -> None:
    """Past a page (64), a group (64 pages) and with many buckets, at the real sizes."""
    agent = AgentContext.start("a")
    for _ in _fold(agent, [0] * (64 * 64 + 100) + [i % 10 for i in range(900)]):
        pass
    assert len(agent.content["messages"]) > 64 * 64
    assert agent.content_hash() == independent_hash(agent.content)
    assert legacy_hash(agent.content) == legacy_independent_hash(agent.content)


def test_channels_count_in_the_hash_only_when_there_are_some() -> None:
    """The seventh content field (issue 15): absent or emptied, every hash is what it was."""
    agent = AgentContext.start("a")
    for _ in _fold(agent, [0, 1, 2, 3, 4, 8]):
        pass
    before, before_legacy = agent.content_hash(), legacy_hash(agent.content)
    agent.record(event_id="c1", type="channels", data={"values": {"x": {"t": "json"}}},
                 timestamp=T0 + timedelta(days=1))
    assert agent.content["channels"] == {"x": {"t": "json"}}
    assert agent.content_hash() not in (before, tree_hash({**agent.content, "channels": {}}))
    assert agent.content_hash() == independent_hash(agent.content)
    agent.record(event_id="c2", type="channels", data={"values": {"x": None}},
                 timestamp=T0 + timedelta(days=1))
    assert "channels" not in agent.content
    assert (agent.content_hash(), legacy_hash(agent.content)) == (before, before_legacy)


def rehashed(agent: AgentContext) -> set[str]:
    """The parts the next hash of `agent` computes again (not known from before)."""
    parts = agent.part_hashes
    missed: set[str] = set()
    real = PartHashes._leaf

    def leaf(self: PartHashes, key: str, value: Any, grown: Any = None) -> str:
        if key not in self.leaves:
            missed.add(key)
        return real(self, key, value, grown)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PartHashes, "_leaf", leaf)
        digest = agent.content_hash()
    assert digest == tree_hash(agent.content)
    assert parts is agent.part_hashes
    return missed


def test_a_hash_computes_only_the_parts_events_changed() -> None:
    agent = AgentContext.start("a")
    agent.record(event_id="early", type="tool_call",
                 data={"call_id": "early", "tool": "t", "arguments": {}}, timestamp=T0)
    list(_fold(agent, [i % 9 for i in range(2000)]))
    rehashed(agent)
    assert rehashed(agent) == set()  # nothing changed: nothing hashed but groups and root
    last = (len(agent.content["messages"]) - 1) // 64
    list(_fold(agent, [0], start=5000))  # one message: its page only
    assert rehashed(agent) == {f"m{last}"}
    memory_id = sorted(agent.content["memories"])[0]
    agent.record(event_id="u", type="memory_updated",
                 data={"memory_id": memory_id, "content": "new"},
                 timestamp=T0 + timedelta(days=2))
    assert rehashed(agent) == {f"b{pages.bucket_of(memory_id)}"}
    # A result for a call on the first page: that page only.
    agent.record(event_id="r", type="tool_result", data={"call_id": "early", "output": 1},
                 timestamp=T0 + timedelta(days=2))
    assert rehashed(agent) == {"t0"}
    thread = sorted(agent.content["reasoning"])[0]
    steps = len(agent.content["reasoning"][thread])
    agent.record(event_id="s", type="reasoning", data={"thread_id": thread, "content": "x"},
                 timestamp=T0 + timedelta(days=2))
    assert rehashed(agent) == {f"r|{thread}|{steps // 64}"}
    # A restore replaces everything: every part again.
    agent.restore(event_id="x", content=copy_content(agent.content), provenance={},
                  timestamp=T0 + timedelta(days=3))
    assert len(rehashed(agent)) > 20


def test_a_hash_is_verified_in_its_own_scheme() -> None:
    agent = AgentContext.start("a")
    list(_fold(agent, list(range(9)) * 3))
    content = agent.content
    assert hash_like(content, legacy_independent_hash(content)) == legacy_independent_hash(
        content)
    assert hash_like(content, "sha256-tree1:00") == independent_hash(content)
    assert legacy_hash(content) != tree_hash(content)
    with pytest.raises(ValueError, match="no known scheme"):
        hash_like(content, "md5:abc")


def test_a_snapshot_starts_the_agent_with_its_addresses() -> None:
    agent = AgentContext.start("a")
    list(_fold(agent, [i % 9 for i in range(500)]))
    snapshot = agent.take_snapshot()
    back = snapshot.mutate(None)
    assert rehashed(back) == set()
    assert back.content_hash() == agent.content_hash()
    list(_fold(back, [0, 1], start=900))
    assert len(rehashed(back)) == 2  # the message page and the reasoning page grown


def test_a_copy_of_part_hashes_changes_apart_from_its_original() -> None:
    content = empty_content()
    apply_event(content, "memory_stored", {"memory_id": "m1", "kind": "semantic",
                                           "content": "fact"})
    original = PartHashes()
    original.content_hash(content)
    copy = original.copy()
    assert copy.to_json() == original.to_json()
    copy.memory("m1")  # the fold drops a bucket's address when a memory changes in place
    copy.clear()
    assert copy.to_json() == {"leaves": {}, "seen": {}}
    assert original.to_json()["leaves"]  # untouched


@settings(max_examples=100, deadline=None)
@given(kinds=st.lists(st.integers(0, 9), max_size=120), copy_at=st.integers(0, 120))
def test_a_copy_keeps_hashing_true_and_leaves_its_original_true(kinds: list[int],
                                                                copy_at: int) -> None:
    """A copy carries each list's pages as given and the buckets' members (a restore's
    source hands its copy on): folding on with the copy hashes as from nothing, and the
    original still hashes the content it was copied for."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "PAGE", 3)
        patch.setattr(pages, "GROUP", 2)
        patch.setattr(pages, "BUCKETS", 4)
        agent = AgentContext.start("a")
        original, then = None, None
        for n, _ in enumerate(_fold(agent, kinds)):
            if n == copy_at:
                original = agent.part_hashes
                original.content_hash(agent.content)  # its lists and members up to date
                then = copy_content(agent.content)
                agent.__dict__["_parts"] = original.copy()
        assert agent.content_hash() == tree_hash(agent.content)
        if original is not None and then is not None:
            assert original.content_hash(then) == tree_hash(then)


def test_a_recorded_event_folds_only_onto_its_agent_at_the_version_before() -> None:
    """Replays fold stored events one by one (Recorded.mutate): one of another agent, or out
    of sequence, is refused before it changes anything, as eventsourcing's mutate refuses it."""
    from eventsourcing.domain import OriginatorIDError, OriginatorVersionError

    source = AgentContext.start("a")
    for _ in _fold(source, [0, 0, 0]):
        pass
    first, _, third = source.collect_events()[:3]
    agent = first.mutate(None)
    assert agent.version == 1 and agent.created_on == first.timestamp
    before = copy_content(agent.content)
    with pytest.raises(OriginatorVersionError):
        third.mutate(agent)
    other = AgentContext.start("b")
    with pytest.raises(OriginatorIDError):
        first.mutate(other)
    assert agent.content == before and agent.version == 1


def test_a_result_whose_call_was_not_read_goes_where_the_whole_fold_puts_it() -> None:
    """A content read in part (items before its last pages unread, the open calls' pages
    read): a tool result whose search from the end meets an unread call goes, by the open
    calls' record, to its id's last call if open, else to an entry of its own."""
    from ctxstore.domain.aggregate import OPEN_CALLS
    from ctxstore.domain.content_tree import UNREAD
    from ctxstore.domain.window import OpenCalls

    def agent_with_calls() -> AgentContext:
        agent = AgentContext.start("a")
        # "a" twice: the first stays open, shadowed by the second; "d" answered.
        for n, call_id in enumerate(["a", "b", "a", "c", "d", *(f"x{i}" for i in range(9))]):
            agent.record(event_id=f"c{n}", type="tool_call",
                         data={"call_id": call_id, "tool": "t", "arguments": {}},
                         timestamp=T0 + timedelta(seconds=n))
        agent.record(event_id="r", type="tool_result", data={"call_id": "d", "output": "d"},
                     timestamp=T0 + timedelta(seconds=20))
        return agent

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pages, "PAGE", 3)  # calls 0-2 on page 0, "d" (4) on page 1
        patch.setattr(pages, "GROUP", 2)
        whole, part = agent_with_calls(), agent_with_calls()
        calls = part.content["tool_calls"]
        known = OpenCalls.of(calls)
        assert known == OpenCalls(14, (0, 1, 2, 3, *range(5, 14)), frozenset({0}))
        part.__dict__[OPEN_CALLS] = (calls, known)
        part.content_hash()  # its pages' addresses known, as a content read back knows them
        calls[4] = UNREAD  # answered, on a page not read
        results = [("a", "to the last a"), ("a", "again: an entry of its own"),
                   ("d", "answered long ago"), ("never", "no call"), ("b", "to b")]
        for n, (call_id, output) in enumerate(results):
            for agent in (whole, part):
                agent.record(event_id=f"r{n}", type="tool_result",
                             data={"call_id": call_id, "output": output},
                             timestamp=T0 + timedelta(seconds=30 + n))
        # The page a result changed in place is hashed again; the unread one is not read.
        assert part.content_hash() == whole.content_hash() == tree_hash(whole.content)
    want = whole.content["tool_calls"]
    assert len(calls) == len(want) == 17
    assert [c for k, c in enumerate(calls) if k != 4] == [c for k, c in enumerate(want)
                                                          if k != 4]
    assert want[2]["result"]["output"] == "to the last a" and want[0]["result"] is None
    assert want[1]["result"]["output"] == "to b"
    assert [c["call_id"] for c in want[14:]] == ["a", "d", "never"]


def _encoded_lists(patch: pytest.MonkeyPatch) -> list[int]:
    """The lengths of the lists the hash encodes from here on (pages, or what was appended
    to one: PartHashes._leaf's `grown`)."""
    lengths: list[int] = []
    real = pages.canonical_json_of_content

    def spy(value: Any) -> bytes:
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lengths.append(len(value))
        return real(value)

    patch.setattr(pages, "canonical_json_of_content", spy)
    return lengths


def _call(agent: AgentContext, n: int, *, answered: bool) -> None:
    at = T0 + timedelta(days=1, seconds=n)
    agent.record(event_id=f"c{n}", type="tool_call",
                 data={"call_id": f"c{n}", "tool": "t", "arguments": {"n": n}}, timestamp=at)
    if answered:
        agent.record(event_id=f"r{n}", type="tool_result",
                     data={"call_id": f"c{n}", "output": n}, timestamp=at)


def test_a_page_grown_by_appends_is_hashed_from_its_earlier_bytes() -> None:
    """Appends to a page not full encode only what was appended (pages.GROWING_PAGES): a
    message page, a call page whose new calls got their results; a result for a call the
    page held before makes it encode the page whole. Every hash is the rule's."""
    agent = AgentContext.start("g")
    for n in range(100):
        agent.record(event_id=f"m{n}", type="message",
                     data={"role": "user", "content": f"m{n}"}, timestamp=T0)
    for n in range(70):
        _call(agent, n, answered=False)
    agent.content_hash()
    with pytest.MonkeyPatch.context() as patch:
        encoded = _encoded_lists(patch)
        for n in range(100, 103):
            agent.record(event_id=f"m{n}", type="message",
                         data={"role": "user", "content": f"m{n}"}, timestamp=T0)
        _call(agent, 70, answered=True)
        _call(agent, 71, answered=True)
        assert agent.content_hash() == independent_hash(agent.content)
        # 3 messages after the 36 of page 1; 2 calls after the 6 of page 1, answered.
        assert sorted(encoded) == [2, 3]
        encoded.clear()
        _call(agent, 72, answered=False)
        agent.record(event_id="r65", type="tool_result", data={"call_id": "c65", "output": 0},
                     timestamp=T0 + timedelta(days=2))  # on page 1, before its end
        assert agent.content_hash() == independent_hash(agent.content)
        assert encoded == [9]  # that page, whole


def test_a_page_read_back_grows_from_the_bytes_it_was_read_as() -> None:
    """A content read back from its parts (a fork's snapshot, domain.content_tree), its last
    page's bytes held as read (pages.remember_page): the events folded onto it encode only
    what they append."""
    agent = AgentContext.start("g")
    for n in range(100):
        agent.record(event_id=f"m{n}", type="message",
                     data={"role": "user", "content": f"m{n}"}, timestamp=T0)
    manifest = agent.part_hashes.manifest(agent.content)
    last = manifest["messages"][-1]
    raw = pages.canonical_json_of_content(agent.content["messages"][64:])
    pages.forget_recent()  # nothing held from this process's own hash
    read = AgentContext.based_on("g", copy_content(agent.content), agent.version)
    read.__dict__["_parts"] = PartHashes.of_manifest(manifest, read.content)
    pages.remember_page(last, raw, orjson.loads(raw))
    with pytest.MonkeyPatch.context() as patch:
        encoded = _encoded_lists(patch)
        read.record(event_id="m100", type="message", data={"role": "user", "content": "x"},
                    timestamp=T0 + timedelta(days=1))
        assert read.content_hash() == independent_hash(read.content)
    assert encoded == [1]
    # Group nodes (lists of addresses) are never held as pages.
    pages.forget_recent()
    pages.remember_page("a" * 64, b'["' + b"b" * 64 + b'"]', ["b" * 64])
    assert len(pages.GROWING_PAGES) == 0
