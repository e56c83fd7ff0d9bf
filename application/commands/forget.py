"""Forget an agent (right to erasure): the caller's agent, by whom (free text for the
tombstone). A second forget of the same agent answers its tombstone (AgentForgotten, a 410);
another tenant's agent, or one never written, is not found (404)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, Command
from ctxstore.application.errors import AgentNotFound
from ctxstore.application.forget import ForgetResult
from ctxstore.domain.agent_id import check_agent_id

ForgottenBy = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                                   description="Who asked for the erasure (kept in the "
                                   "tombstone).")]


class ForgetParams(Command):
    """What a door may add to a forget: who asked (defaults to the door's caller)."""

    by: ForgottenBy | None = None


class Forget(Command):
    agent_id: AgentId
    by: ForgottenBy


def forget(uc: UseCases, caller: Caller, cmd: Forget) -> ForgetResult:
    check_agent_id(cmd.agent_id)
    store = uc.store
    key = store.key_for(caller.tenant, cmd.agent_id)
    summary = store.summary(key)
    if summary is None or summary.tenant != caller.tenant:
        stone = store.tombstone(caller.tenant, key)
        if stone is not None:
            raise stone.error()
        raise AgentNotFound(cmd.agent_id)
    return uc.forget.forget(key, caller.tenant, cmd.by)
