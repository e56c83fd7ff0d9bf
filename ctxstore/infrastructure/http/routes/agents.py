"""Agents: record events, page history, read the context at a point, list agents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pydantic_core
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ctxstore.application.results import EventOutcome
from ctxstore.application.store import from_us
from ctxstore.domain import bounds
from ctxstore.domain.agent_id import AGENT_ID_PATTERN, plain_agent_id
from ctxstore.domain.bounds import INT64_MAX, OutOfBounds
from ctxstore.domain.events import (
    EVENT_TYPES,
    AnyEnvelope,
    FieldError,
    InvalidEnvelope,
    parse_envelope,
)
from ctxstore.infrastructure.http import actions
from ctxstore.infrastructure.http.auth import Tenant, visible_agent, writable_agent
from ctxstore.infrastructure.http.deps import Api, ApiDep
from ctxstore.infrastructure.http.errors import ERROR_RESPONSES
from ctxstore.infrastructure.http.limits import BodyTooLarge
from ctxstore.infrastructure.http.params import NoQuery
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
"""


def _body_error(message: str) -> InvalidEnvelope:
    return InvalidEnvelope([FieldError(field="(body)", message=message)])


def _rejected(index: int, event_id: str | None, field: str, reason: str) -> EventOutcomeOut:
    return EventOutcomeOut(index=index, event_id=event_id, status="rejected", field=field,
                           reason=reason)


def record_body(api: Api, agent_id: str, tenant: str, body: bytes) -> tuple[int, RecordResponse]:
    """Validate each envelope, record the valid ones, report every one by index."""
    key = writable_agent(api.store, agent_id, tenant)
    try:
        raw, _ = bounds.loads(body)
    except OutOfBounds as e:
        raise InvalidEnvelope([FieldError(field=e.field, message=e.message)]) from None
    except ValueError as e:
        raise _body_error(f"invalid JSON: {e}") from None
    items: list[Any]
    if isinstance(raw, dict):
        items = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise _body_error("the body must be an envelope (object) or a list of envelopes")
    if not items:
        raise _body_error("the list has no envelopes")
    limit = api.settings.http_max_batch_events
    if len(items) > limit:
        raise BodyTooLarge(message=f"the batch has {len(items)} envelopes, over the limit of "
                           f"{limit} (CONTEXT_HTTP_MAX_BATCH_EVENTS); nothing was recorded")
    outcomes: dict[int, EventOutcomeOut] = {}
    errors: dict[int, list[FieldErrorOut]] = {}
    valid: list[tuple[int, AnyEnvelope]] = []
    max_bytes = api.settings.max_event_bytes
    for i, item in enumerate(items):
        event_id = item.get("event_id") if isinstance(item, dict) else None
        event_id = bounds.printable(event_id) if isinstance(event_id, str) else None
        try:
            envelope = parse_envelope(
                item, max_event_bytes=max_bytes,
                max_clock_skew_seconds=api.settings.max_clock_skew_seconds)
        except InvalidEnvelope as e:
            first = e.errors[0]
            outcomes[i] = _rejected(i, event_id, first.field, e.reason)
            errors[i] = [FieldErrorOut(field=x.field, message=x.message, index=i)
                         for x in e.errors]
            continue
        if envelope.agent_id != agent_id:
            outcomes[i] = _rejected(i, event_id, "agent_id",
                                    f"agent_id {envelope.agent_id!r} differs from the path's "
                                    f"{agent_id!r}")
            continue
        valid.append((i, envelope))
    version: int | None = None
    if valid:
        result = api.store.record([e for _, e in valid], tenant=tenant)
        for (i, _), outcome in zip(valid, result.outcomes, strict=True):
            outcomes[i] = _outcome(i, outcome)
        version = result.versions.get(agent_id)
    if version is None:
        summary = api.store.summary(key)
        version = summary.version if summary else 0
    ordered = [outcomes[i] for i in range(len(items))]
    response = _summarise(agent_id, version, ordered, errors)
    m = api.metrics
    m.events_recorded.inc(response.recorded)
    m.events_duplicate.inc(response.duplicates)
    if response.rejected:
        m.events_rejected.labels("invalid").inc(response.rejected)
    if response.recorded:
        api.hub.notify([key])
    status = 422 if response.rejected else 201 if response.recorded else 200
    return status, response


def _outcome(index: int, o: EventOutcome) -> EventOutcomeOut:
    return EventOutcomeOut(index=index, event_id=o.event_id, status=o.status, version=o.version,
                           field=o.field, reason=o.reason)


def _summarise(agent_id: str, version: int, outcomes: list[EventOutcomeOut],
               field_errors: dict[int, list[FieldErrorOut]]) -> RecordResponse:
    """Counts, and each rejected envelope's field errors (all of them) with its index."""
    rejected = [o for o in outcomes if o.status == "rejected"]
    errors: list[FieldErrorOut] = []
    for o in rejected:
        errors.extend(field_errors.get(o.index) or [FieldErrorOut(
            field=o.field or "(envelope)", message=o.reason or "rejected", index=o.index)])
    detail = None
    if rejected:
        recorded = sum(1 for o in outcomes if o.status == "recorded")
        detail = (f"{len(rejected)} of {len(outcomes)} envelopes rejected ({recorded} recorded): "
                  + "; ".join(f"[{o.index}] {o.reason}" for o in rejected[:5])
                  + ("; …" if len(rejected) > 5 else ""))
    return RecordResponse(
        agent_id=agent_id,
        recorded=sum(1 for o in outcomes if o.status == "recorded"),
        duplicates=sum(1 for o in outcomes if o.status == "duplicate"),
        rejected=len(rejected),
        version=version,
        outcomes=outcomes,
        detail=detail,
        errors=errors,
    )


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
                      tenant: Tenant, _: NoQuery) -> JSONResponse:
    body = await request.body()
    status, response = await run_in_threadpool(record_body, api, agent_id, tenant, body)
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
    key = visible_agent(api.store, agent_id, tenant).agent_id
    items = api.store.history(key, after_version=after_version, limit=limit, types=wanted)
    next_after = items[-1].version if len(items) == limit else None
    return HistoryPage(agent_id=agent_id, items=items, next_after_version=next_after)


@router.get("/agents/{agent_id}/context", response_model=ContextState, summary="Agent context")
def get_context(
    agent_id: AgentIdPath,
    api: ApiDep,
    tenant: Tenant,
    version: Annotated[int | None, Query(ge=0, le=INT64_MAX,
                                         description="The state at this version.")] = None,
    at: Annotated[datetime | None, Query(
        description="The state at this time (RFC 3339; UTC when no offset).")] = None,
) -> Response:
    """The agent's state now, or at a `version`, or at a time `at` (not both)."""
    if version is not None and at is not None:
        raise InvalidEnvelope([FieldError(field="query.at",
                                          message="give version or at, not both")])
    summary = visible_agent(api.store, agent_id, tenant)
    key = summary.agent_id
    if at is not None:
        version = api.store.version_at(key, at if at.tzinfo else at.replace(tzinfo=UTC))
    if version is None:
        version = summary.version
    data = api.states.get(key, version)
    if data is None:
        state = api.store.context(key, version=version)
        # States can be megabytes: serialise once, in Rust, without re-validating the model.
        data = pydantic_core.to_json(state)
        api.states.put(key, version, data)
    return Response(data, media_type="application/json")


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
    # By agent id as the tenant knows them (keys of agents written before namespaces differ).
    rows = sorted((agent_out(a) for a in api.store.agents(tenant)), key=lambda a: a.agent_id)
    rows = [a for a in rows if after is None or a.agent_id > after]
    page = rows[:limit]
    next_after = page[-1].agent_id if len(rows) > limit else None
    return AgentPage(items=page, next_after=next_after)



@router.get("/agents/{agent_id}/diff", response_model=DiffOut, summary="What changed")
def get_diff(
    agent_id: AgentIdPath,
    api: ApiDep,
    tenant: Tenant,
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
    return actions.diff(api, tenant, agent_id, from_, to, other_agent_id)


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
