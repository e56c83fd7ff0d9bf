"""Read an agent's context at a point: a version, a time or a checkpoint; none is the latest,
at every door (HTTP, WebSocket, NATS RPC, CLI)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import islice
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator

from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, OnePoint
from ctxstore.application.errors import PointNotFound
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.aggregate import CONTEXT_RESTORED
from ctxstore.domain.bounds import Int64
from ctxstore.domain.points import Point
from ctxstore.domain.window import MAX_TAIL, tail_window

# At most this many events per `since_version` answer; the rest by asking again from the last.
CHANGES_PAGE = 1000


class ReadContext(OnePoint):
    """The DESIGN §2 state of the caller's agent at a point; with `tail`, its window
    (domain.window); with `since_version`, the events after that version instead (up to the
    point: `version`, none the latest)."""

    agent_id: AgentId
    tail: Annotated[int, Field(ge=0, le=MAX_TAIL)] | None = Field(
        default=None, description="Only the last N messages and what belongs to them "
        "(their tool calls, open tool calls, each reasoning thread's last N steps), with all "
        "memories, links and MCP state; none: the whole state.")
    since_version: Int64 | None = Field(
        default=None, description="The events after this version (what changed since), "
        "not the state.")

    @field_validator("since_version")
    @classmethod
    def _changes_alone(cls, value: int | None, info: ValidationInfo) -> int | None:
        """Changes are events up to a version: a time, a checkpoint or a window of them is
        not one (the field at fault is this one, the later)."""
        if value is not None:
            other = [n for n in ("at", "package_id", "tail") if info.data.get(n) is not None]
            if other:
                raise ValueError(f"since_version cannot be given with {other[0]}")
        return value

    def variant(self) -> str:
        """What, besides the agent and the version, tells this read's answer apart (caches
        and ETags key on it)."""
        if self.since_version is not None:
            return f"since={self.since_version}"
        return "" if self.tail is None else f"tail={self.tail}"


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


def changes_since(uc: UseCases, located: Located, since: int) -> dict[str, Any]:
    """The events after `since` up to the located version, at most CHANGES_PAGE of them.

    Events, not a diff of two states: they are what the store holds (no state is rebuilt or
    hashed, the cost is the changes'), and folding them onto the state at `since` gives the
    state at `version`. A restore among them is shown by its provenance and content hash
    (`restored`: true), so a client then reads the whole state instead."""
    if since > located.version:
        raise PointNotFound(f"since_version: agent {plain_agent_id(located.key)!r} has no "
                            f"version {since} before the version read ({located.version})")
    page = list(islice(uc.store.iter_history(located.key, after_version=since,
                                             upto_version=located.version,
                                             page=CHANGES_PAGE), CHANGES_PAGE))
    last = page[-1].version if page else since
    return {
        "agent_id": plain_agent_id(located.key),
        "since_version": since,
        "version": located.version,
        "events": [asdict(i) for i in page],
        "restored": any(i.type == CONTEXT_RESTORED for i in page),
        "next_since_version": last if last < located.version else None,
    }


def answer(uc: UseCases, caller: Caller, cmd: ReadContext, located: Located
           ) -> dict[str, Any]:
    """What a read answers where `locate` landed: the state, its window or the changes."""
    if cmd.since_version is not None:
        return changes_since(uc, located, cmd.since_version)
    if located.package_id is None:
        return uc.store.context(located.key, version=located.version, tail=cmd.tail)
    state = state_at(uc, caller, located)
    return state if cmd.tail is None else tail_window(state, cmd.tail)


def read_context(uc: UseCases, caller: Caller, cmd: ReadContext) -> dict[str, Any]:
    return answer(uc, caller, cmd, locate(uc, caller, cmd))
