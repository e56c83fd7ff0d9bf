"""The context projection: folds batches of agent events into every view, exactly once.

It is an eventsourcing `Projection` whose view is a `ContextViews` tracking recorder. It takes
a whole batch of notifications at a time (not one event per transaction): at thousands of events
a second, one commit per event could not keep up. The batch's tracking record is that of its
last notification, written in the same transaction as the rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.catalogue import entry_for, pruned_by
from projections.events import ProjectedEvent, projected_event
from projections.evolution import AgentTrack
from projections.search import docs_for
from projections.views import ContextViews, ViewChanges

MAX_CACHED_AGENTS = 10_000


@dataclass(frozen=True)
class EventBatch:
    """Decoded notifications in order: (domain event, stored bytes) pairs."""

    items: Sequence[tuple[Any, int]]


class ContextProjection(Projection[ContextViews]):
    name = "ctxstore_projections"

    def __init__(self, view: ContextViews):
        super().__init__(view)
        # Per-agent state as committed in the views; dropped whenever a commit fails.
        self._tracks: OrderedDict[str, AgentTrack] = OrderedDict()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply an `EventBatch` (or one decoded event of unknown stored size) and track it."""
        batch = domain_event if isinstance(domain_event, EventBatch) else EventBatch(
            [(domain_event, 0)])
        events = [p for p in (projected_event(e, size) for e, size in batch.items) if p]
        try:
            self.view.commit(self.changes(events), tracking)
        except BaseException:
            self.forget()
            raise
        while len(self._tracks) > MAX_CACHED_AGENTS:
            self._tracks.popitem(last=False)

    def changes(self, events: Sequence[ProjectedEvent]) -> ViewChanges:
        """What the events change in the views; updates the cached agent state in place."""
        changes = ViewChanges()
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
            changes.search.extend(docs_for(event, track.memory_kinds))
            entry = entry_for(event)
            if entry is not None:
                changes.checkpoints.append(entry)
            for package_id in pruned_by(event):
                changes.pruned[package_id] = event.ts_us
            changes.evolution.apply(event, track)
        changes.evolution.finish()
        return changes

    def forget(self) -> None:
        """Drop cached agent state (after a failed commit or a rebuild)."""
        self._tracks.clear()
