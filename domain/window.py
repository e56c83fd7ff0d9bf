"""A window of an agent's state: its last N messages and what belongs to them (DESIGN §2).

An agent acting needs its recent conversation, its memories and its tools, not its whole
history. The rule, on the state alone (so a checkpoint's state windows as a version's does), and
bounded by N, so a window costs what it holds, not the history before it:

- `messages`: the last N (N = 0: none).
- `tool_calls`, in the state's (record) order, a call's result travelling with it: for each
  call id a window message names (its `tool_call_id`, or a content part's `tool_call_id`,
  `tool_use_id`, or the `id` of a `tool_use`/`function_call` part), the last call with that
  id (the one a result would close); every open one (no result yet: the agent is waiting on
  it); and the last N calls, named by a message or not (calls made in the window's span, e.g.
  SWE-agent's final `submit`, answered by no message). So the window of all messages holds
  every tool call.
- `reasoning`: each thread's last N steps (a step carries no link to a message; a turn seldom
  has more than one step per thread, so N steps cover N messages' reasoning).
- `memories`, `memory_links`, `mcp_servers`, `sessions`: whole.
- `content_hash`: the whole state's, unchanged, so a client can still verify a full read of
  that version; `window` says what was left out (`messages_total`, `tool_calls_total`,
  `reasoning_total`).

The rule before this one also took every call no message names after the last call named
before the window: on histories where most calls are named by no message, that reached back
through the whole history (a 50-message window of a 100k-event agent held 1,766 calls, 1.7 MB),
and deciding it needed every message ever recorded.

Only the open calls need the whole history, and `OpenCalls` keeps where they are, so a window
of a state read in part (domain.content_tree: items before its last pages unread) is found
without reading the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class OpenCalls:
    """Where a state's open tool calls were when its list held `count` calls.

    It stays true of the same list as it grows: the fold only appends calls, and a result
    replaces its call at its place, so a call only ever goes from open to closed. Kept with a
    snapshot (domain.aggregate), it lets a window of a later version read in part find every
    open call without looking at the calls before the pages it read.

    `shadowed`: those of `positions` whose call is not the last of its id (a later call has
    the same id, as where an agent's tool numbers its calls anew each turn); None when not
    known (a record made before it was kept). A result folds onto the last call of its id, so
    a fold on a state read in part can tell from it where a result goes without reading the
    calls before the pages it read (AgentContext.unread_call_answered)."""

    count: int
    positions: tuple[int, ...]
    shadowed: frozenset[int] | None = None

    @classmethod
    def of(cls, calls: Sequence[Any], known: OpenCalls | None = None) -> OpenCalls:
        """The open calls of `calls` now; `known`: what was true of this list before (only
        the calls since and the ones open then are looked at)."""
        positions = tuple(open_positions(calls, known))
        if known is None or known.count > len(calls):  # every call looked at
            since, before = 0, frozenset[int]()
        elif known.shadowed is None:  # a record made before `shadowed` was kept
            return cls(len(calls), positions)
        else:
            since, before = known.count, known.shadowed
        last: dict[Any, int] = {}  # the last position of each id among the calls looked at
        for at in range(since, len(calls)):
            last[calls[at].get("call_id")] = at
        shadowed = frozenset(at for at in positions
                             if at in before or last.get(calls[at].get("call_id"), at) > at)
        return cls(len(calls), positions, shadowed)

    def to_json(self) -> list[Any]:
        if self.shadowed is None:
            return [self.count, list(self.positions)]
        return [self.count, list(self.positions), sorted(self.shadowed)]

    @classmethod
    def from_json(cls, value: Any) -> OpenCalls | None:
        """None for anything that is not what `to_json` makes (a damaged or older record)."""
        if (isinstance(value, list) and len(value) in (2, 3) and type(value[0]) is int
                and isinstance(value[1], list)
                and all(type(p) is int and 0 <= p < value[0] for p in value[1])):
            positions = tuple(value[1])
            if len(value) == 2:
                return cls(value[0], positions)
            if (isinstance(value[2], list) and all(type(p) is int for p in value[2])
                    and set(value[2]) <= set(positions)):
                return cls(value[0], positions, frozenset(value[2]))
        return None


def open_positions(calls: Sequence[Any], known: OpenCalls | None = None) -> list[int]:
    """Where the open calls are; `known`: what was true of this same list when it held fewer
    calls (NotRead, domain.content_tree, only if an item it needs was not read)."""
    if known is None or known.count > len(calls):
        return [at for at, call in enumerate(calls) if call.get("result") is None]
    found = [at for at in known.positions if calls[at].get("result") is None]
    found.extend(at for at in range(known.count, len(calls))
                 if calls[at].get("result") is None)
    return found


def last_positions(calls: Sequence[Any], call_ids: Iterable[str]) -> list[int]:
    """Where the last call of each of these ids is (an id of no call: none), looking from the
    end: the calls a window's messages name are nearly always among the last."""
    wanted = set(call_ids)
    found: list[int] = []
    at = len(calls)
    while wanted and at:
        at -= 1
        call_id = calls[at].get("call_id")
        if call_id in wanted:
            wanted.discard(call_id)
            found.append(at)
    return found


def tail_window(state: dict[str, Any], tail: int, known_open: OpenCalls | None = None,
                last_of: dict[Any, int] | None = None) -> dict[str, Any]:
    """The state windowed to its last `tail` messages (see the module's rule).

    `known_open`: where the open calls were when the state's call list was shorter (OpenCalls);
    `last_of`: the last position of every call id (WindowIndex). Either only saves looking."""
    every, calls = state["messages"], state["tool_calls"]
    messages = every[max(len(every) - tail, 0):] if tail else []
    named: set[str] = set()
    for message in messages:
        named |= named_calls(message)
    picked = set(range(max(len(calls) - tail, 0), len(calls)))
    picked.update(open_positions(calls, known_open))
    if last_of is None:
        picked.update(last_positions(calls, named))
    else:
        picked.update(at for at in map(last_of.get, named) if at is not None)
    return _windowed(state, tail, messages, [calls[at] for at in sorted(picked)])


class WindowIndex:
    """What the window rule looks up in one growing state, kept up to date by its appends: the
    open calls and the last position of each call id, so a window of a held agent's state
    costs what it holds, whatever the ids its messages name (one never recorded as a call
    would otherwise walk every call).

    It relies on the fold (domain.state), as OpenCalls does. It knows the list it indexed:
    another list (a restore, another version), or a shorter one, is indexed afresh."""

    def __init__(self) -> None:
        self._calls: list[Any] | None = None
        self._open: OpenCalls | None = None
        self._last: dict[Any, int] = {}

    def window(self, state: dict[str, Any], tail: int) -> dict[str, Any]:
        """`tail_window(state, tail)`, found through the index."""
        calls: list[Any] = state["tool_calls"]
        if self._calls is not calls or self._open is None or self._open.count > len(calls):
            self._calls, self._open, self._last = calls, None, {}
        start = self._open.count if self._open is not None else 0
        for at in range(start, len(calls)):
            self._last[calls[at].get("call_id")] = at
        self._open = OpenCalls.of(calls, self._open)
        return tail_window(state, tail, self._open, self._last)


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
