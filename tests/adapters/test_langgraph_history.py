"""The saver's timeline of what it wrote (no I/O): which versions it can tell, and the content
at each, across others' writes (a gap) and its own rewinds."""

from __future__ import annotations

import random

from ctxstore.infrastructure.adapters.langgraph_history import Cursor, Timeline


def test_content_at_each_version_the_saver_knows() -> None:
    timeline = Timeline()
    timeline.appended(1, [(1, ("messages", "a")), (2, {"k": {"j": 1}})], 3)  # 3: a writes record
    timeline.appended(4, [(4, ("messages", "b")), (5, {"k": None, "n": {"j": 2}})], 5)
    empty = Cursor("agent", 0, {}, {})
    first = timeline.find(0)
    assert first is not None and first.base == 0 and timeline.find(6) is None
    assert Timeline.upto(empty, first, 0).messages == {}
    at = {v: Timeline.upto(empty, first, v) for v in range(1, 6)}
    assert [at[v].messages.get("messages") for v in range(1, 6)] == [
        ["a"], ["a"], ["a"], ["a", "b"], ["a", "b"]]
    assert [at[v].channels for v in (1, 2, 3, 5)] == [{}, {"k": {"j": 1}}, {"k": {"j": 1}},
                                                       {"n": {"j": 2}}]
    # A cursor given out is a copy: changing it changes nothing remembered.
    at[5].messages["messages"].append("x")
    assert Timeline.upto(empty, first, 5).messages == {"messages": ["a", "b"]}

    # Others wrote 6..8: those versions are not known; what comes after is a segment whose
    # base (version 8) is unknown until read.
    timeline.appended(9, [(9, ("messages", "c"))], 9)
    assert all(timeline.find(v) is None for v in (6, 7))
    after_gap = timeline.find(9)
    assert after_gap is not None and after_gap.base == 8 and after_gap.source is None
    assert timeline.find(8) is after_gap

    # A rewind to version 2: a segment whose base content is version 2's.
    timeline.restored(10, ("agent", 2))
    timeline.appended(11, [(11, ("messages", "d"))], 11)
    rewound = timeline.find(11)
    assert rewound is not None and rewound.base == 10 and rewound.source == ("agent", 2)
    assert timeline.find(9) is after_gap
    base = Timeline.upto(empty, first, 2)
    assert Timeline.upto(base, rewound, 11).messages == {"messages": ["a", "d"]}
    assert Timeline.upto(base, rewound, 10).channels == {"k": {"j": 1}}


def test_reads_in_any_order_give_what_applying_every_change_gives() -> None:
    """The content part-way that `upto` keeps (every MARK changes, and where it last ended)
    changes no answer: versions read in a shuffled order, more than once, each equal to the
    changes applied one by one from the base; what is handed out is never what is kept."""
    changes: list[tuple[int, tuple[str, str] | dict[str, object]]] = []
    for version in range(1, 1000):
        changes.append((version, ("messages", f"m{version}") if version % 3
                        else {"k": None if version % 9 == 0 else {"v": version}}))
    timeline = Timeline()
    timeline.appended(1, changes, 999)
    segment = timeline.find(500)
    assert segment is not None
    empty = Cursor("agent", 0, {}, {})

    def applied(version: int) -> Cursor:
        cursor = empty.copy(version)
        for at, change in changes:
            if at <= version:
                cursor.apply(change)
        return cursor

    versions = [*range(0, 1000, 7), 999, 998, 0, 1, 128, 129, 257, 256]
    random.Random(4).shuffle(versions)
    for version in versions * 2:
        got = Timeline.upto(empty, segment, version)
        want = applied(version)
        assert (got.version, got.messages, got.channels) == (
            version, want.messages, want.channels)
        got.messages.setdefault("messages", []).append("changed by the reader")
        got.channels["k"] = "changed by the reader"
    assert 0 < len(segment.marks) <= Timeline.MARKS + 1
    assert len([n for n in segment.marks if n % Timeline.MARK]) <= 1  # where it last ended
