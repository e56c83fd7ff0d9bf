"""Agents: record events, page history, read the context at a point, list agents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ctxstore.application.commands import Caller, Diff, ReadContext, RecordEvents
from ctxstore.application.commands.forget import Forget, ForgetParams
from ctxstore.application.commands.record import body_error
from ctxstore.application.forget import ForgetResult
from ctxstore.application.store import from_us
from ctxstore.domain import bounds
from ctxstore.domain.agent_id import AGENT_ID_PATTERN, plain_agent_id
from ctxstore.domain.bounds import INT64_MAX, OutOfBounds
from ctxstore.domain.events import EVENT_TYPES, FieldError, InvalidEnvelope
from ctxstore.domain.window import MAX_TAIL
from ctxstore.infrastructure.http import actions
from ctxstore.infrastructure.http.auth import CallerDep, Tenant, visible_agent
from ctxstore.infrastructure.http.deps import Api, ApiDep
from ctxstore.infrastructure.http.errors import ERROR_RESPONSES, GONE
from ctxstore.infrastructure.http.limits import BodyTooLarge
from ctxstore.infrastructure.http.params import NoQuery, command, model_params, openapi_of
from ctxstore.infrastructure.http.reads import IF_NONE_MATCH_MAX, context_response
from ctxstore.infrastructure.http.schemas import (
    AgentOut,
    AgentPage,
    ContextState,
    DiffOut,
    ErrorBody,
    EventOutcomeOut,
    EvolutionOut,
    FieldErrorOut,
    HistoryPage,
    RecordResponse,
)

router = APIRouter(tags=["agents"], responses=ERROR_RESPONSES)

AgentIdPath = Annotated[str, Path(pattern=AGENT_ID_PATTERN, max_length=128,
                                  description="The agent id (a NATS-safe token).")]
STORE_EVENT_TYPES = ("context_restored", "checkpoint_taken", "checkpoints_pruned")

POST_EVENTS_DOC = """Record one envelope (a JSON object) or a batch (a JSON array of them).

Each envelope is validated on its own; **a malformed envelope is rejected with its reason and
the rest of the batch carries on**. Every envelope's `agent_id` must equal the path's.

Status codes:
- **201**: at least one event was recorded and none was rejected.
- **200**: nothing new: every envelope was a duplicate (already recorded `event_id`).
- **422**: one or more envelopes were rejected. The body is still a `RecordResponse`: the valid
  envelopes of the batch **were recorded** (see `outcomes`, one per envelope, by `index`), and
  `errors` lists each rejected envelope by `index` with the field path inside the envelope.
  A body that is not JSON, or neither an object nor an array, gets an `ErrorBody` instead.
- **413**: the body is over `CONTEXT_HTTP_MAX_BODY_BYTES`, or the batch has more than
  `CONTEXT_HTTP_MAX_BATCH_EVENTS` envelopes; nothing was recorded.
- **404**: the agent belongs to another tenant.
- **410**: the agent was forgotten (`DELETE /agents/{agent_id}`); nothing was recorded.
"""


def record_body(api: Api, agent_id: str, caller: Caller, body: bytes
                ) -> tuple[int, RecordResponse]:
    """The body as a RecordEvents command (the batch rule is the command's), the report as
    201 (recorded), 200 (nothing new) or 422 (some rejected, the rest recorded)."""
    api.services.commands.policy.writable(caller, agent_id)  # 404 before reading the body
    try:
        raw, _ = bounds.loads(body)
    except OutOfBounds as e:
        raise InvalidEnvelope([FieldError(field=e.field, message=e.message)]) from None
    except ValueError as e:
        raise body_error(f"invalid JSON: {e}") from None
    cmd = RecordEvents.of_json(agent_id, raw)
    limit = api.settings.http_max_batch_events
    if len(cmd.items) > limit:
        raise BodyTooLarge(message=f"the batch has {len(cmd.items)} envelopes, over the limit "
                           f"of {limit} (CONTEXT_HTTP_MAX_BATCH_EVENTS); nothing was recorded")
    report = api.services.commands.record(caller, cmd)
    m = api.metrics
    m.events_recorded.inc(report.recorded)
    m.events_duplicate.inc(report.duplicates)
    if report.rejected:
        m.events_rejected.labels("invalid").inc(report.rejected)
    if report.recorded:
        api.hub.notify([report.key])
    response = RecordResponse(
        agent_id=agent_id, recorded=report.recorded, duplicates=report.duplicates,
        rejected=report.rejected, version=report.version,
        outcomes=[EventOutcomeOut.model_validate(o, from_attributes=True)
                  for o in report.outcomes],
        detail=report.detail,
        errors=[FieldErrorOut.model_validate(e, from_attributes=True) for e in report.errors])
    return RECORD_STATUS[report.verdict], response


RECORD_STATUS = {"partly_rejected": 422, "recorded": 201, "nothing_new": 200}


@router.post(
    "/agents/{agent_id}/events",
    summary="Record events",
    description=POST_EVENTS_DOC,
    status_code=201,
    response_model=RecordResponse,
    responses={
        200: {"model": RecordResponse, "description": "Nothing new: all duplicates."},
        422: {"model": RecordResponse | ErrorBody,
              "description": "Some envelopes rejected (the rest recorded), or a malformed body."},
        **GONE,
    },
    openapi_extra={"requestBody": {
        "required": True,
        "description": "One envelope, or a list of envelopes.",
        "content": {"application/json": {"schema": {"anyOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {"type": "array", "items": {"$ref": "#/components/schemas/Envelope"},
             "minItems": 1},
        ]}}},
    }},
)
async def post_events(agent_id: AgentIdPath, request: Request, api: ApiDep,
                      caller: CallerDep, _: NoQuery) -> JSONResponse:
    body = await request.body()
    status, response = await run_in_threadpool(record_body, api, agent_id, caller, body)
    return JSONResponse(response.model_dump(mode="json"), status_code=status)


def _types_filter(types: list[str] | None) -> list[str] | None:
    if not types:
        return None
    wanted = [t.strip() for chunk in types for t in chunk.split(",") if t.strip()]
    known = set(EVENT_TYPES) | set(STORE_EVENT_TYPES)
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise InvalidEnvelope([FieldError(
            field="query.types",
            message=f"unknown event type {unknown[0]!r}; expected some of "
            + ", ".join(sorted(known)))])
    return wanted or None


@router.get("/agents/{agent_id}/events", response_model=HistoryPage, summary="Agent history")
def get_events(
    agent_id: AgentIdPath,
    api: ApiDep,
    tenant: Tenant,
    after_version: Annotated[int, Query(ge=0, le=INT64_MAX,
                                        description="Only events after this version.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    types: Annotated[list[str] | None, Query(
        description="Only these event types (repeat, or comma-separate).")] = None,
) -> HistoryPage:
    """A page of the agent's events in order; follow `next_after_version` for the next one."""
    wanted = _types_filter(types)
    agent = visible_agent(api.store, agent_id, tenant)
    # Read as of the catalogue row just read: nothing after its version, nothing to ask for
    # (a client polling for new events, the LangGraph saver before each read, mostly asks so).
    items = [] if after_version >= agent.version else api.store.history(
        agent.agent_id, after_version=after_version, limit=limit, types=wanted)
    next_after = items[-1].version if len(items) == limit else None
    return HistoryPage(agent_id=agent_id, items=items, next_after_version=next_after)


@router.get("/agents/{agent_id}/context", response_model=ContextState, summary="Agent context",
            responses={304: {"description": "Not modified: If-None-Match names this ETag."}})
def get_context(
    agent_id: AgentIdPath,
    api: ApiDep,
    caller: CallerDep,
    version: Annotated[int | None, Query(ge=0, le=INT64_MAX,
                                         description="The state at this version.")] = None,
    at: Annotated[datetime | None, Query(
        description="The state at this time (RFC 3339; UTC when no offset).")] = None,
    package_id: Annotated[str | None, Query(min_length=1, max_length=256,
                                            description="The state this checkpoint holds.")
                          ] = None,
    tail: Annotated[int | None, Query(
        ge=0, le=MAX_TAIL, description="Only the last N messages and what belongs to them "
        "(their tool calls, open tool calls, each reasoning thread's last N steps), with all "
        "memories, links and MCP state; `window` says so.")] = None,
    since_version: Annotated[int | None, Query(
        ge=0, le=INT64_MAX, description="Instead of the state: the events after this version "
        "up to `version` (none: the latest), at most 1000; `next_since_version` pages on.")
                             ] = None,
    if_none_match: Annotated[str | None, Header(max_length=IF_NONE_MATCH_MAX)] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """The agent's state now, or at a `version`, a time `at` or a checkpoint `package_id`
    (one of them); its window (`tail`), or what changed since a version (`since_version`).
    Every answer carries a strong `ETag` (agent, version, parameters); `If-None-Match` with it
    answers 304 without reading anything. A large answer goes zstd-compressed (its own ETag)
    to a client whose `Accept-Encoding` takes zstd."""
    cmd = command(ReadContext, "query", {"agent_id": agent_id, "version": version, "at": at,
                                         "package_id": package_id, "tail": tail,
                                         "since_version": since_version})
    return context_response(api, caller, cmd, if_none_match, accept_encoding)


def agent_out(a: Any) -> AgentOut:
    return AgentOut(agent_id=plain_agent_id(a.agent_id), version=a.version,
                    created_at=from_us(a.created_us).isoformat(),
                    updated_at=from_us(a.updated_us).isoformat())


@router.get("/agents", response_model=AgentPage, summary="List agents")
def list_agents(
    api: ApiDep,
    tenant: Tenant,
    after: Annotated[str | None, Query(max_length=128,
                                       description="Only agents whose id sorts after this.")
                     ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AgentPage:
    """This tenant's agents with their versions, by agent id."""
    # By agent id as the tenant knows them, a keyset page in the database (one more row says
    # whether another page follows).
    rows = [agent_out(a) for a in api.store.agents_page(tenant, after, limit + 1)]
    page = rows[:limit]
    next_after = page[-1].agent_id if len(rows) > limit else None
    return AgentPage(items=page, next_after=next_after)


FORGET_DOC = """Forget this agent for good (right to erasure): its events, snapshots, checkpoints,
indexes, search and evolution rows go in one transaction, the parts only it referred to are
released (a fork keeps its own), and the NATS streams' copies of its envelopes are purged when
NATS is configured. A tombstone keeps its id, who asked (`by`, default: the API key's tenant)
and when; nothing else.

Afterwards its id is refused: events for it, and a second DELETE, answer **410** with the
tombstone's who and when. **404**: the tenant has no agent of that id.
"""


@router.delete("/agents/{agent_id}", response_model=ForgetResult, summary="Forget an agent",
               description=FORGET_DOC, openapi_extra=openapi_of(ForgetParams),
               responses=GONE)
def forget_agent(agent_id: AgentIdPath, api: ApiDep, caller: CallerDep,
                 params: Annotated[ForgetParams, Depends(model_params(ForgetParams))]
                 ) -> ForgetResult:
    by = params.by or f"api:{caller.tenant}"
    cmd = command(Forget, None, {"agent_id": agent_id, "by": by})
    return api.services.commands.forget(caller, cmd)


@router.get("/agents/{agent_id}/diff", response_model=DiffOut, summary="What changed")
def get_diff(
    agent_id: AgentIdPath,
    api: ApiDep,
    caller: CallerDep,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=300,
                                description="A point: version, RFC 3339 time, checkpoint id "
                                "or `latest`.")],
    to: Annotated[str, Query(min_length=1, max_length=300)] = "latest",
    other_agent_id: Annotated[str | None, Query(
        pattern=AGENT_ID_PATTERN, max_length=128,
        description="Compare with this agent's `to` point (default: the same agent).")] = None,
) -> dict[str, Any]:
    """Messages, reasoning, memories, links, tool calls and MCP states added, removed or
    changed from `from` to `to`."""
    cmd = command(Diff, "query", {"agent_id": agent_id, "from": from_, "to": to,
                                  "other_agent_id": other_agent_id})
    result: dict[str, Any] = api.services.commands.diff(caller, cmd).to_dict()
    return result


@router.get("/agents/{agent_id}/evolution", response_model=EvolutionOut,
            summary="How the context evolved")
def get_evolution(
    agent_id: AgentIdPath,
    api: ApiDep,
    tenant: Tenant,
    bucket: Annotated[Literal["minute", "hour", "day"], Query()] = "hour",
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> dict[str, Any]:
    """Per time bucket: messages, tokens, tool calls and errors, memories by kind, stored bytes
    and compression ratio, checkpoints and restores (the projections' read model; `position`
    says how far into the event log it has read)."""
    return actions.evolution(api, tenant, agent_id, bucket, _aware(since), _aware(until))


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
