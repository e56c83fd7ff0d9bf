"""Full-text search over what agents saw: messages and memories, by version and time.

Each indexed text keeps the agent version that brought it, so "when did this agent first see X"
is the lowest matching version. A restore indexes the restored messages and memories at the
restore's version: from then on the target agent holds them too.

When the store encrypts (nothing in plain text at rest, DESIGN §4) the index is blind: each word
is replaced by a keyed hash (HMAC-SHA256 with a key derived from the store's key), in order, so
words and phrases are still found while the index holds no text; snippets are then cut from the
decrypted event at read time (`with_snippets`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ctxstore.application.store import ContextStore, from_us
from ctxstore.domain.agent_id import LOCAL_TENANT, TENANT_SEPARATOR
from ctxstore.projections.events import CONTEXT_RESTORED, ProjectedEvent, message_text

if TYPE_CHECKING:
    from ctxstore.projections.views import ContextViews

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
    seq: int
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
    """Words and "quoted phrases", all of which must occur; `first_only`: one hit per agent;
    `tenant`: only that tenant's agents (None: every agent, as the local CLI searches)."""

    terms: tuple[str, ...]
    agent_id: str | None = None
    first_only: bool = True
    limit: int = 50
    tenant: str | None = None

    @classmethod
    def parse(cls, text: str, *, agent_id: str | None = None, first_only: bool = True,
              limit: int = 50, tenant: str | None = None) -> SearchQuery:
        terms = tuple(
            t for t in (" ".join(_words(m.group(1) if m.group(1) is not None else m.group(2)))
                        for m in _TERMS.finditer(text)) if t
        )
        if not terms:
            raise ValueError("query: give at least one word to search for")
        if limit < 1:
            raise ValueError("limit: must be at least 1")
        return cls(terms=terms, agent_id=agent_id, first_only=first_only, limit=limit,
                   tenant=tenant)

    def tenant_condition(self, mark: str) -> tuple[str, list[Any]]:
        """The SQL condition (`substr` and `instr`/`strpos` read alike in both dialects'
        placeholders `mark`) keeping only the tenant's agent keys (domain.agent_id): the local
        tenant's have no separator, another's start with `<tenant>/`."""
        if self.tenant is None:
            return "", []
        if self.tenant == LOCAL_TENANT:
            return f" AND agent_id NOT LIKE {mark}", [f"%{TENANT_SEPARATOR}%"]
        prefix = self.tenant + TENANT_SEPARATOR
        return f" AND substr(agent_id, 1, {mark}) = {mark}", [len(prefix), prefix]

    def quoted(self) -> str:
        """Every term as a quoted string, so a phrase stays a phrase: the same text suits
        SQLite FTS5 MATCH and PostgreSQL websearch_to_tsquery (terms hold only \\w+ words)."""
        return " ".join(f'"{term}"' for term in self.terms)


def _words(text: str) -> list[str]:
    """Letters and digits only: quotes and operators never reach either SQL dialect."""
    return re.findall(r"\w+", text)


class BlindIndex:
    """Keyed word hashes: the same word always gives the same token, no token gives a word."""

    def __init__(self, store_key: bytes):
        self._key = hmac.new(store_key, b"ctxstore search index v1", hashlib.sha256).digest()

    def token(self, word: str) -> str:
        digest = hmac.new(self._key, word.casefold().encode(), hashlib.sha256).hexdigest()
        return "h" + digest[:20]

    def text(self, text: str) -> str:
        return " ".join(self.token(w) for w in _words(text))

    def doc(self, doc: SearchDoc) -> SearchDoc:
        return replace(doc, body=self.text(doc.body))

    def query(self, query: SearchQuery) -> SearchQuery:
        return replace(query, terms=tuple(self.text(t) for t in query.terms))


def snippet(text: str, terms: Sequence[str], width: int = 160) -> str:
    """The part of `text` around the first term found, terms in [brackets] (as the SQL
    snippets show them)."""
    flat = " ".join(text.split())
    words = sorted({w for t in terms for w in _words(t)}, key=len, reverse=True)
    if not words:
        return flat[:width]
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    found = pattern.search(flat)
    start = max(0, (found.start() if found else 0) - width // 3)
    part = flat[start:start + width]
    marked = pattern.sub(lambda m: f"[{m.group(0)}]", part)
    return ("…" if start else "") + marked + ("…" if start + width < len(flat) else "")


def with_snippets(store: ContextStore, hits: list[SearchHit], query: SearchQuery
                  ) -> list[SearchHit]:
    """Hits of a blind index with their snippets, cut from the (decrypted) events."""
    out = []
    for hit in hits:
        text = ""
        for item in store.iter_history(hit.agent_id, after_version=hit.version - 1,
                                       upto_version=hit.version):
            agent = store.agent_at(hit.agent_id, hit.version) if item.type == CONTEXT_RESTORED \
                else None
            data = ({"content": agent.content, "provenance": {}} if agent is not None
                    else item.data)
            event = ProjectedEvent(hit.agent_id, hit.version, hit.ts_us, item.type, data, 0, 0)
            docs = [d for d in docs_for(event, {}) if d.seq == hit.seq]
            text = docs[0].body if docs else ""
        out.append(replace(hit, snippet=snippet(text, query.terms)))
    return out


def search_text(views: ContextViews, store: ContextStore, query: SearchQuery
                ) -> list[SearchHit]:
    """The hits of a query with their snippets, on a plain or a blind (encrypted) index."""
    hits = views.search(query)
    if views.blind is not None:  # an encrypted store's index holds no text to cut from
        hits = with_snippets(store, hits, query)
    return hits


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
