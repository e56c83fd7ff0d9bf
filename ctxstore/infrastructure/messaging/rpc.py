"""Request/reply over core NATS: read an agent's context, take a checkpoint, restore.

Handlers are FastStream subscribers in one queue group, so any number of workers answer. Every
failure, a malformed request included, comes back as ``{"error": {"type", "message"}}`` through
an exception middleware, never as a timeout. Store calls run in a thread: the event loop keeps
pulling events meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from faststream import ExceptionMiddleware
from faststream.nats import NatsBroker
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ctxstore.application.errors import AgentNotFound, ContextStoreError, PointNotFound
from ctxstore.domain.agent_id import AGENT_ID_PATTERN, InvalidAgentId
from ctxstore.domain.bounds import Int64
from ctxstore.domain.events import InvalidEnvelope, errors_from_validation
from ctxstore.domain.points import Point
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.messaging.subjects import Subjects

AgentId = Annotated[str, Field(pattern=AGENT_ID_PATTERN, description="the agent's id")]


class ContextRequest(BaseModel):
    """The state of an agent now, at a version, or at a time."""

    model_config = ConfigDict(extra="forbid")
    agent_id: AgentId
    version: Int64 | None = None
    at: datetime | None = Field(default=None, description="RFC 3339 time")

    @model_validator(mode="after")
    def _one_point(self) -> ContextRequest:
        if self.version is not None and self.at is not None:
            raise ValueError("give a version or a time (at), not both")
        return self


class CheckpointRequest(BaseModel):
    """Take a checkpoint of an agent now (or at a version)."""

    model_config = ConfigDict(extra="forbid")
    agent_id: AgentId
    label: str | None = None
    version: Int64 | None = None
    access_level: Literal["private", "shared", "public"] = "private"


class RestoreRequest(BaseModel):
    """Restore a source agent at a point (version, time or checkpoint) into a target agent."""

    model_config = ConfigDict(extra="forbid")
    source_agent_id: AgentId | None = Field(
        default=None, description="may be left out when package_id is given")
    version: Int64 | None = None
    at: datetime | None = None
    package_id: str | None = Field(default=None, min_length=1)
    target_agent_id: AgentId | None = Field(
        default=None, description="default: the source itself (a rewind)")
    merge_strategy: Literal["replace", "merge"] = "replace"
    validation_level: Literal["basic", "comprehensive"] = "basic"

    @model_validator(mode="after")
    def _one_point(self) -> RestoreRequest:
        given = [x for x in (self.version, self.at, self.package_id) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one point: version, at or package_id")
        if self.source_agent_id is None and self.package_id is None:
            raise ValueError("source_agent_id is required unless package_id is given")
        return self

    def point(self) -> Point:
        return Point(version=self.version, at=self.at, checkpoint_id=self.package_id)


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorReply(BaseModel):
    """What every rpc subject answers when the request cannot be served."""

    error: ErrorDetail


def error_reply(exc: BaseException) -> dict[str, Any]:
    """The JSON error body for an exception, naming fields for validation errors."""
    if isinstance(exc, ValidationError):
        message = "; ".join(f"{e.field}: {e.message}" for e in errors_from_validation(exc))
        kind = "ValidationError"
    elif isinstance(exc, AgentNotFound):
        kind, message = "AgentNotFound", str(exc)
    elif isinstance(exc, PointNotFound):
        kind, message = "PointNotFound", str(exc)
    elif isinstance(exc, ContextStoreError | InvalidEnvelope | InvalidAgentId | ValueError):
        kind, message = type(exc).__name__, str(exc)
    else:
        kind, message = "InternalError", f"{type(exc).__name__}: {exc}"
    return {"error": {"type": kind, "message": message}}


def error_middleware() -> ExceptionMiddleware:
    return ExceptionMiddleware(publish_handlers={Exception: error_reply})


ServicesGetter = Callable[[], Services]


def register_rpc(broker: NatsBroker, subjects: Subjects, services: ServicesGetter) -> None:
    """Add the request/reply handlers to the broker (they get the services when a request
    comes: the worker bootstraps them after it connects)."""

    @broker.subscriber(
        subjects.rpc_context,
        queue=subjects.rpc_queue,
        title=subjects.rpc_context,
        description="Request an agent's context (DESIGN §2 state) now, at a version or at a "
        "time. Replies with the state, or with an ErrorReply.",
    )
    async def context(request: ContextRequest) -> dict[str, Any]:
        return await asyncio.to_thread(
            services().store.context, request.agent_id, version=request.version, at=request.at
        )

    @broker.subscriber(
        subjects.rpc_checkpoint,
        queue=subjects.rpc_queue,
        title=subjects.rpc_checkpoint,
        description="Take a checkpoint (context package) of an agent. Replies with the "
        "checkpoint metadata of DESIGN §3, or with an ErrorReply.",
    )
    async def checkpoint(request: CheckpointRequest) -> dict[str, Any]:
        taken = await asyncio.to_thread(
            services().checkpoints.capture, request.agent_id, version=request.version,
            label=request.label, access_level=request.access_level)
        return taken.to_dict()

    @broker.subscriber(
        subjects.rpc_restore,
        queue=subjects.rpc_queue,
        title=subjects.rpc_restore,
        description="Restore source_agent_id at a version, a time or a checkpoint (package_id) "
        "into target_agent_id (replace or merge). Replies with the restore result, or with an "
        "ErrorReply.",
    )
    async def restore(request: RestoreRequest) -> dict[str, Any]:
        result = await asyncio.to_thread(
            services().restore.restore, request.source_agent_id, request.point(),
            request.target_agent_id, merge_strategy=request.merge_strategy,
            validation_level=request.validation_level)
        return result.to_dict()

    _ = (context, checkpoint, restore)
