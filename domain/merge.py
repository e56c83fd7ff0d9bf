"""Merging one agent's content into another's (DESIGN §3, `merge_strategy=merge`).

The target keeps what it has and gains what the source adds; on a conflict about the same
thing (a memory id, a tool call id, an MCP server) the source's version wins. Merging the same
source twice changes nothing the second time.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from domain.state import Content, canonical_json, content_of


def _key(value: Any) -> bytes:
    return canonical_json(value)


def _unite_lists(target: list[Any], source: list[Any]) -> list[Any]:
    """Target items, then source items it lacks; equal items are matched one for one."""
    have = Counter(_key(item) for item in target)
    out = list(target)
    for item in source:
        key = _key(item)
        if have[key] > 0:
            have[key] -= 1
        else:
            out.append(item)
    return out


def _merge_messages(target: list[dict[str, Any]], source: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    ids = {m["message_id"] for m in target if m.get("message_id") is not None}
    anonymous = Counter(_key(m) for m in target if m.get("message_id") is None)
    out = list(target)
    for message in source:
        message_id = message.get("message_id")
        if message_id is not None:
            if message_id in ids:
                continue
            ids.add(message_id)
            out.append(message)
            continue
        # Messages without an id are matched by equality, so a shared prefix is not doubled.
        key = _key(message)
        if anonymous[key] > 0:
            anonymous[key] -= 1
        else:
            out.append(message)
    return out


def _merge_tool_calls(target: list[dict[str, Any]], source: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
    out = list(target)
    equal = Counter(_key(c) for c in target)
    slots: dict[str, int] = {}
    for i, call in enumerate(target):
        slots.setdefault(call["call_id"], i)
    taken: set[int] = set()
    for call in source:
        key = _key(call)
        if equal[key] > 0:
            equal[key] -= 1
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
    - MCP servers: united by server name, the source's state winning.
    """
    t = copy.deepcopy(content_of(target))
    s = copy.deepcopy(content_of(source))
    reasoning: dict[str, list[Any]] = dict(t["reasoning"])
    for thread_id, steps in s["reasoning"].items():
        reasoning[thread_id] = _unite_lists(reasoning.get(thread_id, []), steps)
    return {
        "messages": _merge_messages(t["messages"], s["messages"]),
        "reasoning": reasoning,
        "tool_calls": _merge_tool_calls(t["tool_calls"], s["tool_calls"]),
        "memories": {**t["memories"], **s["memories"]},
        "memory_links": _unite_lists(t["memory_links"], s["memory_links"]),
        "mcp_servers": {**t["mcp_servers"], **s["mcp_servers"]},
    }
