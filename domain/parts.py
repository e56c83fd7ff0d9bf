"""The parts of an agent's content a checkpoint may hold (the seed's `include_*` flags).

A partial checkpoint holds its parts and has the others empty, so its content is still a whole
DESIGN §2 content and its integrity hash is the ordinary content hash of it. Restoring it
replaces only its parts of the target; checking it against history compares only its parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, cast, get_args

from ctxstore.domain.state import CHANNELS, Content, empty_content

Part = Literal["conversation", "memory", "mcp_state"]
# In this order everywhere (metadata, responses): the order of the seed's flags' content.
ALL_PARTS: tuple[Part, ...] = get_args(Part)
PART_FIELDS: dict[Part, tuple[str, ...]] = {
    "conversation": ("messages", "reasoning", "tool_calls"),
    "memory": ("memories", "memory_links"),
    "mcp_state": ("mcp_servers",),
}


# The optional `channels` field (a framework's graph state beside its messages) goes with the
# conversation.
CHANNELS_WITH = "messages"


def parts_of(names: Iterable[str]) -> tuple[Part, ...]:
    """The known parts among `names`, in their canonical order, each once; ValueError naming
    an unknown one (what a stored or imported checkpoint's metadata must hold)."""
    given = set(names)
    unknown = sorted(given - set(ALL_PARTS))
    if unknown:
        raise ValueError(f"unknown content part {unknown[0]!r}; parts are "
                         + ", ".join(ALL_PARTS))
    return tuple(cast(Part, p) for p in ALL_PARTS if p in given)


def fields_of(parts: Iterable[Part]) -> tuple[str, ...]:
    return tuple(f for p in parts for f in PART_FIELDS[p])


def is_whole(parts: Iterable[str]) -> bool:
    return set(parts) >= set(ALL_PARTS)


def only_parts(content: Content, parts: Iterable[Part]) -> Content:
    """The content fields of `content` with those outside `parts` empty (not copied: the
    kept values are `content`'s own)."""
    kept = set(fields_of(parts))
    empty = empty_content()
    out = {f: content[f] if f in kept else empty[f] for f in empty}
    if CHANNELS_WITH in kept and content.get(CHANNELS):
        out[CHANNELS] = content[CHANNELS]
    return out


def replace_parts(target: Content, source: Content, parts: Iterable[Part]) -> Content:
    """`target`'s content fields with `source`'s in place of those of `parts` (the rest of the
    target stays); not copied."""
    taken = set(fields_of(parts))
    out = {f: source[f] if f in taken else target[f] for f in empty_content()}
    channels = (source if CHANNELS_WITH in taken else target).get(CHANNELS)
    if channels:
        out[CHANNELS] = channels
    return out
