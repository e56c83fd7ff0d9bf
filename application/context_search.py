"""The seed's `search_contexts`: which checkpoints (context packages) a tenant may read match an
agent, keywords, a creation time and a message count.

Keywords must ALL match (the seed's query adds one `contains` condition per keyword), each
case-insensitively in the checkpoint's label, session or agent id, or anywhere in the text the
package holds (every string of its messages, reasoning, tool calls, memories and MCP state).
Metadata is tried first; a package's body is read (and verified against its integrity hash)
only for the keywords its metadata does not hold, and only once per package.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ctxstore.application.checkpoint_model import ACCESS_LEVELS, Checkpoint
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.errors import CheckpointNotFound, CorruptedCheckpoint, InvalidRequest
from ctxstore.domain.agent_id import LOCAL_TENANT, TENANT_SEPARATOR, plain_agent_id
from ctxstore.domain.state import CONTENT_FIELDS

MAX_KEYWORDS = 32
MAX_KEYWORD_LENGTH = 256


def check_keywords(keywords: Iterable[str], field: str = "keywords") -> tuple[str, ...]:
    """The keywords as searched (trimmed, casefolded, each once); InvalidRequest naming the
    offending one when empty or too long, or when there are too many."""
    out: list[str] = []
    for n, keyword in enumerate(keywords):
        text = keyword.strip() if isinstance(keyword, str) else ""
        if not text:
            raise InvalidRequest(f"{field}.{n}: a keyword must not be empty")
        if len(text) > MAX_KEYWORD_LENGTH:
            raise InvalidRequest(f"{field}.{n}: at most {MAX_KEYWORD_LENGTH} characters")
        folded = text.casefold()
        if folded not in out:
            out.append(folded)
    if len(out) > MAX_KEYWORDS:
        raise InvalidRequest(f"{field}: at most {MAX_KEYWORDS} keywords")
    return tuple(out)


def split_keywords(values: Iterable[str]) -> list[str]:
    """Repeated and comma-separated forms alike (`keywords=a&keywords=b`, `keywords=a,b`); an
    empty part stays, for check_keywords to refuse by its index."""
    return [part for value in values for part in value.split(",")]


@dataclass(frozen=True)
class ContextSearchQuery:
    """The seed's ContextSearchQuery, plus our catalogue filters (`text`: one substring of the
    label, agent, id or session; `access_level`). `agent_id` is the store's key."""

    agent_id: str | None = None
    keywords: tuple[str, ...] = ()
    created_after: datetime | None = None
    min_message_count: int | None = None
    text: str | None = None
    access_level: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", check_keywords(self.keywords))
        if self.min_message_count is not None and self.min_message_count < 0:
            raise InvalidRequest("min_message_count: must be 0 or more")
        if self.access_level is not None and self.access_level not in ACCESS_LEVELS:
            raise InvalidRequest(f"access_level: {self.access_level!r} is not one of "
                                 + ", ".join(ACCESS_LEVELS))
        after = self.created_after
        if after is not None and after.tzinfo is None:
            object.__setattr__(self, "created_after", after.replace(tzinfo=UTC))

    def admits(self, checkpoint: Checkpoint) -> bool:
        """The metadata filters (everything but the keywords)."""
        if self.created_after is not None and checkpoint.created_at <= self.created_after:
            return False
        if (self.min_message_count is not None
                and checkpoint.message_count < self.min_message_count):
            return False
        if self.access_level is not None and checkpoint.access_level != self.access_level:
            return False
        if self.text:
            needle = self.text.lower()
            return any(needle in (value or "").lower() for value in (
                checkpoint.label, plain_agent_id(checkpoint.agent_id), checkpoint.package_id,
                checkpoint.session_id))
        return True


def metadata_text(checkpoint: Checkpoint) -> str:
    """What keywords are matched against before the package's body is read."""
    return "\n".join(value for value in (checkpoint.label, checkpoint.session_id,
                                         plain_agent_id(checkpoint.agent_id)) if value)


def strings(value: Any) -> Iterator[str]:
    """Every string value inside plain JSON (not the keys: `role`, `content` are everywhere)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def package_text(state: dict[str, Any]) -> str:
    """The text a package holds, casefolded: every string of its content fields."""
    return "\n".join(strings([state.get(name) for name in CONTENT_FIELDS])).casefold()


class ContextSearch:
    """`search_contexts` over the checkpoints a tenant may read."""

    def __init__(self, checkpoints: CheckpointService):
        self.checkpoints = checkpoints

    def search_contexts(self, query: ContextSearchQuery, tenant: str) -> list[Checkpoint]:
        """Every match (as the store keeps it: agents by key), newest first."""
        found = [checkpoint for _, checkpoint in self.checkpoints.readable(tenant, query.agent_id)
                 if query.admits(checkpoint) and self.has_keywords(checkpoint, query.keywords,
                                                                   tenant)]
        found.sort(key=lambda c: (c.created_at, c.package_id), reverse=True)
        return found

    def has_keywords(self, checkpoint: Checkpoint, keywords: Sequence[str], tenant: str) -> bool:
        """Whether every keyword is in the metadata or the package's text (a checkpoint whose
        body is gone, pruned since it was listed, has only its metadata)."""
        meta = metadata_text(checkpoint).casefold()
        missing = [k for k in keywords if k not in meta]
        if not missing:
            return True
        try:
            _, state = self.checkpoints.load(checkpoint.package_id, tenant)
        except (CheckpointNotFound, CorruptedCheckpoint):
            # gone since it was listed, or damaged: its metadata is all there is to match (a
            # damaged package must not fail the tenant's every search; restoring it says why)
            return False
        text = package_text(state)
        return all(k in text for k in missing)

    def with_keywords(self, checkpoints: Iterable[Checkpoint], keywords: Iterable[str]
                      ) -> list[Checkpoint]:
        """Those of any tenant's checkpoints (as the operator's CLI lists them) holding every
        keyword; each is read as its owner, the tenant its agent key names."""
        wanted = check_keywords(keywords)
        return [c for c in checkpoints
                if self.has_keywords(c, wanted, owner_tenant(c.agent_id))]


def owner_tenant(agent_key: str) -> str:
    """The tenant whose namespace an agent key is in (domain.agent_id)."""
    tenant, _, _ = agent_key.rpartition(TENANT_SEPARATOR)
    return tenant or LOCAL_TENANT
