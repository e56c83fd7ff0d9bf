"""What the hash chain needs from persistence: links by version, and an agent's rows to walk.

The recorders keep each event's link in its per-version index row and the agent's last link in
its catalogue row (application.chain); these reads serve the writer (the link before a batch,
when it is not remembered) and `ctxstore verify`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from uuid import UUID

from ctxstore.application.chain import ChainRow


@dataclass(frozen=True)
class ChainHead:
    """An agent's catalogue entry as the chain sees it."""

    agent_id: str  # its key (domain.agent_id)
    originator_id: UUID
    version: int
    link: bytes | None  # None: a store made before chains, not migrated


class ChainIndex(ABC):
    @abstractmethod
    def chain_links(self, wanted: Mapping[UUID, int]) -> dict[UUID, bytes]:
        """The link stored at the given version of each aggregate (those that have one)."""

    @abstractmethod
    def chain_heads(self, agent_ids: list[str] | None = None) -> list[ChainHead]:
        """The catalogue's heads of those agents (None: every agent), by agent id."""

    @abstractmethod
    def chain_rows(self, originator_id: UUID) -> Iterator[ChainRow]:
        """Every version of an aggregate that has an event row or an index row, in order."""
