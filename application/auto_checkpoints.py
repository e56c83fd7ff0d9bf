"""Automatic checkpoints: the default schedule for every agent and each agent's own schedule
(the seed's plan §6.1, `start_automatic_checkpointing(agent_id, interval_minutes,
max_checkpoints)` and its stop), run by every long-running process that holds a runner.

A round is due when its schedule's `next_due_us` has come; `run_due` claims each due round in
the store (application.schedule_port) and only the claimant runs it, so `serve` and any number
of `ingest` workers together take one checkpoint per round. An agent's own round prunes and
then captures the agent when it changed since its last checkpoint (an unchanged agent needs no
new copy of the same state), keeping at most the schedule's maximum; the default round does
what it always did for every other agent (CheckpointService.capture_changed).

Time comes from `clock`, and `run_due` takes `now`, so a test drives rounds with the time it
chooses instead of waiting for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ctxstore.application.checkpoint_model import AutoCaptureReport
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.errors import ContextStoreError, InvalidRequest
from ctxstore.application.schedule_port import DEFAULT_SCHEDULE, Schedule, ScheduleStore
from ctxstore.domain.clock import to_us

log = logging.getLogger(__name__)

MAX_INTERVAL_MINUTES = 366 * 24 * 60  # a year: beyond it a schedule is a mistake
MAX_CHECKPOINTS = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DueReport:
    """What one `run_due` did: the rounds this runner claimed and how they went."""

    agent_rounds: dict[str, str] = field(default_factory=dict)  # key -> package id, or ""
    failed: dict[str, str] = field(default_factory=dict)  # key -> error
    default_round: AutoCaptureReport | None = None  # when this runner ran the default's
    next_due_us: int | None = None  # the soonest round still to come (of those read)


class AutoCheckpoints:
    """Start, stop and list schedules; run the due rounds (thread-safe: state is the store's)."""

    def __init__(self, checkpoints: CheckpointService, *,
                 default_interval_seconds: float | None = None, label: str = "auto",
                 access_level: str = "private", clock: Callable[[], datetime] = utc_now):
        if default_interval_seconds is not None and default_interval_seconds <= 0:
            raise ValueError("default_interval_seconds must be positive (None: no default)")
        self.checkpoints = checkpoints
        self.default_interval_seconds = default_interval_seconds
        self.label = label
        self.access_level = access_level
        self.clock = clock
        self.on_change: list[Callable[[], None]] = []  # runners to wake on start and stop

    @property
    def schedules(self) -> ScheduleStore:
        return self.checkpoints.store.schedules

    # Start, stop, status ---------------------------------------------------------------------
    def start(self, agent_id: str, tenant: str, *, interval_minutes: float,
              max_checkpoints: int, now: datetime | None = None) -> Schedule:
        """Give the agent (by its key) its own schedule, replacing any it had: the first round
        is one interval from now. Its retention becomes `max_checkpoints` at once."""
        if not 0 < interval_minutes <= MAX_INTERVAL_MINUTES:
            raise InvalidRequest(f"interval_minutes: must be more than 0 and at most "
                                 f"{MAX_INTERVAL_MINUTES}, not {interval_minutes:g}")
        if not 1 <= max_checkpoints <= MAX_CHECKPOINTS:
            raise InvalidRequest(f"max_checkpoints: must be from 1 to {MAX_CHECKPOINTS}, "
                                 f"not {max_checkpoints}")
        now_us = to_us(now or self.clock())
        interval_us = max(1, round(interval_minutes * 60_000_000))
        self.schedules.put_schedule(Schedule(
            agent_id=agent_id, tenant=tenant, interval_us=interval_us,
            max_checkpoints=max_checkpoints, next_due_us=now_us + interval_us,
            started_us=now_us))
        self._changed()
        held = self.schedules.select_schedule(agent_id)
        assert held is not None  # just written
        return held

    def stop(self, agent_id: str) -> bool:
        """End the agent's own schedule (it falls back to the default); whether it had one."""
        stopped = self.schedules.delete_schedule(agent_id)
        self._changed()
        return stopped

    def get(self, agent_id: str) -> Schedule | None:
        return self.schedules.select_schedule(agent_id)

    def status(self, tenant: str) -> list[Schedule]:
        """The tenant's agents' own schedules, by agent key."""
        return [s for s in self.schedules.select_schedules(tenant)
                if s.agent_id != DEFAULT_SCHEDULE]

    def _changed(self) -> None:
        for wake in list(self.on_change):
            wake()

    # Rounds ----------------------------------------------------------------------------------
    def run_due(self, now: datetime | None = None, *, default: bool = True) -> DueReport:
        """Claim and run every round due at `now` (the clock's time by default): each agent's
        own, then the default schedule's when `default`. One failing round is logged and
        reported; the others still run."""
        now_us = to_us(now or self.clock())
        report = DueReport()
        own = [s for s in self.schedules.select_schedules() if s.agent_id != DEFAULT_SCHEDULE]
        upcoming = [s.next_due_us for s in own if s.next_due_us > now_us]
        for schedule in own:
            if schedule.next_due_us > now_us:
                continue
            claimed = self.schedules.claim_round(schedule.agent_id, now_us)
            if claimed is None:
                continue  # another runner has it
            upcoming.append(claimed.next_due_us)
            # The round's statements (retention, the checks, the capture, the round's row)
            # on one connection, checked once (application.connection_scope).
            with self.checkpoints.store.one_connection.scope():
                self._agent_round(claimed, now_us, report)
        if default and self.default_interval_seconds is not None:
            report.default_round, following = self._default_round(
                now_us, exclude={s.agent_id for s in own})
            upcoming.append(following)
        report.next_due_us = min(upcoming, default=None)
        return report

    def _agent_round(self, schedule: Schedule, now_us: int, report: DueReport) -> None:
        key = schedule.agent_id
        package_id: str | None = None
        error: str | None = None
        try:
            pruned = self.checkpoints.prune(key)  # expired ones (the count: at capture)
            if key in pruned.failed:
                raise ContextStoreError(pruned.failed[key])
            if self.checkpoints.store.summary(key) is None:
                raise ContextStoreError("the agent has no events")
            if self.checkpoints.changed_since_checkpoint(key):
                package_id = self.checkpoints.capture_automatic(
                    key, label=self.label, access_level=self.access_level).package_id
            report.agent_rounds[key] = package_id or ""
        except ContextStoreError as e:
            log.warning("automatic checkpoint of %s failed: %s", key, e)
            error = report.failed[key] = str(e)
        self.schedules.record_round(key, now_us, package_id, error)

    def _default_round(self, now_us: int, exclude: set[str]
                       ) -> tuple[AutoCaptureReport | None, int]:
        """The default schedule's round if due and claimed here, and when the next one is."""
        assert self.default_interval_seconds is not None
        interval_us = max(1, round(self.default_interval_seconds * 1_000_000))
        # The first process to run it sets the first round one interval after its start.
        self.schedules.add_schedule(Schedule(
            agent_id=DEFAULT_SCHEDULE, tenant="", interval_us=interval_us, max_checkpoints=0,
            next_due_us=now_us + interval_us, started_us=now_us))
        claimed = self.schedules.claim_round(DEFAULT_SCHEDULE, now_us, interval_us)
        if claimed is None:
            held = self.schedules.select_schedule(DEFAULT_SCHEDULE)
            return None, held.next_due_us if held is not None else now_us + interval_us
        report = self.checkpoints.capture_changed(label=self.label,
                                                  access_level=self.access_level,
                                                  exclude=exclude)
        self.schedules.record_round(DEFAULT_SCHEDULE, now_us,
                                    report.captured[-1].package_id if report.captured else None,
                                    "; ".join(report.failed.values()) or None)
        return report, claimed.next_due_us
