"""`ctxstore.client`: the HTTP API's Python client (infrastructure.client), by its short name."""

from ctxstore.infrastructure.client import (
    AsyncClient,
    Call,
    Calls,
    Client,
    Conflict,
    CtxstoreError,
    FieldError,
    NotFound,
)

__all__ = ["AsyncClient", "Call", "Calls", "Client", "Conflict", "CtxstoreError", "FieldError",
           "NotFound"]
