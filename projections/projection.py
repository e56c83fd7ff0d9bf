"""The context projection: folds batches of agent events into every view, exactly once.

It is an eventsourcing `Projection` whose view is a `ContextViews` tracking recorder. It takes
a whole batch of notifications at a time (not one event per transaction): at thousands of events
a second, one commit per event could not keep up. The batch's tracking record is that of its
last notification, written in the same transaction as the rows, and only if the views still
stand where the batch was folded (compare-and-set): a second worker running beside this one
can then never apply an event twice, even with a cache of agent state from an older position.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from ctxstore.projections.catalogue import entry_for, pruned_by
from ctxstore.projections.events import ProjectedEvent, projected_event
from ctxstore.projections.evolution import AgentTrack
from ctxstore.projections.search import docs_for
from ctxstore.projections.views import ContextViews, ViewChanges

MAX_CACHED_AGENTS = 10_000


@dataclass(frozen=True)
class EventBatch:
    """Decoded notifications in order: (domain event, stored bytes) pairs."""

    items: Sequence[tuple[Any, int]]


@dataclass(frozen=True)
class PreparedBatch:
    """A batch's changes, ready to commit where the views stand at `previous`."""

    changes: ViewChanges
    tracking: Tracking
    previous: int | None  # the views' position this batch was folded on (None: empty views)
    agents: frozenset[str]


class ContextProjection(Projection[ContextViews]):
    name = "ctxstore_projections"

    def __init__(self, view: ContextViews):
        super().__init__(view)
        # Per-agent state as of the batches prepared so far; dropped whenever a commit fails.
        self._tracks: OrderedDict[str, AgentTrack] = OrderedDict()
        self._prepared: deque[PreparedBatch] = deque()  # not yet committed, oldest first
        self._position = view.position()  # where the views stand, as far as the cache knows

    @property
    def position(self) -> int | None:
        return self._position

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply an `EventBatch` (or one decoded event of unknown stored size) and track it."""
        batch = self.prepare(domain_event, tracking)
        try:
            self.view.commit(batch.changes, batch.tracking, batch.previous)
        except BaseException:
            self.forget()
            raise
        self.committed()

    def prepare(self, domain_event: Any, tracking: Tracking) -> PreparedBatch:
        """A batch's changes, folded as if every batch prepared before it had committed.

        A worker may prepare the next batch while the previous one commits; it then calls
        `committed()` after each successful commit, in order, and `forget()` after a failure
        (which voids every batch prepared since).
        """
        batch = domain_event if isinstance(domain_event, EventBatch) else EventBatch(
            [(domain_event, 0)])
        events = [p for p in (projected_event(e, size) for e, size in batch.items) if p]
        previous = (self._prepared[-1].tracking.notification_id if self._prepared
                    else self._position)
        changes = self.changes(events)
        prepared = PreparedBatch(changes, tracking, previous, frozenset(changes.evolution.agents))
        self._prepared.append(prepared)
        return prepared

    def committed(self) -> None:
        """The oldest prepared batch is in the views: its agents may leave the cache again."""
        self._position = self._prepared.popleft().tracking.notification_id
        if len(self._tracks) <= MAX_CACHED_AGENTS:
            return
        busy = frozenset().union(*(p.agents for p in self._prepared))
        for agent_id in [a for a in self._tracks if a not in busy]:  # least recent first
            if len(self._tracks) <= MAX_CACHED_AGENTS:
                break
            del self._tracks[agent_id]

    def changes(self, events: Sequence[ProjectedEvent]) -> ViewChanges:
        """What the events change in the views; updates the cached agent state in place."""
        changes = ViewChanges()
        blind = self.view.blind
        missing = {e.agent_id for e in events} - self._tracks.keys()
        if missing:
            loaded = self.view.load_tracks(missing)
            for agent_id in missing:
                self._tracks[agent_id] = loaded.get(agent_id) or AgentTrack(agent_id)
        for event in events:
            track = self._tracks[event.agent_id]
            self._tracks.move_to_end(event.agent_id)
            if event.version <= track.version:
                continue  # already in the views (e.g. a batch re-read after a restart)
            docs = docs_for(event, track.memory_kinds)
            if blind is not None:
                docs = [blind.doc(d) for d in docs]
            changes.search.extend(docs)
            entry = entry_for(event)
            if entry is not None:
                changes.checkpoints.append(entry)
            for package_id in pruned_by(event):
                changes.pruned[package_id] = event.ts_us
            changes.evolution.apply(event, track)
        changes.evolution.finish()
        return changes

    def forget(self) -> None:
        """Drop cached state and prepared batches, and learn where the views stand now (after a
        failed commit, or a rebuild)."""
        self._tracks.clear()
        self._prepared.clear()
        self._position = self.view.position()
