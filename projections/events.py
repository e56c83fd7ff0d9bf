"""What a projection sees of one stored agent event: its kind, data, time and sizes.

The projection worker reads notifications (stored, compressed, maybe encrypted) and decodes them
with the application's mapper; the stored size comes from the notification itself, since the
domain event no longer knows it. Raw size is the canonical JSON of the event's data, so the
compression ratio compares like with like for every backend and cipher.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ctxstore.domain.aggregate import (
    CHECKPOINT_TAKEN,
    CHECKPOINTS_PRUNED,
    CONTEXT_RESTORED,
    AgentContext,
)
from ctxstore.domain.clock import to_us
from ctxstore.domain.state import canonical_json_of_content

__all__ = ["CHECKPOINTS_PRUNED", "CHECKPOINT_TAKEN", "CONTEXT_RESTORED", "ProjectedEvent",
           "message_text", "projected_event"]


@dataclass(frozen=True)
class ProjectedEvent:
    """One agent event as the read models fold it (wire type, or a store-made kind)."""

    agent_id: str
    version: int
    ts_us: int
    type: str
    data: dict[str, Any]
    raw_bytes: int
    stored_bytes: int


def projected_event(domain_event: Any, stored_bytes: int) -> ProjectedEvent | None:
    """The projection's view of a decoded agent event; None for anything else (snapshots)."""
    if not isinstance(domain_event, AgentContext.Event):
        return None
    type_, data = domain_event.described()
    return ProjectedEvent(
        agent_id=domain_event.agent_id,
        version=domain_event.originator_version,
        ts_us=to_us(domain_event.timestamp),
        type=type_,
        data=data,
        raw_bytes=len(canonical_json_of_content(data)),
        stored_bytes=stored_bytes,
    )


def message_text(content: Any) -> str:
    """The text of a message's content: the string, or its text parts joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_part_texts(content))
    return ""


def _part_texts(parts: list[Any]) -> Iterator[str]:
    for part in parts:
        if isinstance(part, dict):
            text = part.get("text")
            if isinstance(text, str) and text:
                yield text
        elif isinstance(part, str) and part:
            yield part


def estimated_tokens(data: dict[str, Any]) -> int:
    """A message's tokens: its `tokens` when given, else about one per four characters."""
    tokens = data.get("tokens")
    if isinstance(tokens, int):
        return tokens
    text = message_text(data.get("content"))
    return (len(text) + 3) // 4
