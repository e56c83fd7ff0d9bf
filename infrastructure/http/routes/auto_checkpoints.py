"""Per-agent automatic checkpoints (the seed's `start_automatic_checkpointing(agent_id,
interval_minutes, max_checkpoints)` and its stop, §6.1): start, stop and see each agent's
schedule, its next round and its last capture.

Schedules are kept in the store, so every process that runs rounds (`serve`, `ingest`) follows
them and they survive restarts; agents without their own follow the default
(CONTEXT_CHECKPOINT_INTERVAL_MINUTES, CONTEXT_MAX_CHECKPOINTS_PER_AGENT).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ctxstore.application.commands import (
    AutoCheckpointList,
    AutoCheckpointOptions,
    AutoCheckpointStatus,
    ScheduleView,
    StartAutoCheckpoints,
    StopAutoCheckpoints,
)
from ctxstore.infrastructure.http.auth import CallerDep
from ctxstore.infrastructure.http.deps import ApiDep
from ctxstore.infrastructure.http.errors import ERROR_RESPONSES
from ctxstore.infrastructure.http.params import NoQuery, command, model_params, openapi_of
from ctxstore.infrastructure.http.routes.agents import AgentIdPath

router = APIRouter(tags=["automatic checkpoints"], responses=ERROR_RESPONSES)

ScheduleParams = Annotated[AutoCheckpointOptions, Depends(model_params(AutoCheckpointOptions))]
ROUTE = "/agents/{agent_id}/auto-checkpoints"


@router.put(ROUTE, response_model=ScheduleView, summary="Start automatic checkpoints",
            openapi_extra=openapi_of(AutoCheckpointOptions))
def start(agent_id: AgentIdPath, api: ApiDep, caller: CallerDep,
          params: ScheduleParams) -> ScheduleView:
    """Checkpoint this agent every `interval_minutes` (default 30; fractions allowed) when it
    changed, keeping at most `max_checkpoints` (default 10) of its checkpoints; replaces its
    schedule if it had one. The first round is one interval from now. Parameters in the query
    string or a JSON body."""
    cmd = command(StartAutoCheckpoints, None, {**params.model_dump(), "agent_id": agent_id})
    return api.services.commands.start_auto_checkpoints(caller, cmd)


@router.delete(ROUTE, response_model=ScheduleView, summary="Stop automatic checkpoints")
def stop(agent_id: AgentIdPath, api: ApiDep, caller: CallerDep, _: NoQuery) -> ScheduleView:
    """End this agent's own schedule (it follows the default again); answers the schedule that
    ended, or 404 when it had none. Its checkpoints stay."""
    cmd = command(StopAutoCheckpoints, None, {"agent_id": agent_id})
    return api.services.commands.stop_auto_checkpoints(caller, cmd)


@router.get(ROUTE, response_model=AutoCheckpointList, summary="An agent's schedule")
def agent_status(agent_id: AgentIdPath, api: ApiDep, caller: CallerDep) -> AutoCheckpointList:
    """This agent's schedule (an empty list when it follows the default), and the default."""
    cmd = command(AutoCheckpointStatus, None, {"agent_id": agent_id})
    return api.services.commands.auto_checkpoint_status(caller, cmd)


@router.get("/auto-checkpoints", response_model=AutoCheckpointList,
            summary="Automatic checkpoint schedules")
def status(api: ApiDep, caller: CallerDep) -> AutoCheckpointList:
    """Every schedule of this tenant's agents (next round, last round, last capture, last
    error), and the default the other agents follow."""
    return api.services.commands.auto_checkpoint_status(caller, AutoCheckpointStatus())
