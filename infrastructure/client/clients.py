"""`Client` (sync) and `AsyncClient` over httpx: the calls of `calls.Calls`, sent.

Each method is its builder bound to a way of sending (`_sync` / `_async`), so both clients
offer the same typed methods without a second copy of any signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

try:
    import httpx
except ModuleNotFoundError as missing:  # an optional extra: say which, not just what is missing
    raise ModuleNotFoundError("ctxstore.client needs httpx: pip install 'ctxstore[client]'",
                              name=missing.name) from missing

from ctxstore.infrastructure.client.calls import Call, Calls, json_body
from ctxstore.infrastructure.client.errors import (
    Conflict,
    CtxstoreError,
    FieldError,
    Gone,
    NotFound,
)

P = ParamSpec("P")
T = TypeVar("T")
# A batch with some envelopes rejected: the others were recorded, the body says which.
PARTIAL_BATCH = 422


def _headers(api_key: str | None) -> dict[str, str]:
    return {"X-API-Key": api_key} if api_key else {}


def _request(http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
    body = None if call.json is None else json_body(call)
    return http.build_request(call.method, call.path, params=dict(call.params) or None,
                              content=body, headers={"Content-Type": "application/json"}
                              if body is not None else None)


def _read(call: Call[T], response: httpx.Response) -> T:
    if response.is_success or (response.status_code == PARTIAL_BATCH and call.method == "POST"
                               and call.path.endswith("/events") and _has_outcomes(response)):
        return call.read(response.content)
    raise _error(response)


def _has_outcomes(response: httpx.Response) -> bool:
    try:
        return "outcomes" in response.json()
    except ValueError:
        return False


def _error(response: httpx.Response) -> CtxstoreError:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or response.reason_phrase or "error")
    return error_for(response.status_code, detail, body.get("errors") or [])


def error_for(status: int, detail: str, errors: Sequence[Any]) -> CtxstoreError:
    """The error a client raises for a refusal: its kind by status, the fields as given."""
    fields = tuple(FieldError(str(e.get("field", "")), str(e.get("message", "")), e.get("index"))
                   for e in errors if isinstance(e, dict))
    kind = {404: NotFound, 409: Conflict, 410: Gone}.get(status, CtxstoreError)
    return kind(status, detail, fields)


class _Sends(Protocol):
    def send(self, call: Call[T]) -> T: ...


class _SendsAsync(Protocol):
    async def send(self, call: Call[T]) -> T: ...


S = TypeVar("S", bound=_Sends)
A = TypeVar("A", bound=_SendsAsync)


def _sync(build: Callable[P, Call[T]]) -> Callable[Concatenate[S, P], T]:
    def method(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.send(build(*args, **kwargs))
    method.__doc__ = build.__doc__
    return method


def _async(build: Callable[P, Call[T]]
           ) -> Callable[Concatenate[A, P], Coroutine[Any, Any, T]]:
    async def method(self: A, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(build(*args, **kwargs))
    method.__doc__ = build.__doc__
    return method


class SyncCalls:
    """Every call of `Calls` as a method, for a class that `send`s (blocking)."""

    def send(self, call: Call[T]) -> T:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what the client holds (nothing, unless the client says otherwise)."""

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    record = _sync(Calls.record)
    context = _sync(Calls.context)
    events = _sync(Calls.events)
    agents = _sync(Calls.agents)
    checkpoint = _sync(Calls.checkpoint)
    checkpoints = _sync(Calls.checkpoints)
    restore = _sync(Calls.restore)
    fork = _sync(Calls.fork)
    rewind = _sync(Calls.rewind)
    diff = _sync(Calls.diff)
    search = _sync(Calls.search)
    export = _sync(Calls.export)
    forget = _sync(Calls.forget)


class AsyncCalls:
    """Every call of `Calls` as a coroutine method, for a class that `send`s (async)."""

    async def send(self, call: Call[T]) -> T:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Let go of what the client holds (nothing, unless the client says otherwise)."""

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()

    record = _async(Calls.record)
    context = _async(Calls.context)
    events = _async(Calls.events)
    agents = _async(Calls.agents)
    checkpoint = _async(Calls.checkpoint)
    checkpoints = _async(Calls.checkpoints)
    restore = _async(Calls.restore)
    fork = _async(Calls.fork)
    rewind = _async(Calls.rewind)
    diff = _async(Calls.diff)
    search = _async(Calls.search)
    export = _async(Calls.export)
    forget = _async(Calls.forget)


class Client(SyncCalls):
    """The HTTP API, synchronously: `Client("http://127.0.0.1:8000", api_key=...)`."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 30.0,
                 http: httpx.Client | None = None):
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self.http.headers.update(_headers(api_key))

    def send(self, call: Call[T]) -> T:
        return _read(call, self.http.send(_request(self.http, call)))

    def close(self) -> None:
        self.http.close()


class AsyncClient(AsyncCalls):
    """The HTTP API for asyncio: `async with AsyncClient(url) as c: await c.context(...)`."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 30.0,
                 http: httpx.AsyncClient | None = None):
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self.http.headers.update(_headers(api_key))

    async def send(self, call: Call[T]) -> T:
        return _read(call, await self.http.send(_request(self.http, call)))

    async def aclose(self) -> None:
        await self.http.aclose()
