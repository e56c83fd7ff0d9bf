"""Every error as JSON `{detail, errors: [{field, message}]}`: the field path says where.

Use-case errors map to status codes by kind, so new ones from other areas land sensibly without
touching this module: not found → 404, conflicts → 409, integrity/validation → 422.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ctxstore.application.errors import (
    AgentForgotten,
    AgentNotFound,
    ContextStoreError,
    IntegrityMismatch,
    PackageExists,
    PackageTooLarge,
    PointNotFound,
    WriteConflict,
    field_of,
)
from ctxstore.domain.agent_id import InvalidAgentId
from ctxstore.domain.bounds import printable
from ctxstore.domain.events import InvalidEnvelope, errors_from_validation
from ctxstore.domain.state import EventNotApplicable
from ctxstore.infrastructure.http.schemas import ErrorBody, FieldErrorOut
from ctxstore.infrastructure.persistence.availability import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE,
    unavailable,
    unavailable_message,
)

log = logging.getLogger("ctxstore.http")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid API key (when keys are configured)."},
    404: {"model": ErrorBody, "description": "Not found, or not this tenant's."},
    413: {"model": ErrorBody, "description": "The request body is over the size limit."},
    422: {"model": ErrorBody, "description": "Invalid input; `errors` names each field."},
}

#: Routes that write an agent named by the caller: a forgotten agent's id is refused there.
GONE: dict[int | str, dict[str, Any]] = {
    410: {"model": ErrorBody, "description": "The agent was forgotten (right to erasure): its "
          "id is refused for ever; the message says when and by whom."}}


def error_response(status: int, detail: str, errors: list[FieldErrorOut] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    # An error may quote the client's own invalid text: echo it printable, never a 500.
    body = ErrorBody(detail=printable(detail), errors=[
        e.model_copy(update={"field": printable(e.field), "message": printable(e.message)})
        for e in errors or []])
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(body)"


def status_for(exc: Exception) -> int:
    """The HTTP status of a use-case error, by its kind (and name, for other areas' errors)."""
    if isinstance(exc, AgentForgotten):
        return 410
    if isinstance(exc, AgentNotFound | PointNotFound):  # CheckpointNotFound included
        return 404
    if isinstance(exc, WriteConflict | PackageExists | IntegrityMismatch):
        return 409
    if isinstance(exc, PackageTooLarge):
        return 413
    name = type(exc).__name__
    if "NotFound" in name:
        return 404
    if "Conflict" in name or "Exists" in name:
        return 409
    return 422


def error_of(exc: Exception) -> tuple[int, str, list[FieldErrorOut]] | None:
    """A client's mistake (or a refusal) as its status, sentence and fields; None for what is
    no client's doing (a 500). The HTTP handlers, the WebSocket and the embedded client
    (client.embedded) all answer with it, so a refusal reads the same at every door."""
    if unavailable(exc):
        return 503, unavailable_message(exc), []
    if isinstance(exc, RequestValidationError):
        errors = [FieldErrorOut(field=_path(tuple(e.get("loc", ()))), message=str(e.get("msg")))
                  for e in exc.errors()]
        return 422, "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request", \
            errors
    if isinstance(exc, StarletteHTTPException):
        errors = ([FieldErrorOut(field="(body)", message=str(exc.detail))]
                  if exc.status_code == 413 else [])
        return exc.status_code, str(exc.detail), errors
    if isinstance(exc, InvalidAgentId):
        return 422, str(exc), [FieldErrorOut(field="agent_id", message=str(exc))]
    if isinstance(exc, InvalidEnvelope):
        return 422, str(exc), [FieldErrorOut(field=e.field, message=e.message)
                               for e in exc.errors]
    if isinstance(exc, EventNotApplicable):
        return 422, str(exc), [FieldErrorOut(field=exc.field, message=str(exc))]
    if isinstance(exc, ValidationError):
        errors = [FieldErrorOut(field=e.field, message=e.message)
                  for e in errors_from_validation(exc)]
        return 422, "; ".join(f"{e.field}: {e.message}" for e in errors), errors
    if isinstance(exc, ContextStoreError):
        field = field_of(exc)
        return status_for(exc), str(exc), ([FieldErrorOut(field=field, message=str(exc))]
                                           if field else [])
    return None


def refusal(method: str, path: str, exc: Exception) -> JSONResponse:
    """The answer to a request (`method`, `path`: for the log) that raised `exc`: the routes'
    exception handlers, and the GET context fast path (http.fast_reads), answer with it."""
    known = error_of(exc)
    if known is None:
        log.exception("unexpected error on %s %s", method, path, exc_info=exc)
        return error_response(500, f"internal error: {type(exc).__name__}")
    headers = exc.headers if isinstance(exc, StarletteHTTPException) else None
    if unavailable(exc):
        log.warning("database unavailable on %s %s: %s: %s", method, path,
                    type(exc).__name__, exc)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return error_response(*known, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def refused(request: Request, exc: Exception) -> JSONResponse:
        return refusal(request.method, request.url.path, exc)

    # Each kind by name: Starlette hands a handler of `Exception` alone to its outermost
    # middleware, which answers and then raises the error again (a traceback per request).
    for kind in (RequestValidationError, StarletteHTTPException, InvalidAgentId,
                 InvalidEnvelope, EventNotApplicable, ValidationError, ContextStoreError,
                 *UNAVAILABLE, Exception):
        app.add_exception_handler(kind, refused)
