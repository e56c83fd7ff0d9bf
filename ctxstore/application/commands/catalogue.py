"""List checkpoints: those the caller may read (its own, every public one and those shared
with it), newest first, filtered and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field

from ctxstore.application.checkpoint_model import AccessLevel, Checkpoint
from ctxstore.application.commands.access import Caller, shown
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import Command
from ctxstore.domain.bounds import Int64


class ListCheckpoints(Command):
    agent_id: Annotated[str, Field(max_length=128)] | None = None
    created_after: datetime | None = None
    min_message_count: Int64 | None = None
    q: Annotated[str, Field(max_length=256)] | None = None
    access_level: AccessLevel | None = None
    limit: Annotated[int, Field(ge=1)] = 100
    offset: Int64 = 0


@dataclass(frozen=True)
class CheckpointList:
    items: list[Checkpoint]
    total: int  # how many match the filters, before paging
    next_offset: int | None


def _matches(cmd: ListCheckpoints, checkpoint: Checkpoint, after: datetime | None) -> bool:
    if after is not None and checkpoint.created_at <= after:
        return False
    if cmd.min_message_count is not None and checkpoint.message_count < cmd.min_message_count:
        return False
    if cmd.access_level is not None and checkpoint.access_level != cmd.access_level:
        return False
    needle = cmd.q.lower() if cmd.q else None
    return needle is None or any(
        needle in (text or "").lower()
        for text in (checkpoint.label, checkpoint.agent_id, checkpoint.package_id,
                     checkpoint.session_id))


def list_checkpoints(uc: UseCases, caller: Caller, cmd: ListCheckpoints) -> CheckpointList:
    after = cmd.created_after
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    key = uc.policy.key(caller, cmd.agent_id) if cmd.agent_id is not None else None
    found = [c for c in (shown(stored) for _, stored in uc.checkpoints.readable(caller.tenant,
                                                                                  key))
             if _matches(cmd, c, after)]
    found.sort(key=lambda c: (c.created_at, c.package_id), reverse=True)
    end = cmd.offset + cmd.limit
    return CheckpointList(items=found[cmd.offset:end], total=len(found),
                          next_offset=end if end < len(found) else None)
