"""Checkpoints (the seed's context packages): capture, restore, catalogue, export and import;
and restore into an agent from any point of another."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands import (
    Capture,
    CaptureOptions,
    ExportPackage,
    ListCheckpoints,
    Restore,
    RestoreSource,
    RestoreTarget,
)
from ctxstore.application.context_search import split_keywords
from ctxstore.application.restore_model import RestoreResult
from ctxstore.domain.bounds import INT64_MAX
from ctxstore.infrastructure.http import actions
from ctxstore.infrastructure.http.auth import CallerDep
from ctxstore.infrastructure.http.deps import ApiDep
from ctxstore.infrastructure.http.errors import ERROR_RESPONSES, GONE
from ctxstore.infrastructure.http.params import (
    KnownQuery,
    NoQuery,
    command,
    model_params,
    openapi_of,
)
from ctxstore.infrastructure.http.routes.agents import AgentIdPath
from ctxstore.infrastructure.http.schemas import CheckpointPage, ErrorBody

router = APIRouter(tags=["checkpoints"], responses={
    **ERROR_RESPONSES,
    409: {"model": ErrorBody, "description": "An integrity check failed, or a conflict; "
          "nothing was written."},
})

# Loose on read: a checkpoint kept before package ids had a pattern still reads (new ones match
# domain.bounds.PACKAGE_ID_PATTERN, checked where they enter: capture and import).
PackageIdPath = Annotated[str, Path(min_length=1, max_length=256,
                                    description="A checkpoint id (`ckpt-…`).")]


# Each route's parameters are its command's fields but those its path gives.
CaptureParams = Annotated[CaptureOptions, Depends(model_params(CaptureOptions))]
RestoreTargetParams = Annotated[RestoreTarget, Depends(model_params(RestoreTarget))]
RestoreSourceParams = Annotated[RestoreSource, Depends(model_params(RestoreSource))]


@router.post("/context/capture/{agent_id}", status_code=201, response_model=Checkpoint,
             summary="Capture a checkpoint", openapi_extra=openapi_of(CaptureOptions))
def capture(agent_id: AgentIdPath, api: ApiDep, caller: CallerDep,
            params: CaptureParams) -> Checkpoint:
    """Take a checkpoint of the agent now (or at `version`): a compressed, hashed capture of
    its state. Parameters in the query string or a JSON body (both optional)."""
    cmd = command(Capture, None, {**params.model_dump(), "agent_id": agent_id})
    return actions.capture(api, caller, cmd)


@router.post("/context/restore/{package_id}", response_model=RestoreResult,
             summary="Restore a checkpoint", openapi_extra=openapi_of(RestoreTarget),
             responses=GONE)
def restore_package(package_id: PackageIdPath, api: ApiDep, caller: CallerDep,
                    params: RestoreTargetParams) -> RestoreResult:
    """Restore the checkpoint into `target_agent_id` (required; the checkpoint's own agent is a
    rewind), with one `ContextRestored` event. Parameters in the query string (the seed's
    signature) or a JSON body (the seed's UI). A `public` checkpoint of another tenant may be
    restored into one of this tenant's agents."""
    cmd = command(Restore, None, {**params.model_dump(), "package_id": package_id})
    return actions.restore(api, caller, cmd)


@router.post("/agents/{agent_id}/restore", response_model=RestoreResult,
             summary="Restore into this agent", openapi_extra=openapi_of(RestoreSource),
             responses=GONE)
def restore_into(agent_id: AgentIdPath, api: ApiDep, caller: CallerDep,
                 params: RestoreSourceParams) -> RestoreResult:
    """Give this agent the content of `source_agent_id` (default: itself, a rewind) at a point
    (`version`, `at` or `package_id`; none: the source's latest). A new agent id is a fork.
    Parameters in the query string or a JSON body."""
    cmd = command(Restore, None, {**params.model_dump(), "target_agent_id": agent_id})
    return actions.restore(api, caller, cmd)


@router.get("/context/packages", response_model=CheckpointPage, summary="Checkpoint catalogue",
            dependencies=[KnownQuery])
def list_packages(
    api: ApiDep,
    caller: CallerDep,
    agent_id: Annotated[str | None, Query(max_length=128, description="Only this agent's.")
                        ] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    min_message_count: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None,
    q: Annotated[str | None, Query(max_length=256,
                                   description="Text in the label, agent, id or session.")
                 ] = None,
    access_level: Annotated[Literal["private", "shared", "public"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (the seed's default: "
                                "50).")] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    keywords: Annotated[list[str] | None, Query(
        description="All must match (case-insensitive), each in the label, "
        "session, agent id or the package's text; repeat, or comma-separate.")] = None,
) -> CheckpointPage:
    """This tenant's checkpoints and every public one, newest first."""
    found = api.services.commands.list_checkpoints(caller, command(ListCheckpoints, "query", {
        "agent_id": agent_id, "created_after": created_after,
        "min_message_count": min_message_count, "q": q, "access_level": access_level,
        "limit": limit, "offset": offset, "keywords": split_keywords(keywords or [])}))
    return CheckpointPage.of(found)


@router.get("/context/packages/{package_id}", response_model=Checkpoint,
            summary="One checkpoint's metadata")
def get_package(package_id: PackageIdPath, api: ApiDep, caller: CallerDep) -> Checkpoint:
    return api.services.commands.checkpoint(caller, package_id)


CTXPKG = "application/vnd.ctxstore.ctxpkg"


@router.get("/context/packages/{package_id}/export", response_class=Response,
            summary="Export a checkpoint as a .ctxpkg file",
            responses={200: {"content": {CTXPKG: {"schema": {"type": "string",
                                                             "format": "binary"}}},
                             "description": "The .ctxpkg file."}})
def export_package(package_id: PackageIdPath, api: ApiDep, caller: CallerDep) -> Response:
    """One portable file: manifest (metadata, hash) and the zstd body, checksummed."""
    data = api.services.commands.export(caller, ExportPackage(package_id))
    return Response(data, media_type=CTXPKG,
                    headers={"Content-Disposition": attachment(package_id)})


def attachment(package_id: str) -> str:
    """A Content-Disposition no id can break: only letters, digits, '_' and '-' in the name."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", package_id)[:128].lstrip("_-") or "checkpoint"
    return f'attachment; filename="{safe}.ctxpkg"'



@router.post("/context/packages/import", status_code=201, response_model=Checkpoint,
             summary="Import a .ctxpkg file", responses=GONE,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                 CTXPKG: {"schema": {"type": "string", "format": "binary"}}}}})
async def import_package(request: Request, api: ApiDep, caller: CallerDep,
                         _: NoQuery) -> Checkpoint:
    """The file is verified completely (checksum, body hash, integrity hash of the state)
    before anything is written; importing the same file twice returns the same checkpoint.
    Body limit: CONTEXT_MAX_PACKAGE_SIZE_MB."""
    data = await request.body()
    return await run_in_threadpool(actions.import_package, api, caller, data)
