"""Search and analysis: the seed's `search_contexts` and `analyze_context_evolution`, full-text
search of messages and memories, and memories by embedding similarity.

Doors only: each route checks the tenant's access and hands a typed query to
application.context_search, application.memory_search, projections.search or
projections.context_analysis. Parameters come from the query string or a JSON body
(http/params.py), so an unknown one is a 422 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ctxstore.application.commands import ListCheckpoints
from ctxstore.application.context_search import ContextSearch
from ctxstore.application.errors import InvalidRequest
from ctxstore.application.memory_search import MemorySearch, MemorySearchResult
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.points import InvalidPoint, Point
from ctxstore.infrastructure.http.auth import CallerDep, Tenant, visible_agent
from ctxstore.infrastructure.http.deps import ApiDep
from ctxstore.infrastructure.http.errors import ERROR_RESPONSES
from ctxstore.infrastructure.http.params import model_params, openapi_of
from ctxstore.infrastructure.http.routes.agents import AgentIdPath
from ctxstore.infrastructure.http.schemas import CheckpointPage
from ctxstore.infrastructure.http.search_schemas import (
    AnalysisRequest,
    ContextSearchRequest,
    MemorySearchRequest,
    TextHitOut,
    TextSearchOut,
    TextSearchRequest,
)
from ctxstore.projections.context_analysis import analyze_context_evolution, parse_period
from ctxstore.projections.search import SearchQuery, search_text

router = APIRouter(tags=["search"], responses=ERROR_RESPONSES)

ContextSearchParams = Annotated[ContextSearchRequest, Depends(model_params(ContextSearchRequest))]
TextSearchParams = Annotated[TextSearchRequest, Depends(model_params(TextSearchRequest))]
AnalysisParams = Annotated[AnalysisRequest, Depends(model_params(AnalysisRequest))]
MemorySearchParams = Annotated[MemorySearchRequest, Depends(model_params(MemorySearchRequest))]


@router.post("/context/search", response_model=CheckpointPage, summary="Search checkpoints",
             openapi_extra=openapi_of(ContextSearchRequest))
def search_contexts(api: ApiDep, caller: CallerDep, request: ContextSearchParams
                    ) -> CheckpointPage:
    """The seed's `search_contexts`: the checkpoints this tenant may read of `agent_id`, whose
    label, session, agent id or text hold ALL the `keywords`, created after `created_after`,
    with at least `min_message_count` messages; newest first, paged as `/context/packages`."""
    found = api.services.commands.list_checkpoints(caller, ListCheckpoints(
        agent_id=request.agent_id, created_after=request.created_after,
        min_message_count=request.min_message_count, q=request.q,
        access_level=request.access_level, limit=request.limit, offset=request.offset,
        keywords=tuple(request.keywords)))
    return CheckpointPage.of(found)


@router.get("/search", response_model=TextSearchOut, summary="Full-text search",
            openapi_extra=openapi_of(TextSearchRequest))
def search(api: ApiDep, tenant: Tenant, request: TextSearchParams) -> TextSearchOut:
    """The messages and memories this tenant's agents saw holding every word and "phrase" of
    `q`: each agent's first match (the version it first saw it), or every match with `all`.
    Reads the projections' index (`position`: how far into the event log it has read)."""
    key = (visible_agent(api.store, request.agent_id, tenant).agent_id
           if request.agent_id is not None else None)
    try:
        query = SearchQuery.parse(request.q, agent_id=key, first_only=not request.all,
                                  limit=request.limit, tenant=tenant)
    except ValueError as e:  # no word in q
        raise InvalidRequest("q: " + str(e).removeprefix("query: ")) from None
    views = api.services.views
    hits = search_text(views, api.store, query)
    return TextSearchOut(query=request.q, position=views.position(), hits=[
        TextHitOut(**{**hit.as_dict(), "agent_id": plain_agent_id(hit.agent_id)})
        for hit in hits])


@router.get("/agents/{agent_id}/analysis", summary="Analyse the context's evolution",
            openapi_extra=openapi_of(AnalysisRequest))
def analysis(agent_id: AgentIdPath, api: ApiDep, tenant: Tenant, request: AnalysisParams
             ) -> dict[str, Any]:
    """The seed's `analyze_context_evolution(agent_id, time_period)`: `total_packages`,
    `size_trend`, `compression_efficiency` and `content_evolution` over the last
    `time_period`, and our per-bucket `analysis` of the same period."""
    key = visible_agent(api.store, agent_id, tenant).agent_id
    period = parse_period(request.time_period)
    return analyze_context_evolution(ContextSearch(api.services.checkpoints),
                                     api.services.views, key, period, tenant=tenant,
                                     bucket=request.bucket)


@router.post("/agents/{agent_id}/memories/search", response_model=MemorySearchResult,
             summary="Memories by similarity", openapi_extra=openapi_of(MemorySearchRequest))
def memory_search(agent_id: AgentIdPath, api: ApiDep, tenant: Tenant,
                  request: MemorySearchParams) -> MemorySearchResult:
    """The agent's memories at a point (`version`, `at` or `package_id`; none: now) ranked by
    the cosine similarity of their embeddings to `embedding`. A restored or forked agent holds
    its source's embeddings, so it finds the same memories."""
    key = visible_agent(api.store, agent_id, tenant).agent_id
    try:
        point = Point(version=request.version, at=request.at, checkpoint_id=request.package_id)
    except InvalidPoint as e:
        raise InvalidRequest(str(e) if e.field else
                             "version: give one of version, at and package_id, not several"
                             ) from None
    # A checkpoint point is read only if this tenant may (else 404), and only of this agent.
    return MemorySearch(api.services.restore).search(
        key, request.embedding, point=point, limit=request.limit, min_score=request.min_score,
        kinds=request.kinds, tenant=tenant)
