"""List checkpoints: those the caller may read (its own, every public one and those shared
with it), newest first, filtered and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field

from ctxstore.application.checkpoint_model import AccessLevel, Checkpoint
from ctxstore.application.commands.access import Caller, shown
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import Command
from ctxstore.application.context_search import ContextSearch, ContextSearchQuery
from ctxstore.domain.bounds import Int64


class ListCheckpoints(Command):
    agent_id: Annotated[str, Field(max_length=128)] | None = None
    created_after: datetime | None = None
    min_message_count: Int64 | None = None
    q: Annotated[str, Field(max_length=256)] | None = None
    access_level: AccessLevel | None = None
    limit: Annotated[int, Field(ge=1)] = 50  # the seed's page size
    offset: Int64 = 0
    # the seed's search_contexts: ALL must match (application.context_search)
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckpointList:
    items: list[Checkpoint]
    total: int  # how many match the filters, before paging
    next_offset: int | None


def list_checkpoints(uc: UseCases, caller: Caller, cmd: ListCheckpoints) -> CheckpointList:
    key = uc.policy.key(caller, cmd.agent_id) if cmd.agent_id is not None else None
    query = ContextSearchQuery(agent_id=key, keywords=cmd.keywords,
                               created_after=cmd.created_after,
                               min_message_count=cmd.min_message_count, text=cmd.q,
                               access_level=cmd.access_level)
    found = [shown(c) for c in ContextSearch(uc.checkpoints).search_contexts(query,
                                                                              caller.tenant)]
    end = cmd.offset + cmd.limit
    return CheckpointList(items=found[cmd.offset:end], total=len(found),
                          next_offset=end if end < len(found) else None)
