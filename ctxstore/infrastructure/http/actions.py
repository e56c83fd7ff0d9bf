"""Checkpoint and restore requests with the tenant rules, shared by the HTTP routes and the
WebSocket so both give the same answers (and the same payloads) for the same request.

Tenants: requests name agents by agent id; the store knows them by key (domain.agent_id), which
`visible_agent` / `writable_agent` resolve; answers show agent ids again (`shown`). Which
checkpoints a tenant may read is the checkpoint service's rule (`Checkpoint.readable_by`).

Blocking: call from a worker thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.context_search import ContextSearch, ContextSearchQuery
from ctxstore.application.errors import InvalidRequest
from ctxstore.application.restore import RestoreResult
from ctxstore.application.store import to_us
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.points import InvalidPoint, Point
from ctxstore.infrastructure.http.auth import visible_agent, writable_agent
from ctxstore.infrastructure.http.deps import Api
from ctxstore.infrastructure.http.schemas import (
    CaptureRequest,
    CheckpointPage,
    RestorePackageRequest,
    RestoreRequest,
)


def shown(checkpoint: Checkpoint) -> Checkpoint:
    """The checkpoint as a tenant sees it: its agent by agent id, not by the store's key."""
    return dataclasses.replace(checkpoint, agent_id=plain_agent_id(checkpoint.agent_id))


def get_checkpoint(api: Api, package_id: str, tenant: str) -> Checkpoint:
    """The checkpoint if this tenant may read it, as it sees it; CheckpointNotFound (404)
    otherwise."""
    return shown(api.services.checkpoints.get(package_id, tenant))


def capture(api: Api, tenant: str, agent_id: str, request: CaptureRequest) -> Checkpoint:
    service = api.services.checkpoints
    key = visible_agent(api.store, agent_id, tenant).agent_id
    with api.metrics.capture_seconds.time():
        checkpoint = service.capture(key, version=request.version, label=request.label,
                                     session_id=request.session_id,
                                     access_level=request.access_level,
                                     shared_with=request.shared_with)
    api.hub.notify([key])
    return shown(checkpoint)


def restore_package(api: Api, tenant: str, package_id: str,
                    request: RestorePackageRequest) -> RestoreResult:
    service = api.services.restore
    api.services.checkpoints.find(package_id, tenant)  # 404 unless this tenant may read it
    target = writable_agent(api.store, request.target_agent_id, tenant)
    with api.metrics.restore_seconds.time():
        result = service.restore(None, Point.of_checkpoint(package_id), target,
                                 merge_strategy=request.merge_strategy,
                                 validation_level=request.validation_level, tenant=tenant)
    api.hub.notify([target])
    return result


def restore_into(api: Api, tenant: str, agent_id: str, request: RestoreRequest) -> RestoreResult:
    service = api.services.restore
    given = [name for name in ("version", "at", "package_id")
             if getattr(request, name) is not None]
    if len(given) > 1:
        raise InvalidRequest(f"{given[1]}: give one of version, at and package_id, not several")
    key = writable_agent(api.store, agent_id, tenant)
    source = request.source_agent_id
    if request.package_id is not None:
        checkpoint = api.services.checkpoints.get(request.package_id, tenant)
        if source is not None and api.store.key_for(tenant, source) != checkpoint.agent_id:
            raise InvalidRequest(f"source_agent_id: checkpoint {request.package_id!r} is of "
                                 f"agent {plain_agent_id(checkpoint.agent_id)!r}, not "
                                 f"{source!r}")
        source = None  # the checkpoint names it
        point = Point.of_checkpoint(request.package_id)
    else:
        source = visible_agent(api.store, source or agent_id, tenant).agent_id
        at = request.at
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        point = Point(version=request.version, at=at)
    with api.metrics.restore_seconds.time():
        result = service.restore(source, point, key, merge_strategy=request.merge_strategy,
                                 validation_level=request.validation_level, tenant=tenant)
    api.hub.notify([key])
    return result


def list_checkpoints(api: Api, tenant: str, *, agent_id: str | None = None,
                     created_after: datetime | None = None,
                     min_message_count: int | None = None, q: str | None = None,
                     access_level: str | None = None, limit: int = 100,
                     offset: int = 0, keywords: Sequence[str] = ()) -> CheckpointPage:
    """The checkpoints this tenant may read (its own, every public one and those shared with
    it), newest first, filtered (application.context_search: the seed's search_contexts);
    `agent_id` is one of this tenant's agents."""
    key = api.store.key_for(tenant, agent_id) if agent_id is not None else None
    query = ContextSearchQuery(agent_id=key, keywords=tuple(keywords),
                               created_after=created_after,
                               min_message_count=min_message_count, text=q,
                               access_level=access_level)
    found = [shown(c) for c in ContextSearch(api.services.checkpoints).search_contexts(
        query, tenant)]
    page = found[offset:offset + limit]
    next_offset = offset + limit if offset + limit < len(found) else None
    return CheckpointPage(items=page, total=len(found),
                          next_offset=next_offset)


def export_package(api: Api, tenant: str, package_id: str) -> bytes:
    data: bytes = api.services.packages.export(package_id, tenant)
    return data


def import_package(api: Api, tenant: str, data: bytes) -> Checkpoint:
    """Verify and keep a `.ctxpkg` as this tenant's, for its agent of the id the file names
    (package ids are per tenant: another tenant's of the same id neither blocks it nor shows).
    With API keys an agent new to the tenant is created from the checkpoint (a restore)."""
    packages = api.services.packages
    manifest = packages.read_manifest(data)
    key = writable_agent(api.store, manifest.checkpoint.agent_id, tenant)
    known = api.store.summary(key) is not None
    checkpoint = packages.import_package(data, tenant)
    if not known and api.keys.enabled:
        with api.metrics.restore_seconds.time():
            api.services.restore.restore(None, Point.of_checkpoint(checkpoint.package_id),
                                           key, tenant=tenant)
        api.hub.notify([key])
    return shown(checkpoint)


def parse_point(text: str, field: str) -> Point:
    try:
        return Point.parse(text)
    except InvalidPoint as e:
        raise InvalidRequest(f"{field}: {e}") from None


def check_point_access(api: Api, tenant: str, agent_id: str, point: Point) -> str:
    """The key of this tenant's agent, having checked it may read the point's checkpoint."""
    key = visible_agent(api.store, agent_id, tenant).agent_id
    if point.checkpoint_id is not None:
        get_checkpoint(api, point.checkpoint_id, tenant)
    return key


def diff(api: Api, tenant: str, agent_id: str, from_text: str, to_text: str,
         other_agent_id: str | None) -> dict[str, Any]:
    base, other = parse_point(from_text, "query.from"), parse_point(to_text, "query.to")
    key = check_point_access(api, tenant, agent_id, base)
    other_key = check_point_access(api, tenant, other_agent_id or agent_id, other)
    result = api.services.diff.diff(key, base, other, other_agent_id=other_key,
                                      tenant=tenant)
    out: dict[str, Any] = result.to_dict()
    return out


def evolution(api: Api, tenant: str, agent_id: str, bucket: str,
              since: datetime | None, until: datetime | None) -> dict[str, Any]:
    key = visible_agent(api.store, agent_id, tenant).agent_id
    views = api.services.views
    points = views.evolution(key, bucket, to_us(since) if since else None,
                             to_us(until) if until else None)
    return {"agent_id": agent_id, "bucket": bucket, "position": views.position(),
            "points": [p.as_dict() for p in points]}
