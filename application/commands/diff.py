"""Diff: what changed between two points of one agent, or of two agents."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, Command
from ctxstore.application.diff import ContextDiff
from ctxstore.domain.points import Point

PointText = Annotated[str, Field(min_length=1, max_length=300,
                                 description="A point: version, RFC 3339 time, checkpoint id "
                                 "or `latest`.")]


class Diff(Command):
    model_config = ConfigDict(populate_by_name=True)

    agent_id: AgentId
    from_: PointText = Field(alias="from")
    to: PointText = "latest"
    other_agent_id: AgentId | None = Field(
        default=None, description="Compare with this agent's `to` point (default: the same "
        "agent).")

    @field_validator("from_", "to")
    @classmethod
    def _a_point(cls, value: str) -> str:
        Point.parse(value)  # InvalidPoint is a ValueError: the field is named
        return value

    @property
    def base(self) -> Point:
        return Point.parse(self.from_)

    @property
    def other(self) -> Point:
        return Point.parse(self.to)


def _key(uc: UseCases, caller: Caller, agent_id: str, point: Point) -> str:
    """The caller's agent's key, having checked it may read the point's checkpoint."""
    key = uc.policy.visible(caller, agent_id).agent_id
    if point.checkpoint_id is not None:
        uc.policy.checkpoint(caller, point.checkpoint_id)
    return key


def diff(uc: UseCases, caller: Caller, cmd: Diff) -> ContextDiff:
    key = _key(uc, caller, cmd.agent_id, cmd.base)
    other_key = _key(uc, caller, cmd.other_agent_id or cmd.agent_id, cmd.other)
    return uc.diff.diff(key, cmd.base, cmd.other, other_agent_id=other_key,
                        tenant=caller.tenant)
