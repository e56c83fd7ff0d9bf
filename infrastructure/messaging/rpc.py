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
from typing import Annotated, Any

from faststream import ExceptionMiddleware
from faststream.nats import NatsBroker
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from application.errors import AgentNotFound, ContextStoreError, PointNotFound
from application.store import ContextStore
from domain.agent_id import AGENT_ID_PATTERN, InvalidAgentId
from domain.events import InvalidEnvelope, errors_from_validation
from infrastructure.messaging.subjects import Subjects

AgentId = Annotated[str, Field(pattern=AGENT_ID_PATTERN, description="the agent's id")]


class ContextRequest(BaseModel):
    """The state of an agent now, at a version, or at a time."""

    model_config = ConfigDict(extra="forbid")
    agent_id: AgentId
    version: Annotated[int, Field(ge=0)] | None = None
    at: datetime | None = Field(default=None, description="RFC 3339 time")

    @model_validator(mode="after")
    def _one_point(self) -> ContextRequest:
        if self.version is not None and self.at is not None:
            raise ValueError("give a version or a time (at), not both")
        return self


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


StoreGetter = Callable[[], ContextStore]


def register_rpc(broker: NatsBroker, subjects: Subjects, store: StoreGetter) -> None:
    """Add the request/reply handlers to the broker (they read the store lazily)."""

    @broker.subscriber(
        subjects.rpc_context,
        queue=subjects.rpc_queue,
        title=subjects.rpc_context,
        description="Request an agent's context (DESIGN §2 state) now, at a version or at a "
        "time. Replies with the state, or with an ErrorReply.",
    )
    async def context(request: ContextRequest) -> dict[str, Any]:
        return await asyncio.to_thread(
            store().context, request.agent_id, version=request.version, at=request.at
        )

    _ = context
