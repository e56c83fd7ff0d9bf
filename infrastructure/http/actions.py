"""What the HTTP routes and the WebSocket add around a command that writes: the latency metric,
and waking the followers of the agent it wrote (the live hub). Both doors call these, so they
answer the same request with the same payload.

Blocking: call from a worker thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands import Caller, Capture, ImportPackage, Restore
from ctxstore.application.restore_model import RestoreResult
from ctxstore.application.store import to_us
from ctxstore.infrastructure.http.auth import visible_agent
from ctxstore.infrastructure.http.deps import Api


def capture(api: Api, caller: Caller, cmd: Capture) -> Checkpoint:
    with api.metrics.capture_seconds.time():
        checkpoint = api.services.commands.capture(caller, cmd)
    api.hub.notify([api.store.key_for(caller.tenant, cmd.agent_id)])
    return checkpoint


def restore(api: Api, caller: Caller, cmd: Restore) -> RestoreResult:
    with api.metrics.restore_seconds.time():
        result = api.services.commands.restore(caller, cmd)
    api.hub.notify([api.store.key_for(caller.tenant, result.target_agent_id)])
    return result


def import_package(api: Api, caller: Caller, data: bytes) -> Checkpoint:
    imported = api.services.commands.import_package(caller, ImportPackage(data))
    if imported.restored_key is not None:
        api.hub.notify([imported.restored_key])
    return imported.checkpoint


def evolution(api: Api, tenant: str, agent_id: str, bucket: str,
              since: datetime | None, until: datetime | None) -> dict[str, Any]:
    key = visible_agent(api.store, agent_id, tenant).agent_id
    views = api.services.views
    points = views.evolution(key, bucket, to_us(since) if since else None,
                             to_us(until) if until else None)
    return {"agent_id": agent_id, "bucket": bucket, "position": views.position(),
            "points": [p.as_dict() for p in points]}
