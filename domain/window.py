"""A window of an agent's state: its last N messages and what belongs to them (DESIGN §2).

An agent acting needs its recent conversation, its memories and its tools, not its whole
history. The rule, on the state alone (so a checkpoint's state windows as a version's does):

- `messages`: the last N (N = 0: none).
- `tool_calls`, in the state's (record) order, a call's result travelling with it: those a
  window message names (its `tool_call_id`, or a content part's `tool_call_id`,
  `tool_use_id`, or the `id` of a `tool_use`/`function_call` part); every open one (no result
  yet: the agent is waiting on it); and those no message names that come after every call
  named by a message before the window (e.g. SWE-agent's final `submit`: made in the window's
  span, answered by no message). A call named only by messages before the window is left out.
  So the window of all messages holds every tool call.
- `reasoning`: each thread's last N steps (a step carries no link to a message; a turn seldom
  has more than one step per thread, so N steps cover N messages' reasoning).
- `memories`, `memory_links`, `mcp_servers`, `sessions`: whole.
- `content_hash`: the whole state's, unchanged, so a client can still verify a full read of
  that version; `window` says what was left out (`messages_total`, `tool_calls_total`,
  `reasoning_total`).
"""

from __future__ import annotations

from typing import Any

MAX_TAIL = 1_000_000
_CALL_PART_TYPES = frozenset({"tool_use", "function_call"})


def named_calls(message: dict[str, Any]) -> set[str]:
    """The tool call ids a message refers to."""
    ids: set[str] = set()
    if message.get("tool_call_id"):
        ids.add(message["tool_call_id"])
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            for key in ("tool_call_id", "tool_use_id"):
                if isinstance(part.get(key), str):
                    ids.add(part[key])
            if part.get("type") in _CALL_PART_TYPES and isinstance(part.get("id"), str):
                ids.add(part["id"])
    return ids


def tail_window(state: dict[str, Any], tail: int) -> dict[str, Any]:
    """The state windowed to its last `tail` messages (see the module's rule)."""
    every = state["messages"]
    start = max(len(every) - tail, 0)
    messages = every[start:]
    named: set[str] = set()
    for message in messages:
        named |= named_calls(message)
    earlier: set[str] = set()
    for message in every[:start]:
        earlier |= named_calls(message)
    earlier -= named
    calls = state["tool_calls"]
    # Calls after the last one an earlier message names were made in the window's span.
    cut = next((i + 1 for i in range(len(calls) - 1, -1, -1)
                if calls[i].get("call_id") in earlier), 0)
    calls = [c for i, c in enumerate(calls)
             if c.get("result") is None or c.get("call_id") in named
             or (i >= cut and c.get("call_id") not in earlier)]
    return _windowed(state, tail, messages, calls)


class WindowIndex:
    """What the window rule needs of one growing state, kept up to date by its appends, so a
    window of it costs about what it holds, not the whole history (an acting agent reads its
    window of a state of 100k events: the rule's walk of every message took 30 ms).

    It relies on the fold (domain.state): messages and tool calls are only appended, and a
    call's result replaces the call at its place, so a call only ever goes from open to
    closed. It knows the lists it indexed: other lists (a restore, another version), or
    shorter ones, are indexed afresh."""

    def __init__(self) -> None:
        self._lists: tuple[list[Any], list[Any]] | None = None
        self._reset()

    def _reset(self) -> None:
        self._messages = 0  # messages indexed
        self._calls = 0  # tool calls indexed
        self._first_named: dict[Any, int] = {}  # call id -> the first message naming it
        self._positions: dict[Any, list[int]] = {}  # call id -> where its calls are
        self._open: list[int] = []  # calls open when last seen

    def window(self, state: dict[str, Any], tail: int) -> dict[str, Any]:
        """`tail_window(state, tail)`, found through the index."""
        every, calls = state["messages"], state["tool_calls"]
        self._catch_up(every, calls)
        start = max(len(every) - tail, 0)
        messages = every[start:]
        named: set[str] = set()
        for message in messages:
            named |= named_calls(message)
        first = self._first_named

        def earlier(call_id: Any) -> bool:
            return call_id not in named and first.get(call_id, start) < start

        cut = next((i + 1 for i in range(len(calls) - 1, -1, -1)
                    if earlier(calls[i].get("call_id"))), 0)
        before = set(self._open)
        for call_id in named:
            before.update(self._positions.get(call_id, ()))
        picked = [calls[i] for i in sorted(before) if i < cut]
        picked.extend(calls[cut:])
        return _windowed(state, tail, messages, picked)

    def _catch_up(self, messages: list[Any], calls: list[Any]) -> None:
        held = self._lists
        if held is None or held[0] is not messages or held[1] is not calls \
                or len(messages) < self._messages or len(calls) < self._calls:
            self._reset()
            self._lists = (messages, calls)
        first = self._first_named
        for at in range(self._messages, len(messages)):
            for call_id in named_calls(messages[at]):
                first.setdefault(call_id, at)
        self._messages = len(messages)
        for at in range(self._calls, len(calls)):
            call = calls[at]
            self._positions.setdefault(call.get("call_id"), []).append(at)
            if call.get("result") is None:
                self._open.append(at)
        self._calls = len(calls)
        self._open = [at for at in self._open if calls[at].get("result") is None]


def _windowed(state: dict[str, Any], tail: int, messages: list[Any], calls: list[Any]
              ) -> dict[str, Any]:
    reasoning = {thread: (steps[-tail:] if tail else [])
                 for thread, steps in state["reasoning"].items()}
    return {
        **state,
        "messages": messages,
        "tool_calls": calls,
        "reasoning": reasoning,
        "window": {
            "tail": tail,
            "messages_total": len(state["messages"]),
            "tool_calls_total": len(state["tool_calls"]),
            "reasoning_total": sum(len(s) for s in state["reasoning"].values()),
        },
    }
