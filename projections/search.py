"""Full-text search over what agents saw: messages and memories, by version and time.

Each indexed text keeps the agent version that brought it, so "when did this agent first see X"
is the lowest matching version. A restore indexes the restored messages and memories at the
restore's version: from then on the target agent holds them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from projections.events import CONTEXT_RESTORED, ProjectedEvent, from_us, message_text

MAX_INDEXED_CHARS = 100_000  # a tsvector holds at most 1 MB; longer texts are cut for indexing
_TERMS = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class SearchDoc:
    """One indexed text: a message or a memory's content at a version."""

    agent_id: str
    version: int
    seq: int  # position among the texts of the same event
    ts_us: int
    source: str  # message, memory
    ref: str  # message_id or memory_id ("" when the message has none)
    label: str  # the message role, or the memory kind
    body: str


@dataclass(frozen=True)
class SearchHit:
    agent_id: str
    version: int
    ts_us: int
    source: str
    ref: str
    label: str
    snippet: str

    def as_dict(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "version": self.version,
                "at": from_us(self.ts_us).isoformat(), "source": self.source, "ref": self.ref,
                "label": self.label, "snippet": self.snippet}


@dataclass(frozen=True)
class SearchQuery:
    """Words and "quoted phrases", all of which must occur; `first_only`: one hit per agent."""

    terms: tuple[str, ...]
    agent_id: str | None = None
    first_only: bool = True
    limit: int = 50

    @classmethod
    def parse(cls, text: str, *, agent_id: str | None = None, first_only: bool = True,
              limit: int = 50) -> SearchQuery:
        terms = tuple(
            t for t in (" ".join(_words(m.group(1) if m.group(1) is not None else m.group(2)))
                        for m in _TERMS.finditer(text)) if t
        )
        if not terms:
            raise ValueError("query: give at least one word to search for")
        if limit < 1:
            raise ValueError("limit: must be at least 1")
        return cls(terms=terms, agent_id=agent_id, first_only=first_only, limit=limit)


def _words(text: str) -> list[str]:
    """Letters and digits only: quotes and operators never reach either SQL dialect."""
    return re.findall(r"\w+", text)


def docs_for(event: ProjectedEvent, memory_kinds: dict[str, str]) -> list[SearchDoc]:
    """The texts one event adds to the index (`memory_kinds` as it was before the event)."""
    data = event.data

    def doc(seq: int, source: str, ref: str, label: str, body: str) -> SearchDoc:
        # PostgreSQL text holds no NUL: drop them on every backend alike.
        return SearchDoc(event.agent_id, event.version, seq, event.ts_us, source, ref, label,
                         body[:MAX_INDEXED_CHARS].replace("\x00", ""))

    if event.type == "message":
        text = message_text(data.get("content"))
        return [doc(0, "message", data.get("message_id", ""), data["role"], text)] if text else []
    if event.type == "memory_stored" and data["content"]:
        return [doc(0, "memory", data["memory_id"], data["kind"], data["content"])]
    if event.type == "memory_updated" and data.get("content"):
        kind = memory_kinds.get(data["memory_id"], "")
        return [doc(0, "memory", data["memory_id"], kind, data["content"])]
    if event.type == CONTEXT_RESTORED:
        content = data["content"]
        docs: list[SearchDoc] = []
        for message in content.get("messages", []):
            text = message_text(message.get("content"))
            if text:
                docs.append(doc(len(docs), "message", message.get("message_id", ""),
                                message.get("role", ""), text))
        for memory_id, memory in sorted(content.get("memories", {}).items()):
            if memory.get("content"):
                docs.append(doc(len(docs), "memory", memory_id, memory.get("kind", ""),
                                memory["content"]))
        return docs
    return []
