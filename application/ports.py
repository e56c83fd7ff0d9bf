"""What the application needs from persistence beyond the eventsourcing recorder interface.

The side tables (event-id index, per-version timestamps, agent catalogue) are written by the
recorder in the same transaction as the events; these types describe them without naming a
database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ctxstore.application.package_port import PackageRow
from ctxstore.domain.agent_id import LOCAL_TENANT


class EventIndexRow(NamedTuple):
    """One recorded event as the side tables see it (a tuple: one is made per event)."""

    event_id: str
    originator_id: UUID
    version: int
    timestamp_us: int
    tenant: str = LOCAL_TENANT  # event ids are idempotency keys within their tenant only
    link: bytes = b""  # the event's link in its agent's hash chain (application.chain)


class AgentRow(NamedTuple):
    """An agent's catalogue entry after a write: its latest version and owner (a tuple: one
    is made per agent a batch writes, which from ingest is most of the agents it holds)."""

    agent_id: str
    originator_id: UUID
    version: int
    created_us: int
    updated_us: int
    tenant: str
    chain_head: bytes | None = None  # the link of `version` (application.chain)


@dataclass(frozen=True)
class AgentSummary:
    agent_id: str
    version: int
    created_us: int
    updated_us: int
    tenant: str


@dataclass(frozen=True)
class PointRows:
    """What reading an agent at a version needs, asked in one question: its latest snapshot at
    or before `upto` (None: none) with the chain's link at that snapshot's version (None:
    none stored), and its events in (`after`, `upto`], `after` being that snapshot's version
    (0 without one), in order."""

    upto: int
    snapshot: StoredEvent | None
    link: bytes | None
    after: int
    events: list[StoredEvent]

    @property
    def link_hex(self) -> str | None:
        """The link as a snapshot's `chain_head` holds it."""
        return self.link.hex() if self.link is not None else None


class ContextIndex(ABC):
    """Queries over the side tables that our recorders keep beside the events."""

    def point_rows(self, originator_id: UUID, upto: int) -> PointRows | None:
        """The rows of a read at version `upto` in one statement, where a statement is a round
        trip (PostgreSQL); None: the reader asks the snapshot, the link and the events
        apart."""
        return None

    @abstractmethod
    def known_event_ids(self, event_ids: Iterable[str], tenant: str = LOCAL_TENANT
                        ) -> dict[str, tuple[UUID, int]]:
        """Those of `event_ids` this tenant already recorded, with where they were recorded
        (another tenant's ids are not seen)."""

    @abstractmethod
    def version_at(self, originator_id: UUID, timestamp_us: int) -> int:
        """The last version recorded at or before the time (0 when none)."""

    @abstractmethod
    def timestamps(self, originator_id: UUID, versions: Sequence[int]) -> dict[int, int]:
        """Recorded timestamps of the given versions."""

    @abstractmethod
    def agents(self, tenant: str | None = None) -> list[AgentSummary]:
        """Every agent (of one tenant, when given) with its latest version; `agent_id` is the
        agent's key (domain.agent_id)."""

    @abstractmethod
    def agents_page(self, tenant: str, after: str | None, limit: int) -> list[AgentSummary]:
        """A page of the tenant's agents ordered by agent id as the tenant knows it (the key
        without its tenant: domain.agent_id.plain_agent_id; code-point order), the first
        `limit` of those after `after`: a keyset page, never the whole catalogue sorted."""

    @abstractmethod
    def agent(self, agent_id: str) -> AgentSummary | None:
        """One agent's catalogue entry by its key, or None when it has never been written."""

    @abstractmethod
    def heads(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """For each aggregate, its latest snapshot (if any) then the events after it, in order.

        What a writer needs to rebuild many agents at once: the recorders answer in one round
        trip, where the library's repository makes two queries an agent. Snapshots are read
        from the table the library names beside the events (``<name>_snapshots``).
        """

    def agents_of(self, agent_ids: Sequence[str]) -> dict[str, AgentSummary]:
        """The catalogue entries of those agents that have been written, by key (where a
        statement is a round trip, recorders ask once)."""
        found: dict[str, AgentSummary] = {}
        for agent_id in dict.fromkeys(agent_ids):
            summary = self.agent(agent_id)
            if summary is not None:
                found[agent_id] = summary
        return found

    def agents_with_point(self, agent_ids: Sequence[str], originator_id: UUID, upto: int
                          ) -> tuple[dict[str, AgentSummary], PointRows | None]:
        """`agents_of` and `point_rows` asked together: one round trip where statements
        pipeline (PostgreSQL), for a read or restore at a version that knows neither its
        agents' rows nor its point's yet. The point's None: the reader asks for them apart,
        as where statements are no round trips (SQLite)."""
        return self.agents_of(agent_ids), None

    def owners(self, agent_ids: Sequence[str]) -> dict[str, str]:
        """The tenant of each of those agents that has been written (recorders do one query)."""
        return {a: summary.tenant for a, summary in self.agents_of(agent_ids).items()}


class EventWriter(Protocol):
    """How the store commits: events and, in the same transaction, every side row they need.

    The recorders of infrastructure.persistence declare exactly these keywords; nothing else
    travels with the events.
    """

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        index_rows: Sequence[EventIndexRow] = (),
        agent_rows: Sequence[AgentRow] = (),
        package_rows: Sequence[PackageRow] = (),
        pruned_package_ids: Sequence[str] = (),
    ) -> Sequence[int] | None:
        """Insert all of it in one transaction; IntegrityError when a version is taken."""


class ChunkedEventWriter(Protocol):
    """A writer that takes a large batch in chunks as they are made, in one transaction.

    A batch's events are stored (compressed, linked) in the client while the database inserts
    the chunks already sent, where one statement waited for all of them: a writer over a
    network connection overlaps the two. The agent rows are asked for after the last chunk
    (they carry each agent's chain head, known only then).
    """

    def insert_chunks(
        self,
        chunks: Iterable[tuple[Sequence[StoredEvent], Sequence[EventIndexRow]]],
        agent_rows: Callable[[], Sequence[AgentRow]],
    ) -> None:
        """Insert every chunk and then the agent rows in one transaction; IntegrityError when
        a version is taken, and nothing is written."""
