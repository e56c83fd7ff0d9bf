"""Request/reply over core NATS: read an agent's context, take a checkpoint, restore.

Each subject's request is an application command (application.commands), answered for the local
(keyless) tenant on the contract's subjects (``ctx.rpc.context``) and for tenant T on T's own
(``ctx.t.T.rpc.context``, which only T's NATS credentials may publish on); the rules are the
commands', the same as at the HTTP, WebSocket and CLI doors. Handlers are FastStream subscribers
in one queue group, so any number of workers answer. Every failure, a malformed request
included, comes back as ``{"error": {"type", "message"}}`` through an exception middleware,
never as a timeout. Store calls run in a thread: the event loop keeps pulling events meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import ExceptionMiddleware, Path
from faststream.nats import NatsBroker
from pydantic import BaseModel, ValidationError

from ctxstore.application.commands import LOCAL, Caller, Capture, ReadContext, Restore
from ctxstore.application.errors import (
    AgentNotFound,
    ContextStoreError,
    PointNotFound,
    field_of,
)
from ctxstore.domain.agent_id import InvalidAgentId
from ctxstore.domain.events import InvalidEnvelope, errors_from_validation
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.persistence.availability import unavailable, unavailable_message

Handler = Callable[..., Awaitable[dict[str, Any]]]


class ContextRequest(ReadContext):
    """The ReadContext command, under the name the AsyncAPI document has always given it."""


class ErrorDetail(BaseModel):
    type: str
    message: str
    field: str | None = None  # the field at fault, when one is


class ErrorReply(BaseModel):
    """What every rpc subject answers when the request cannot be served."""

    error: ErrorDetail


def error_reply(exc: BaseException) -> dict[str, Any]:
    """The JSON error body for an exception, naming fields for validation errors."""
    field: str | None = None
    if isinstance(exc, ValidationError):
        # FastStream validates the body as the handler's argument `request`: fields are the
        # command's, without that name.
        errors = [e.model_copy(update={"field": e.field.removeprefix("request.")})
                  for e in errors_from_validation(exc)]
        message = "; ".join(f"{e.field}: {e.message}" for e in errors)
        kind, field = "ValidationError", errors[0].field if errors else None
    elif isinstance(exc, AgentNotFound):
        kind, message = "AgentNotFound", str(exc)
    elif isinstance(exc, PointNotFound):
        kind, message, field = "PointNotFound", str(exc), field_of(exc)
    elif isinstance(exc, InvalidEnvelope):
        kind, message, field = "InvalidEnvelope", str(exc), exc.errors[0].field
    elif isinstance(exc, InvalidAgentId):
        kind, message, field = "InvalidAgentId", str(exc), "agent_id"
    elif unavailable(exc):
        kind, message = "DatabaseUnavailable", unavailable_message(exc)
    elif isinstance(exc, ContextStoreError | ValueError):
        kind, message, field = type(exc).__name__, str(exc), field_of(exc)
    else:
        kind, message = "InternalError", f"{type(exc).__name__}: {exc}"
    return {"error": {"type": kind, "message": message, "field": field}}


def error_middleware() -> ExceptionMiddleware:
    return ExceptionMiddleware(publish_handlers={Exception: error_reply})


ServicesGetter = Callable[[], Services]
CALLER = LOCAL  # the contract's own subjects (ctx.rpc.*) act for the keyless tenant


def caller_of(subjects: Subjects, tenant: str) -> Caller:
    """The caller of a request: `tenant` is the subject's tenant token, empty on the contract's
    own subjects (`ctx.rpc.*`, the local tenant's). A tenant's NATS credentials, the only ones
    permitted on its subjects, stand for its API key."""
    if not tenant:
        return CALLER
    return Caller(tenant=subjects.accepted_tenant(tenant), keyed=True)


def register_rpc(broker: NatsBroker, subjects: Subjects, services: ServicesGetter) -> None:
    """Add the request/reply handlers to the broker (they get the services when a request
    comes: the worker bootstraps them after it connects). Each handler answers on the local
    tenant's subject and on every other tenant's (`ctx.t.<tenant>.rpc.*`)."""

    def caller(tenant: str) -> Caller:
        return caller_of(subjects, tenant)

    def subscribe(name: str, description: str) -> Callable[[Handler], Any]:
        local, template = subjects.rpc(name), subjects.tenant_rpc_template(name)

        def both(handler: Handler) -> Any:
            tenants = broker.subscriber(
                template, queue=subjects.rpc_queue, title=template,
                description=f"{description} Acts for the tenant the subject names.")
            return broker.subscriber(local, queue=subjects.rpc_queue, title=local,
                                     description=description)(tenants(handler))
        return both

    @subscribe("context", "Request an agent's context (DESIGN §2 state) now, at a version, at a "
               "time or at a checkpoint (package_id); its window (`tail`: the last N messages "
               "and what belongs to them, with `window`), or the events after `since_version`. "
               "Replies with that, or with an ErrorReply.")
    async def context(request: ContextRequest, tenant: str = Path(default="")
                      ) -> dict[str, Any]:
        return await asyncio.to_thread(services().commands.read, caller(tenant), request)

    @subscribe("checkpoint", "Take a checkpoint (context package) of an agent. Replies with "
               "the checkpoint metadata of DESIGN §3, or with an ErrorReply.")
    async def checkpoint(request: Capture, tenant: str = Path(default="")) -> dict[str, Any]:
        taken = await asyncio.to_thread(services().commands.capture, caller(tenant), request)
        return taken.to_dict()

    @subscribe("restore", "Restore source_agent_id at a version, a time or a checkpoint "
               "(package_id; none: its latest) into target_agent_id (default: the source; "
               "required for a checkpoint), replacing or merging. Replies with the restore "
               "result, or with an ErrorReply.")
    async def restore(request: Restore, tenant: str = Path(default="")) -> dict[str, Any]:
        result = await asyncio.to_thread(services().commands.restore, caller(tenant),
                                         request)
        return result.to_dict()

    _ = (context, checkpoint, restore)
