"""`ctxstore.client`: the HTTP API's Python client (infrastructure.client), by its short name.
`SyncCalls` / `AsyncCalls` are what every client offers (`Client`, `AsyncClient`, and the
embedded ones an adapter uses in-process)."""

from ctxstore.infrastructure.client import (
    AsyncCalls,
    AsyncClient,
    Call,
    Calls,
    Client,
    Conflict,
    CtxstoreError,
    FieldError,
    Gone,
    NotFound,
    SyncCalls,
)

__all__ = ["AsyncCalls", "AsyncClient", "Call", "Calls", "Client", "Conflict", "CtxstoreError",
           "FieldError", "Gone", "NotFound", "SyncCalls"]
