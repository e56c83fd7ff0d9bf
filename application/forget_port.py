"""What forgetting an agent needs from persistence: erase its rows in one transaction, keep a
tombstone, and recognise its event ids afterwards without keeping them.

The recorders of infrastructure.persistence implement it beside their side tables. A tombstone
holds the agent's key, who forgot it and when: nothing of its content. The event ids of a
forgotten agent are kept only as digests (EventIdDigest), so a redelivered
event is recognised while the id itself (which a caller may have made from content) is gone.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from uuid import UUID

from ctxstore.application.errors import AgentForgotten
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.clock import from_us


@dataclass(frozen=True)
class Tombstone:
    """An agent that was forgotten: its key, by whom, when (microseconds since the epoch)."""

    agent_key: str
    tenant: str
    forgotten_us: int
    forgotten_by: str

    def error(self) -> AgentForgotten:
        """What a door answers for this agent (HTTP 410)."""
        return AgentForgotten(plain_agent_id(self.agent_key),
                              from_us(self.forgotten_us).isoformat(), self.forgotten_by)


class EventIdDigest:
    """The digest an event id is kept as once its agent is forgotten: HMAC-SHA-256 under the
    integrity key, plain SHA-256 without one (then it only hides ids from a casual reader)."""

    def __init__(self, key: bytes | None):
        self.key = key

    def __call__(self, tenant: str, event_id: str) -> bytes:
        message = f"{tenant}\x00{event_id}".encode()
        if self.key is None:
            return hashlib.sha256(message).digest()
        return hmac.digest(self.key, message, "sha256")


@dataclass(frozen=True)
class Forgotten:
    """What a write of agents new to the catalogue must refuse: the tombstones of those of
    them that were forgotten, and whether the tenant has forgotten any event id at all (when
    not, the write's event ids need no digest: nearly every tenant, nearly every batch)."""

    tombstones: dict[str, Tombstone]
    event_ids: bool


@dataclass(frozen=True)
class ErasePlan:
    """One agent to erase: the tombstone to write, its aggregate id, and how its event ids
    are digested before they are kept."""

    tombstone: Tombstone
    originator_id: UUID
    digest: Callable[[str], bytes]


@dataclass(frozen=True)
class Erased:
    """What one erasure removed (counts), and the part addresses its package rows referred
    to: the part store releases those no other row still refers to, after the commit."""

    events: int = 0
    snapshots: int = 0
    checkpoints: int = 0
    event_ids: int = 0
    view_rows: int = 0
    schedules: int = 0
    parts: frozenset[str] = field(default_factory=frozenset)


class AgentEraser(ABC):
    @abstractmethod
    def erase_agent(self, plan: ErasePlan) -> Erased:
        """Delete every row of the agent (events, snapshots, event-id and time indexes, agent
        catalogue and chain head, packages and their part references, schedules, operation
        log and the projections' rows) and write its tombstone and event-id digests, in one
        transaction."""

    @abstractmethod
    def tombstones(self, tenant: str, agent_keys: Collection[str]) -> dict[str, Tombstone]:
        """The tombstones of those of the tenant's agents that were forgotten."""

    @abstractmethod
    def forgotten(self, tenant: str, agent_keys: Collection[str]) -> Forgotten:
        """The tombstones among the tenant's agents, and whether it keeps any forgotten event
        id, asked together (PostgreSQL: one statement)."""

    @abstractmethod
    def forgotten_event_ids(self, tenant: str, digests: Collection[bytes]) -> set[bytes]:
        """Those of the digests that are of a forgotten agent's events (of this tenant)."""

    @abstractmethod
    def reclaim(self) -> None:
        """After an erasure: make the database give up the deleted bytes (SQLite's free pages
        and WAL, PostgreSQL's dead tuples)."""
