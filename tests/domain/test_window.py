"""The window rule of domain.window on a hand-made state: which tool calls belong."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ctxstore.domain.state import apply_event, content_hash, copy_content, empty_content
from ctxstore.domain.window import WindowIndex, tail_window


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


def test_named_unnamed_after_the_earlier_ones_and_open_calls_belong() -> None:
    window = tail_window(STATE, 3)
    assert [m["content"] for m in window["messages"]][0] == "hi"
    # "old" is answered before the window; "unnamed-early", named by no message, comes after
    # it, so in the window's span; "late" and "part" are named by content parts.
    assert ids(window) == ["unnamed-early", "late", "part", "submit", "pending"]
    assert window["reasoning"] == {"t": STATE["reasoning"]["t"][-3:]}
    assert window["content_hash"] == STATE["content_hash"]


def test_a_call_named_only_before_the_window_is_left_out() -> None:
    assert "old" not in ids(tail_window(STATE, 3))
    assert ids(tail_window(STATE, 1)) == ["part", "submit", "pending"]
    # After the last message: "submit" (named by none) is in any window's span.
    assert ids(tail_window(STATE, 0)) == ["submit", "pending"]
    assert tail_window(STATE, 0)["reasoning"] == {"t": []}


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
