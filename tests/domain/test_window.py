"""The window rule of domain.window on a hand-made state: which tool calls belong."""

from __future__ import annotations

from typing import Any

from ctxstore.domain.state import apply_event, content_hash, empty_content
from ctxstore.domain.window import tail_window


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
