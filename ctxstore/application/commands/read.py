"""Read an agent's context at a point: a version, a time or a checkpoint; none is the latest,
at every door (HTTP, WebSocket, NATS RPC, CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, OnePoint
from ctxstore.application.errors import PointNotFound
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.points import Point


class ReadContext(OnePoint):
    """The DESIGN §2 state of the caller's agent at a point."""

    agent_id: AgentId


@dataclass(frozen=True)
class Located:
    """Where a read lands: the agent's key and version, and the checkpoint when the point is
    one (its stored state is read, not the history: an imported one has none here)."""

    key: str
    version: int
    package_id: str | None = None


def locate(uc: UseCases, caller: Caller, cmd: ReadContext) -> Located:
    """The version the point names, having checked the caller may read the agent and the
    checkpoint; AgentNotFound, PointNotFound (a version past the end, an unknown checkpoint,
    another agent's checkpoint) otherwise."""
    summary = uc.policy.visible(caller, cmd.agent_id)
    key = summary.agent_id
    if cmd.package_id is not None:
        checkpoint = uc.checkpoints.get(cmd.package_id, caller.tenant)
        if checkpoint.agent_id != key:
            raise PointNotFound(f"package_id: checkpoint {cmd.package_id!r} is of agent "
                                f"{plain_agent_id(checkpoint.agent_id)!r}, not "
                                f"{cmd.agent_id!r}")
        return Located(key, checkpoint.version, checkpoint.package_id)
    if cmd.at is not None:
        return Located(key, uc.store.version_at(key, cmd.point().at))  # type: ignore[arg-type]
    if cmd.version is not None and cmd.version > summary.version:
        raise PointNotFound(f"version: agent {cmd.agent_id!r} has no version {cmd.version} "
                            f"(latest is {summary.version})")
    return Located(key, summary.version if cmd.version is None else cmd.version)


def state_at(uc: UseCases, caller: Caller, located: Located) -> dict[str, Any]:
    """The state where `locate` landed."""
    if located.package_id is not None:
        source = uc.restore.state_at(located.key, Point.of_checkpoint(located.package_id),
                                     tenant=caller.tenant)
        return {**source.state(), "agent_id": plain_agent_id(located.key)}
    return uc.store.context(located.key, version=located.version)


def read_context(uc: UseCases, caller: Caller, cmd: ReadContext) -> dict[str, Any]:
    return state_at(uc, caller, locate(uc, caller, cmd))
