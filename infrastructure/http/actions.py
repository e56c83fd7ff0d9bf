"""Checkpoint and restore requests with the tenant rules, shared by the HTTP routes and the
WebSocket so both give the same answers (and the same payloads) for the same request.

Blocking: call from a worker thread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from application.checkpoints import Checkpoint
from application.errors import CheckpointNotFound, InvalidRequest
from application.restore import RestoreResult
from domain.points import Point
from infrastructure.http.auth import visible_agent, writable_agent
from infrastructure.http.deps import Api
from infrastructure.http.schemas import (
    CaptureRequest,
    CheckpointPage,
    RestorePackageRequest,
    RestoreRequest,
)

PUBLIC = "public"


def owner_of(api: Api, checkpoint: Any) -> str | None:
    """A checkpoint belongs to the tenant of its agent (None: an imported, unknown agent)."""
    summary = api.store.index.agent(checkpoint.agent_id)
    return summary.tenant if summary else None


def readable(api: Api, checkpoint: Any, tenant: str) -> bool:
    if checkpoint.access_level == PUBLIC:
        return True
    owner = owner_of(api, checkpoint)
    if owner is None:
        # Imported for an agent this store has never seen: only without keys (one tenant).
        return not api.keys.enabled
    return owner == tenant


def get_checkpoint(api: Api, package_id: str, tenant: str) -> Any:
    """The checkpoint if this tenant may read it; CheckpointNotFound (404) otherwise."""
    checkpoint = api.service("checkpoints").get(package_id)
    if not readable(api, checkpoint, tenant):
        raise CheckpointNotFound(package_id)
    return checkpoint


def capture(api: Api, tenant: str, agent_id: str, request: CaptureRequest) -> Checkpoint:
    service = api.service("checkpoints")
    visible_agent(api.store, agent_id, tenant)
    with api.metrics.capture_seconds.time():
        checkpoint = service.capture(agent_id, version=request.version, label=request.label,
                                     session_id=request.session_id,
                                     access_level=request.access_level)
    api.hub.notify([agent_id])
    return checkpoint


def restore_package(api: Api, tenant: str, package_id: str,
                    request: RestorePackageRequest) -> RestoreResult:
    service = api.service("restore")
    get_checkpoint(api, package_id, tenant)
    target = request.target_agent_id
    writable_agent(api.store, target, tenant)
    with api.metrics.restore_seconds.time():
        result = service.restore(None, Point.of_checkpoint(package_id), target,
                                 merge_strategy=request.merge_strategy,
                                 validation_level=request.validation_level, tenant=tenant)
    api.hub.notify([target])
    return result


def restore_into(api: Api, tenant: str, agent_id: str, request: RestoreRequest) -> RestoreResult:
    service = api.service("restore")
    given = [name for name in ("version", "at", "package_id")
             if getattr(request, name) is not None]
    if len(given) > 1:
        raise InvalidRequest(f"{given[1]}: give one of version, at and package_id, not several")
    writable_agent(api.store, agent_id, tenant)
    source = request.source_agent_id
    if request.package_id is not None:
        checkpoint = get_checkpoint(api, request.package_id, tenant)
        if source is not None and source != checkpoint.agent_id:
            raise InvalidRequest(f"source_agent_id: checkpoint {request.package_id!r} is of "
                                 f"agent {checkpoint.agent_id!r}, not {source!r}")
        point = Point.of_checkpoint(request.package_id)
    else:
        source = source or agent_id
        visible_agent(api.store, source, tenant)
        at = request.at
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        point = Point(version=request.version, at=at)
    with api.metrics.restore_seconds.time():
        result = service.restore(source, point, agent_id, merge_strategy=request.merge_strategy,
                                 validation_level=request.validation_level, tenant=tenant)
    api.hub.notify([agent_id])
    return result


def list_checkpoints(api: Api, tenant: str, *, agent_id: str | None = None,
                     created_after: datetime | None = None,
                     min_message_count: int | None = None, q: str | None = None,
                     access_level: str | None = None, limit: int = 100,
                     offset: int = 0) -> CheckpointPage:
    """This tenant's checkpoints and every public one, newest first, filtered."""
    service = api.service("checkpoints")
    if created_after is not None and created_after.tzinfo is None:
        created_after = created_after.replace(tzinfo=UTC)
    owners: dict[str, str | None] = {}
    needle = q.lower() if q else None
    found = []
    for checkpoint in service.list(agent_id):
        if checkpoint.agent_id not in owners:
            owners[checkpoint.agent_id] = owner_of(api, checkpoint)
        owner = owners[checkpoint.agent_id]
        mine = owner == tenant or (owner is None and not api.keys.enabled)
        if not mine and checkpoint.access_level != PUBLIC:
            continue
        if created_after is not None and checkpoint.created_at <= created_after:
            continue
        if min_message_count is not None and checkpoint.message_count < min_message_count:
            continue
        if access_level is not None and checkpoint.access_level != access_level:
            continue
        if needle is not None and not any(
            needle in (text or "").lower()
            for text in (checkpoint.label, checkpoint.agent_id, checkpoint.package_id,
                         checkpoint.session_id)
        ):
            continue
        found.append(checkpoint)
    found.sort(key=lambda c: (c.created_at, c.package_id), reverse=True)
    page = found[offset:offset + limit]
    next_offset = offset + limit if offset + limit < len(found) else None
    return CheckpointPage(items=page, total=len(found),
                          next_offset=next_offset)


def export_package(api: Api, tenant: str, package_id: str) -> bytes:
    get_checkpoint(api, package_id, tenant)
    data: bytes = api.service("packages").export(package_id)
    return data


def import_package(api: Api, tenant: str, data: bytes) -> Checkpoint:
    """Verify and keep a `.ctxpkg`. Its agent must be this tenant's or unknown here; with API
    keys an unknown agent is created for this tenant from the checkpoint (a restore), so the
    imported checkpoint has an owner."""
    packages = api.service("packages")
    manifest = packages.read_manifest(data)
    agent_id = manifest.checkpoint.agent_id
    known = writable_agent(api.store, agent_id, tenant)
    checkpoint = packages.import_package(data)
    if known is None and api.keys.enabled:
        with api.metrics.restore_seconds.time():
            api.service("restore").restore(None, Point.of_checkpoint(checkpoint.package_id),
                                           agent_id, tenant=tenant)
        api.hub.notify([agent_id])
    return checkpoint


def parse_point(text: str, field: str) -> Point:
    from domain.points import InvalidPoint

    try:
        return Point.parse(text)
    except InvalidPoint as e:
        raise InvalidRequest(f"{field}: {e}") from None


def check_point_access(api: Api, tenant: str, agent_id: str, point: Point) -> None:
    visible_agent(api.store, agent_id, tenant)
    if point.checkpoint_id is not None:
        get_checkpoint(api, point.checkpoint_id, tenant)


def diff(api: Api, tenant: str, agent_id: str, from_text: str, to_text: str,
         other_agent_id: str | None) -> dict[str, Any]:
    base, other = parse_point(from_text, "query.from"), parse_point(to_text, "query.to")
    check_point_access(api, tenant, agent_id, base)
    check_point_access(api, tenant, other_agent_id or agent_id, other)
    result = api.service("diff").diff(agent_id, base, other, other_agent_id=other_agent_id)
    out: dict[str, Any] = result.to_dict()
    return out


def evolution(api: Api, tenant: str, agent_id: str, bucket: str,
              since: datetime | None, until: datetime | None) -> dict[str, Any]:
    from application.store import to_us

    visible_agent(api.store, agent_id, tenant)
    views = api.service("views")
    points = views.evolution(agent_id, bucket, to_us(since) if since else None,
                             to_us(until) if until else None)
    return {"agent_id": agent_id, "bucket": bucket, "position": views.position(),
            "points": [p.as_dict() for p in points]}
