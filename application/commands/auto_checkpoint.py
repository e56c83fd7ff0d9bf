"""Per-agent automatic checkpoints: start, stop and status (the seed's plan §6.1), for the
caller's own agents only (another tenant's agent is not found, as everywhere)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field

from ctxstore.application.auto_checkpoints import MAX_CHECKPOINTS, MAX_INTERVAL_MINUTES
from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, Command
from ctxstore.application.errors import ScheduleNotFound
from ctxstore.application.schedule_port import Schedule
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.clock import from_us


class AutoCheckpointOptions(Command):
    """How often, and how many kept (HTTP takes the agent from the path)."""

    interval_minutes: Annotated[float, Field(
        gt=0, le=MAX_INTERVAL_MINUTES,
        description="Minutes between rounds (fractions allowed); the first round is one "
        "interval after the start.")] = 30
    max_checkpoints: Annotated[int, Field(
        ge=1, le=MAX_CHECKPOINTS,
        description="Checkpoints of this agent kept (retention, instead of "
        "CONTEXT_MAX_CHECKPOINTS_PER_AGENT) while the schedule runs.")] = 10


class StartAutoCheckpoints(AutoCheckpointOptions):
    agent_id: AgentId


class StopAutoCheckpoints(Command):
    agent_id: AgentId


class AutoCheckpointStatus(Command):
    """One agent's schedule, or (no agent) every schedule of the caller's agents."""

    agent_id: AgentId | None = None


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as its tenant sees it."""

    agent_id: str
    interval_minutes: float
    max_checkpoints: int
    started_at: datetime
    next_due_at: datetime
    last_round_at: datetime | None
    last_package_id: str | None
    last_capture_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, s: Schedule) -> ScheduleView:
        def at(us: int | None) -> datetime | None:
            return None if us is None else from_us(us)

        return cls(agent_id=plain_agent_id(s.agent_id),
                   interval_minutes=s.interval_us / 60_000_000,
                   max_checkpoints=s.max_checkpoints, started_at=from_us(s.started_us),
                   next_due_at=from_us(s.next_due_us), last_round_at=at(s.last_round_us),
                   last_package_id=s.last_package_id, last_capture_at=at(s.last_capture_us),
                   last_error=s.last_error)


@dataclass(frozen=True)
class AutoCheckpointList:
    """The caller's schedules, and the default every other agent follows."""

    schedules: list[ScheduleView]
    default_interval_minutes: float | None  # None: agents without their own are not captured
    default_max_checkpoints: int


def start(uc: UseCases, caller: Caller, cmd: StartAutoCheckpoints) -> ScheduleView:
    key = uc.policy.visible(caller, cmd.agent_id).agent_id
    return ScheduleView.of(uc.auto.start(key, caller.tenant,
                                         interval_minutes=cmd.interval_minutes,
                                         max_checkpoints=cmd.max_checkpoints))


def stop(uc: UseCases, caller: Caller, cmd: StopAutoCheckpoints) -> ScheduleView:
    """The schedule that was stopped; ScheduleNotFound when the agent had none (AgentNotFound
    when it is not the caller's)."""
    key = uc.policy.visible(caller, cmd.agent_id).agent_id
    held = uc.auto.get(key)
    if held is None or not uc.auto.stop(key):
        raise ScheduleNotFound(cmd.agent_id)
    return ScheduleView.of(held)


def status(uc: UseCases, caller: Caller, cmd: AutoCheckpointStatus) -> AutoCheckpointList:
    if cmd.agent_id is not None:
        key = uc.policy.visible(caller, cmd.agent_id).agent_id
        held = uc.auto.get(key)
        schedules = [held] if held is not None else []
    else:
        schedules = uc.auto.status(caller.tenant)
    seconds = uc.auto.default_interval_seconds
    return AutoCheckpointList(
        schedules=[ScheduleView.of(s) for s in schedules],
        default_interval_minutes=None if seconds is None else seconds / 60,
        default_max_checkpoints=uc.checkpoints.max_checkpoints_per_agent)
