"""Merging one agent's content into another's (DESIGN §3, `merge_strategy=merge`).

The target keeps what it has and gains what the source adds; on a conflict about the same
thing (a memory id, a tool call id, an MCP server) the source's version wins. Merging the same
source twice changes nothing the second time.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ctxstore.domain.state import CHANNELS, Content, canonical_json_of_content, content_of


class EqualMatch:
    """Matches items against a multiset of others by canonical equality, each other item at
    most once (so two equal items need two equal others)."""

    def __init__(self, others: Iterable[Any]):
        self._left = Counter(canonical_json_of_content(o) for o in others)

    def take(self, item: Any) -> bool:
        """Whether an unmatched equal item is left among the others (it is then used up)."""
        key = canonical_json_of_content(item)
        if self._left[key] > 0:
            self._left[key] -= 1
            return True
        return False


def unmatched(items: list[Any], others: list[Any]) -> list[Any]:
    """Items of `items` not matched one for one by an equal item of `others`, in order."""
    match = EqualMatch(others)
    return [item for item in items if not match.take(item)]


def _unite_lists(target: list[Any], source: list[Any]) -> list[Any]:
    """Target items, then source items it lacks; equal items are matched one for one."""
    return target + unmatched(source, target)


def _merge_messages(target: list[dict[str, Any]], source: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    ids = {m["message_id"] for m in target if m.get("message_id") is not None}
    # Messages without an id are matched by equality, so a shared prefix is not doubled.
    anonymous = EqualMatch(m for m in target if m.get("message_id") is None)
    out = list(target)
    for message in source:
        message_id = message.get("message_id")
        if message_id is None:
            if not anonymous.take(message):
                out.append(message)
        elif message_id not in ids:
            ids.add(message_id)
            out.append(message)
    return out


def _merge_tool_calls(target: list[dict[str, Any]], source: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
    out = list(target)
    equal = EqualMatch(target)
    slots: dict[str, int] = {}
    for i, call in enumerate(target):
        slots.setdefault(call["call_id"], i)
    taken: set[int] = set()
    for call in source:
        if equal.take(call):
            continue
        slot = slots.get(call["call_id"])
        if slot is not None and slot not in taken:
            out[slot] = call  # same call id: the source's version (e.g. with its result) wins
            taken.add(slot)
        else:
            out.append(call)
    return out


def merge_content(target: Content, source: Content) -> Content:
    """The content `target` has after merging `source` into it (inputs are not changed).

    - messages: the target's, then the source's in order, skipping a message whose
      `message_id` the target already has (messages without an id: skipping equal ones);
    - reasoning: threads united, a common thread gains the source's steps it lacks;
    - memories: united by memory id, the source's version winning on conflict;
    - memory links: united; tool calls: united by `call_id`, the source winning;
    - MCP servers and channels: united by name, the source's value winning.
    """
    t = copy.deepcopy(content_of(target))
    s = copy.deepcopy(content_of(source))
    reasoning: dict[str, list[Any]] = dict(t["reasoning"])
    for thread_id, steps in s["reasoning"].items():
        reasoning[thread_id] = _unite_lists(reasoning.get(thread_id, []), steps)
    merged: Content = {
        "messages": _merge_messages(t["messages"], s["messages"]),
        "reasoning": reasoning,
        "tool_calls": _merge_tool_calls(t["tool_calls"], s["tool_calls"]),
        "memories": {**t["memories"], **s["memories"]},
        "memory_links": _unite_lists(t["memory_links"], s["memory_links"]),
        "mcp_servers": {**t["mcp_servers"], **s["mcp_servers"]},
    }
    channels = {**t.get(CHANNELS, {}), **s.get(CHANNELS, {})}
    if channels:
        merged[CHANNELS] = channels
    return merged
