"""A Python client of ctxstore's HTTP API (sync and async, over httpx), with the server's own
typed results. Installed with the `client` extra: `pip install 'ctxstore[client]'`."""

from ctxstore.application.forget import ForgetResult
from ctxstore.infrastructure.client.calls import Call, Calls
from ctxstore.infrastructure.client.clients import AsyncCalls, AsyncClient, Client, SyncCalls
from ctxstore.infrastructure.client.errors import (
    Conflict,
    CtxstoreError,
    FieldError,
    Gone,
    NotFound,
)

__all__ = ["AsyncCalls", "AsyncClient", "Call", "Calls", "Client", "Conflict", "CtxstoreError",
           "FieldError", "ForgetResult", "Gone", "NotFound", "SyncCalls"]
