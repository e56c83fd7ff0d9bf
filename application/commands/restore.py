"""Restore: give an agent (the target) the content of an agent or a checkpoint at a point.

One rule at every door: a point is at most one of version, at and package_id (none: the
source's latest); naming only one agent is a rewind of it (the target defaults to the source
and the source to the target); a checkpoint restore names its target (the seed's rule: the
checkpoint's own agent is a rewind, another a fork).
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, Command, OnePoint, PointFields
from ctxstore.application.errors import InvalidRequest
from ctxstore.application.ports import AgentSummary, PointRows
from ctxstore.application.restore_model import MergeStrategy, RestoreResult, ValidationLevel
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.points import Point


class RestoreOptions(Command):
    merge_strategy: MergeStrategy = "replace"
    validation_level: ValidationLevel = "basic"


class RestoreTarget(RestoreOptions):
    """The parameters of a checkpoint restore (HTTP takes the checkpoint from the path)."""

    target_agent_id: AgentId = Field(
        description="The agent to restore into (required, as in the seed; the checkpoint's own "
        "agent is a rewind, another is a fork or a restore into it).")


class RestoreSource(RestoreOptions, PointFields):
    """The parameters of a restore into an agent (HTTP takes the target from the path): the
    source (default: the target itself, a rewind) and its point (none: its latest)."""

    source_agent_id: AgentId | None = None


class Restore(RestoreSource, OnePoint):
    """The command every door builds."""

    target_agent_id: AgentId | None = Field(
        default=None, validate_default=True,
        description="Default: the source (a rewind); required to restore a checkpoint.")

    @field_validator("target_agent_id")
    @classmethod
    def _target_named(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("source_agent_id") is None:
            raise ValueError("required: the agent to restore into (a checkpoint restore "
                             "names its target)")
        return value

    @property
    def target(self) -> str:
        return self.target_agent_id or self.source_agent_id or ""


def restore(uc: UseCases, caller: Caller, cmd: Restore) -> RestoreResult:
    """The restore, having checked the caller may read the source (its agent, or the
    checkpoint by its access level) and write the target."""
    source: str | None
    row: AgentSummary | None = None  # the source's catalogue row, read once
    rows: dict[str, AgentSummary | None] = {}  # the catalogue rows read, by key
    point_rows: PointRows | None = None  # those of a read of the source at the version
    point = Point(version=cmd.version, at=cmd.at, checkpoint_id=cmd.package_id)
    if cmd.package_id is not None:
        checkpoint = uc.checkpoints.get(cmd.package_id, caller.tenant)  # 404 unless readable
        if cmd.source_agent_id is not None and (
                uc.policy.key(caller, cmd.source_agent_id) != checkpoint.agent_id):
            raise InvalidRequest(f"checkpoint {cmd.package_id!r} is of agent "
                                 f"{plain_agent_id(checkpoint.agent_id)!r}, not "
                                 f"{cmd.source_agent_id!r}", field="source_agent_id")
        source = None  # the checkpoint names it
        key = uc.policy.writable(caller, cmd.target)
    else:
        # The target's and the source's rows in one question (a fork: two fewer).
        key, row, rows, point_rows = uc.policy.restorable(
            caller, cmd.target, cmd.source_agent_id or cmd.target,
            cmd.version if uc.restore.by_reference(point, cmd.merge_strategy,
                                                   cmd.validation_level) else None)
        source = row.agent_id
    return uc.restore.restore(source, point, key, merge_strategy=cmd.merge_strategy,
                              validation_level=cmd.validation_level, tenant=caller.tenant,
                              source_row=row, rows=rows, point_rows=point_rows)
