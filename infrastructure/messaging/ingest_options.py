"""The ingest worker's tuning, its counters, and the progress line it logs."""

from __future__ import annotations

from dataclasses import dataclass

from ctxstore.application.commands import EventLimits
from ctxstore.domain.bounds import DEFAULT_MAX_CLOCK_SKEW_SECONDS


@dataclass
class IngestOptions:
    """Tuning of the worker; the defaults suit both a laptop and the benchmark."""

    max_event_bytes: int = 1024 * 1024
    max_clock_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS
    batch_size: int = 2000  # most messages recorded in one transaction
    fetch_size: int = 500  # most messages per pull request
    idle_wait: float = 2.0  # how long a pull request stays open on the server
    queue_batches: int = 8  # pulled batches waiting for the committer (back-pressure)
    retry_initial: float = 0.05
    retry_max: float = 5.0
    announce: bool = True
    progress_every: float = 30.0  # seconds between progress lines in the log (0: none)
    lease_seconds: float = 10.0  # a dead worker's partitions are free again after this
    stop_timeout: float = 30.0  # how long stopping waits for a batch still being retried
    lease_holder: str | None = None  # the same name takes back a dead predecessor's leases
    trim_every: float = 1.0  # seconds between purges of recorded messages from the stream

    @property
    def limits(self) -> EventLimits:
        return EventLimits(self.max_event_bytes, self.max_clock_skew_seconds)


@dataclass
class IngestStats:
    recorded: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    rewinds: int = 0  # consumers rewound after deliveries were lost on the wire
    last_error: str | None = None

    def summary(self) -> str:
        return (f"{self.recorded} recorded, {self.duplicates} duplicates, "
                f"{self.dead_lettered} dead-lettered, {self.batches} batches, "
                f"{self.retries} retries")


class ProgressReport:
    """The progress line of each interval: what the worker did in it, and its totals.

    None for an interval in which nothing happened, so an idle worker keeps the log quiet. The
    first interval counts from when the report is made, like every other one.
    """

    def __init__(self, stats: IngestStats, now: float):
        self.stats = stats
        self._last, self._last_time = self._counts(), now

    def _counts(self) -> tuple[int, int, int]:
        return self.stats.recorded, self.stats.dead_lettered, self.stats.retries

    def line(self, now: float) -> str | None:
        counts, last, span = self._counts(), self._last, max(now - self._last_time, 1e-9)
        self._last, self._last_time = counts, now
        if counts == last:
            return None
        done = counts[0] - last[0]
        return (f"ingest: {done} events in the last {span:.0f}s ({done / span:.0f}/s); "
                f"{self.stats.summary()}")
