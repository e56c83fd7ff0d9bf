"""Per-agent automatic checkpoint schedules as the store keeps them, and the claim that makes
each round happen once however many processes run them.

The seed's plan (§6.1) keeps one asyncio task per agent in one process's memory: lost on a
restart, and doubled when two processes run it. Here a schedule is a row beside the events
(infrastructure.persistence.schedules), so it survives restarts and every long-running process
(`serve`, `ingest`) reads the same rows. A round is claimed by moving the row's `next_due_us`
forward in one atomic statement that only succeeds while the round is still due (a row lock on
PostgreSQL, SQLite's write lock under BEGIN IMMEDIATE): of several runners that see the same due
round, exactly one claims it, and only the claimant captures.

The default schedule (CONTEXT_CHECKPOINT_INTERVAL_MINUTES, for every agent without its own) is
claimed the same way, through the row of `DEFAULT_SCHEDULE` (no agent key can take that name).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

DEFAULT_SCHEDULE = "*"  # the row of the global default schedule (not a valid agent key)


@dataclass(frozen=True)
class Schedule:
    """One agent's schedule (by the agent's key), or the default one's row."""

    agent_id: str
    tenant: str
    interval_us: int
    max_checkpoints: int
    next_due_us: int
    started_us: int
    last_round_us: int | None = None  # when the last claimed round ran
    last_package_id: str | None = None  # the last checkpoint a round took
    last_capture_us: int | None = None
    last_error: str | None = None  # the last round's failure (None when it succeeded)


def next_slot(due_us: int, interval_us: int, now_us: int) -> int:
    """The round after the one due at `due_us`; rounds missed while nothing ran are skipped
    (one capture catches up on them), so the next one is a whole interval from now."""
    following = due_us + interval_us
    return following if following > now_us else now_us + interval_us


class ScheduleStore(ABC):
    """Where schedules are kept (infrastructure.persistence.schedules), beside the events."""

    @abstractmethod
    def put_schedule(self, schedule: Schedule) -> None:
        """Create or replace an agent's schedule (interval, maximum, next round, start); what
        its past rounds did is kept."""

    @abstractmethod
    def add_schedule(self, schedule: Schedule) -> None:
        """Create the schedule unless one exists for that agent (then nothing changes)."""

    @abstractmethod
    def delete_schedule(self, agent_id: str) -> bool:
        """Remove an agent's schedule; whether there was one."""

    @abstractmethod
    def select_schedules(self, tenant: str | None = None) -> list[Schedule]:
        """Every schedule (of one tenant, when given), by agent key; the default's row too
        when no tenant is given."""

    @abstractmethod
    def select_schedule(self, agent_id: str) -> Schedule | None:
        """One agent's schedule, or None."""

    @abstractmethod
    def claim_round(self, agent_id: str, now_us: int, interval_us: int | None = None
                    ) -> Schedule | None:
        """Claim the agent's due round, atomically across processes: when its `next_due_us`
        is at or before `now_us`, move it to `next_slot` (with `interval_us`, else the row's
        interval) and return the schedule so claimed (its `next_due_us` the following round);
        None when no round is due (or another runner claimed it first)."""

    @abstractmethod
    def record_round(self, agent_id: str, round_us: int, package_id: str | None,
                     error: str | None) -> None:
        """Note what a claimed round did: the checkpoint it took (None: nothing had changed,
        or it failed with `error`)."""
