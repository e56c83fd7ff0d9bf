"""When to snapshot an agent: every N events, until snapshots get large next to what changed.

A full snapshot every N events of an agent whose context keeps growing costs storage and write
time quadratic in its history (100k events of real traces: ~1,000 snapshots of ~3.5 MB each).
So once an agent has a snapshot, the next one waits until at least N events *and* enough
new event bytes (`growth` × the last snapshot's size) have accumulated. Snapshot bytes then
grow geometrically (linear in total), and a read costs one snapshot plus replayed events worth
at most about `growth` of that snapshot — the price of the snapshot read itself bounds it.
Small contexts (the common case) still get a snapshot at exactly every N events.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from uuid import UUID

from ctxstore.application.lru_map import LruMap


@dataclass(frozen=True)
class SnapshotMark:
    version: int
    size: int  # stored bytes of the snapshot


class SnapshotPolicy:
    """Decides snapshot versions; remembers (per process) each agent's last snapshot."""

    def __init__(self, interval: int = 100, growth: float = 0.25, *, max_marks: int = 10_000):
        if interval < 1:
            raise ValueError("snapshot interval must be at least 1")
        self.interval = interval
        self.growth = growth
        # The most recently snapshotted agents' marks; a forgotten one snapshots by the plain
        # interval rule, as in a new process.
        self._marks: LruMap[UUID, SnapshotMark] = LruMap(max_marks)
        self._event_bytes = 0
        self._events = 0

    @property
    def mean_event_bytes(self) -> float:
        return self._event_bytes / self._events if self._events else 0.0

    def due(self, originator_id: UUID, version: int,
            pending: dict[UUID, SnapshotMark] | None = None) -> bool:
        """Whether to snapshot at `version`; `pending` holds snapshots taken but not yet
        stored (earlier in the same batch), which count as the last ones."""
        mark = (pending or {}).get(originator_id) or self._marks.get(originator_id)
        if mark is None or version <= mark.version or not self._events:
            # Nothing known yet here (new process): the plain interval rule.
            return version % self.interval == 0
        since = version - mark.version
        if since < self.interval:
            return False
        return since * self.mean_event_bytes >= self.growth * mark.size

    def first_due(self, originator_id: UUID, version: int,
                  pending: dict[UUID, SnapshotMark] | None = None) -> int:
        """The first version from `version` on at which `due` holds, while the marks and the
        mean stay as they are: within one batch, whose commit calls `recorded` and `taken`
        (a snapshot taken in it changes `pending`: ask again). A writer then compares a
        version with it, where asking `due` at every event cost a twentieth of the write."""
        mark = (pending or {}).get(originator_id) or self._marks.get(originator_id)
        interval = self.interval
        next_multiple = -(-version // interval) * interval
        if mark is None or not self._events:
            return next_multiple
        if version <= mark.version and next_multiple <= mark.version:
            return next_multiple
        # Past the mark, due ⇔ since ≥ interval and since × mean ≥ growth × size: the
        # least such `since`, found with due's own arithmetic.
        mean = self.mean_event_bytes
        need = self.growth * mark.size
        since = interval
        if since * mean < need:
            if mean <= 0:
                return sys.maxsize  # never: events of no bytes never add up to a snapshot
            since = max(interval, math.ceil(need / mean))
            while since * mean < need:
                since += 1
            while since > interval and (since - 1) * mean >= need:
                since -= 1
        return max(version, mark.version + since)

    def taken(self, originator_id: UUID, version: int, size: int) -> None:
        """Call once the snapshot is stored."""
        self._marks[originator_id] = SnapshotMark(version, size)

    def recorded(self, events: int, stored_bytes: int) -> None:
        """Call after each commit, to keep the mean stored size of an event."""
        self._events += events
        self._event_bytes += stored_bytes
