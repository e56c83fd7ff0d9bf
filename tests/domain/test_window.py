"""The window rule of domain.window on a hand-made state: which tool calls belong."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ctxstore.domain.content_tree import InPart, NotRead, content_of_tree, content_parts, unread_in
from ctxstore.domain.pages import TOUCH, PartHashes
from ctxstore.domain.state import apply_event, content_hash, copy_content, empty_content
from ctxstore.domain.window import OpenCalls, WindowIndex, tail_window


def state_of(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    content = empty_content()
    for kind, data in events:
        apply_event(content, kind, data)
    return {"agent_id": "a", "version": len(events), "as_of": None, **content, "sessions": [],
            "content_hash": content_hash(content)}


def call(call_id: str) -> tuple[str, dict[str, Any]]:
    return "tool_call", {"call_id": call_id, "tool": "t", "arguments": {}}


def result(call_id: str) -> tuple[str, dict[str, Any]]:
    return "tool_result", {"call_id": call_id, "output": "ok"}


def message(text: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "message", {"role": "assistant", "content": text, **extra}


STATE = state_of([
    message("start"),
    call("old"), result("old"),
    ("message", {"role": "tool", "content": "o", "tool_call_id": "old"}),
    call("unnamed-early"), result("unnamed-early"),
    call("late"), result("late"), message("hi"),
    ("message", {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "late"}]}),
    call("part"), result("part"),
    ("message", {"role": "assistant", "content": [{"type": "tool_use", "id": "part"}]}),
    call("submit"), result("submit"),
    call("pending"),
    ("reasoning", {"thread_id": "t", "content": "r1"}),
    ("reasoning", {"thread_id": "t", "content": "r2"}),
])


def ids(window: dict[str, Any]) -> list[str]:
    return [c["call_id"] for c in window["tool_calls"]]


def test_named_calls_the_last_calls_and_open_calls_belong() -> None:
    window = tail_window(STATE, 3)
    assert [m["content"] for m in window["messages"]][0] == "hi"
    # "late" and "part" are named by content parts; "submit" and "pending" are among the
    # last 3 calls ("part" too); "pending" is open.
    assert ids(window) == ["late", "part", "submit", "pending"]
    assert window["reasoning"] == {"t": STATE["reasoning"]["t"][-3:]}
    assert window["content_hash"] == STATE["content_hash"]


def test_calls_before_the_last_n_belong_only_when_named_or_open() -> None:
    assert "old" not in ids(tail_window(STATE, 3))  # named only before the window
    assert "unnamed-early" not in ids(tail_window(STATE, 3))
    assert ids(tail_window(STATE, 1)) == ["part", "pending"]
    assert ids(tail_window(STATE, 0)) == ["pending"]
    assert tail_window(STATE, 0)["reasoning"] == {"t": []}
    assert ids(tail_window(STATE, 5)) == ["old", "unnamed-early", "late", "part", "submit",
                                          "pending"]


def test_an_id_called_twice_brings_its_last_call() -> None:
    """A result closes the last call of its id (domain.state); a message naming the id
    brings that call, not every call ever made under it."""
    state = state_of([call("x"), result("x"), *[call(f"f{i}") for i in range(5)],
                      *[result(f"f{i}") for i in range(5)], call("x"), result("x"),
                      *[call(f"g{i}") for i in range(5)], *[result(f"g{i}") for i in range(5)],
                      ("message", {"role": "tool", "content": "o", "tool_call_id": "x"})])
    window = tail_window(state, 1)
    assert ids(window) == ["x", "g4"]
    assert window["tool_calls"][0] is state["tool_calls"][6]


def test_a_window_is_bounded_by_its_size_not_the_history() -> None:
    """Calls named by no message (SWE-agent's) do not pull the history into a window."""
    events: list[tuple[str, dict[str, Any]]] = []
    for i in range(300):
        events += [call(f"c{i}"), result(f"c{i}"), message(f"m{i}")]
    window = tail_window(state_of(events), 10)
    assert ids(window) == [f"c{i}" for i in range(290, 300)]


def test_open_calls_known_from_a_shorter_list_give_the_same_window() -> None:
    content = empty_content()
    for kind, data in [call("a"), call("b"), result("a"), message("x")]:
        apply_event(content, kind, data)
    known = OpenCalls.of(content["tool_calls"])
    assert known == OpenCalls(2, (1,), frozenset())
    for kind, data in [result("b"), call("c"), message("y"), call("d"), result("d")]:
        apply_event(content, kind, data)
    state = {**content, "sessions": []}
    for tail in (0, 1, 2):
        assert tail_window(state, tail, known) == tail_window(state, tail)
    assert OpenCalls.of(content["tool_calls"], known) == OpenCalls(4, (2,), frozenset())
    assert OpenCalls.from_json(known.to_json()) == known
    # A record made before `shadowed` was kept reads back without it, and stays without.
    older = OpenCalls.from_json([2, [1]])
    assert older == OpenCalls(2, (1,))
    assert OpenCalls.of(content["tool_calls"], older) == OpenCalls(4, (2,))
    for damaged in (None, [1], [1, [2.5]], ["1", []], {"count": 1}, [2, [2]], [2, [-1]],
                    [2, [1], [0]], [2, [1], None], [2, [1], [1], []], [2, [1], [[1]]],
                    [2, [1], [{"a": 1}]]):
        assert OpenCalls.from_json(damaged) is None


def test_open_calls_know_which_are_not_the_last_of_their_id() -> None:
    """Ids used again (a tool numbering its calls anew each turn): an open call followed by
    a call of the same id is shadowed, whether that came before the record or since."""
    content = empty_content()
    for kind, data in [call("a"), call("b"), call("a"), result("a"), call("c")]:
        apply_event(content, kind, data)
    # The result went to the last "a" (2); the first "a" (0) stays open, shadowed.
    known = OpenCalls.of(content["tool_calls"])
    assert known == OpenCalls(4, (0, 1, 3), frozenset({0}))
    for kind, data in [call("b"), call("d"), call("d")]:
        apply_event(content, kind, data)
    assert OpenCalls.of(content["tool_calls"], known) == OpenCalls(
        7, (0, 1, 3, 4, 5, 6), frozenset({0, 1, 5}))
    assert OpenCalls.of(content["tool_calls"]) == OpenCalls.of(content["tool_calls"], known)
    assert OpenCalls.from_json(known.to_json()) == known


def test_the_window_of_every_message_is_the_whole_state() -> None:
    for n in (len(STATE["messages"]), 10**6):
        window = tail_window(STATE, n)
        assert {k: v for k, v in window.items() if k != "window"} == STATE
        assert window["window"]["messages_total"] == len(STATE["messages"])


def _step(draw: Any, content: dict[str, Any], n: int) -> None:
    """One event of a random conversation: calls, results (some for calls never made, some
    twice), and messages naming calls in every way the rule reads."""
    ids = [f"c{k}" for k in range(max(n // 2, 1))]
    kind = draw(st.sampled_from(["call", "result", "message", "named", "part"]))
    some = draw(st.sampled_from(ids))
    if kind == "call":
        apply_event(content, *call(some))
    elif kind == "result":
        apply_event(content, *result(some))
    elif kind == "message":
        apply_event(content, *message(f"m{n}"))
    elif kind == "named":
        apply_event(content, "message", {"role": "tool", "content": "x", "tool_call_id": some})
    else:
        part = draw(st.sampled_from([{"type": "tool_result", "tool_use_id": some},
                                     {"type": "tool_use", "id": some},
                                     {"type": "text", "text": "t", "tool_call_id": some}]))
        apply_event(content, "message", {"role": "user", "content": [part]})


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_index_gives_the_rules_window_as_the_state_grows(data: st.DataObject) -> None:
    """WindowIndex (what a held agent's window uses) against the rule itself, on one state
    growing event by event (calls closing in place), and on another state's lists."""
    content = empty_content()
    index = WindowIndex()
    for n in range(data.draw(st.integers(1, 60))):
        _step(data.draw, content, n)
        state = {**content, "sessions": []}
        for tail in {0, 1, 3, data.draw(st.integers(0, 70))}:
            assert index.window(state, tail) == tail_window(state, tail), (n, tail)
    other = {**copy_content(content), "sessions": []}  # new lists: indexed afresh
    other["messages"] = other["messages"][: len(other["messages"]) // 2]
    assert index.window(other, 2) == tail_window(other, 2)


def _conversation(rng: random.Random, n: int, ids: int) -> list[tuple[str, dict[str, Any]]]:
    """n events of a random conversation over `ids` call ids (results for calls never made,
    or made twice; messages naming calls in every way the rule reads; reasoning)."""
    events: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        some = f"c{rng.randrange(ids)}"
        kind = rng.choice(["call", "call", "result", "message", "named", "part", "reason"])
        if kind == "call":
            events.append(call(some))
        elif kind == "result":
            events.append(result(some))
        elif kind == "message":
            events.append(message(f"m{i}"))
        elif kind == "named":
            events.append(("message", {"role": "tool", "content": "x", "tool_call_id": some}))
        elif kind == "part":
            events.append(("message", {"role": "user", "content": [
                {"type": "tool_use", "id": some}]}))
        else:
            events.append(("reasoning", {"thread_id": rng.choice("ab"), "content": str(i)}))
    return events


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), before=st.integers(0, 900), after=st.integers(0, 150),
       ids=st.sampled_from([20, 400, 5000]), pages=st.integers(1, 3),
       tail=st.sampled_from([0, 1, 5, 50, 130]))
def test_a_window_of_a_content_read_in_part_is_the_whole_ones_or_not_read(
        seed: int, before: int, after: int, ids: int, pages: int, tail: int) -> None:
    """What a window of a past version reads (application.store_reads): a snapshot's content
    read from its last pages and its open calls' pages (OpenCalls kept with it), the events
    after it folded on. Its window is the whole content's, or NotRead: never a different one,
    never an item not read."""
    rng = random.Random(seed)
    content = empty_content()
    for kind, data in _conversation(rng, before, ids):
        apply_event(content, kind, data)
    known = OpenCalls.of(content["tool_calls"])  # kept with the snapshot
    cut = content_parts(content, PartHashes())
    parts = {a: json.loads(cut.raw(a)) for a in _addresses(cut)}
    shape = InPart(pages=pages, whole=frozenset({"memory_links"}),
                   items=(("tool_calls", known.positions),))
    part, hashes = content_of_tree(parts[cut.root], lambda asked: {a: parts[a] for a in asked},
                                   shape)
    later = _conversation(rng, after, ids)
    for kind, data in later:
        apply_event(content, kind, data)
    whole = {**content, "sessions": []}
    expected = tail_window(whole, tail)
    try:
        for kind, data in later:
            apply_event(part, kind, data)
            touch = TOUCH.get(kind)  # what the aggregate's fold tells the addresses
            if touch is not None:
                touch(hashes, part, data)
        window = tail_window({**part, "sessions": []}, tail, known)
    except NotRead:
        return
    if any(unread_in(items) for items in
           [window["messages"], window["tool_calls"], *window["reasoning"].values()]):
        return
    assert window == expected
    assert hashes.content_hash(part) == PartHashes().content_hash(content)


def test_a_long_conversation_read_in_part_gives_its_window_from_its_last_pages() -> None:
    """The usual case is served in part: calls named near where they were made, a few open."""
    events: list[tuple[str, dict[str, Any]]] = [call("early-open")]
    for i in range(2000):
        events += [message(f"q{i}"), call(f"c{i}"), result(f"c{i}"),
                   ("message", {"role": "tool", "content": "o", "tool_call_id": f"c{i}"})]
    content = empty_content()
    for kind, data in events:
        apply_event(content, kind, data)
    known = OpenCalls.of(content["tool_calls"])
    cut = content_parts(content, PartHashes())
    parts = {a: json.loads(cut.raw(a)) for a in _addresses(cut)}
    asked: set[str] = set()

    def fetch(addresses: Any) -> dict[str, Any]:
        asked.update(addresses)
        return {a: parts[a] for a in addresses}

    part, _ = content_of_tree(parts[cut.root], fetch,
                              InPart(pages=2, items=(("tool_calls", known.positions),)))
    window = tail_window({**part, "sessions": []}, 50, known)
    assert window == tail_window({**content, "sessions": []}, 50)
    assert ids(window)[0] == "early-open" and len(window["tool_calls"]) == 51
    assert len(asked) < 20 < len(parts)  # a few pages of the 188


def _addresses(cut: Any) -> list[str]:
    out: list[str] = []

    def walk(node: str) -> None:
        out.append(node)
        for child in cut.children.get(node, ()):
            walk(child)

    walk(cut.root)
    return out
