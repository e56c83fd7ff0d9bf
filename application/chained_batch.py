"""One commit's stored events, index rows and hash-chain links, made as the batch goes.

A snapshot taken in the middle of a batch commits to the chain's link at its version
(domain.aggregate.AgentSnapshot.chain_head), but it is serialised at once, while the agent
keeps changing. So an agent's events recorded so far are stored and linked when a snapshot of
it asks for its link, and the rest at the commit: each event is stored and linked once, and
the link before an agent's first new event is still read for the whole batch in one query,
except for an agent snapshotted mid-batch whose last link this process does not remember.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ctxstore.application.chain import EventChain
from ctxstore.application.ports import EventIndexRow
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.clock import to_us

LinksBefore = Callable[[list[tuple[UUID, int]]], dict[UUID, bytes]]


@dataclass
class _Chained:
    last: bytes  # the link of the last event stored (or the one before the first)
    size: int = 0  # the stored bytes of the events stored
    stored: list[StoredEvent] = field(default_factory=list)
    index_rows: list[EventIndexRow] = field(default_factory=list)


class Finished(NamedTuple):
    stored: list[StoredEvent]
    index_rows: list[EventIndexRow]
    heads: dict[UUID, tuple[int, bytes]]  # each agent's new version and the link there
    sizes: dict[UUID, int]  # the stored bytes of each agent's new events


class ChainedBatch:
    def __init__(self, to_stored: Callable[[Any], StoredEvent], chain: EventChain,
                 links_before: LinksBefore, owners: dict[str, str]):
        self._to_stored = to_stored
        self._link = chain.link
        self._links_before = links_before
        self.owners = owners  # agent key -> tenant, filled in as agents join the batch
        self._agents: dict[UUID, _Chained] = {}
        self.heads: dict[UUID, tuple[int, bytes]] = {}  # each agent's new version, its link
        self.sizes: dict[UUID, int] = {}  # the stored bytes of each agent's new events

    def link_now(self, agent: AgentContext) -> bytes:
        """The chain's link at the agent's current version, its pending events stored and
        linked up to it."""
        events = agent.pending_events
        chained = self._agents.get(agent.id)
        if chained is None:
            if not events:
                return self._links_before([(agent.id, agent.version + 1)])[agent.id]
            first = events[0].originator_version
            chained = self._agents[agent.id] = _Chained(
                self._links_before([(agent.id, first)])[agent.id])
        self._add(agent, chained, events[len(chained.stored):])
        return chained.last

    def finish(self, batches: Sequence[tuple[AgentContext, Sequence[Any]]]) -> Finished:
        """Every agent's events (collected, in order) stored and linked, agent after agent so
        the index rows line up with the stored events."""
        stored: list[StoredEvent] = []
        index_rows: list[EventIndexRow] = []
        for events, rows in self.chunks(batches):
            stored += events
            index_rows += rows
        return Finished(stored, index_rows, self.heads, self.sizes)

    def chunks(self, batches: Sequence[tuple[AgentContext, Sequence[Any]]],
               size: int | None = None) -> Iterator[tuple[list[StoredEvent], list[EventIndexRow]]]:
        """`finish`'s events and index rows in chunks of `size` events or more (the last: what
        is left; None: one chunk), each made when asked for: a writer sends one while the next
        is made. `heads` and `sizes` are complete once the last is taken. The links before the
        batch are read now (a query for those this process does not remember), not when the
        first chunk is asked for, by when the writer's transaction may be open."""
        previous = self._links_before([(a.id, events[0].originator_version)
                                       for a, events in batches if a.id not in self._agents])
        return self._chunks(batches, previous, size or sys.maxsize, whole=size is None)

    def _chunks(self, batches: Sequence[tuple[AgentContext, Sequence[Any]]],
                previous: dict[UUID, bytes], step: int, whole: bool
                ) -> Iterator[tuple[list[StoredEvent], list[EventIndexRow]]]:
        stored: list[StoredEvent] = []
        index_rows: list[EventIndexRow] = []
        for agent, events in batches:
            chained = self._agents.get(agent.id)
            if chained is None:
                chained = self._agents[agent.id] = _Chained(previous[agent.id])
            taken = 0  # the agent's stored events in a chunk so far (link_now stored some)
            new = events[len(chained.stored):]
            for start in range(0, len(new) or 1, step):
                self._add(agent, chained, new[start:start + step])
                stored += chained.stored[taken:]
                index_rows += chained.index_rows[taken:]
                taken = len(chained.stored)
                if len(stored) >= step:
                    yield stored, index_rows
                    stored, index_rows = [], []
            self.heads[agent.id] = (agent.version, chained.last)
            self.sizes[agent.id] = chained.size
        if stored or whole:
            yield stored, index_rows

    def _add(self, agent: AgentContext, chained: _Chained, events: Sequence[Any]) -> None:
        to_stored, link = self._to_stored, self._link
        originator_id, owner = agent.id, self.owners[agent.agent_id]
        last, size = chained.last, chained.size
        for event in events:
            s = to_stored(event)
            version = s.originator_version
            size += len(s.state)
            last = link(last, originator_id, version, s.topic, s.state)
            chained.stored.append(s)
            chained.index_rows.append(EventIndexRow(cast(Any, event).event_id, originator_id,
                                                    version, to_us(event.timestamp), owner,
                                                    last))
        chained.last, chained.size = last, size
