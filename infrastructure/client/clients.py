"""`Client` (sync) and `AsyncClient` over httpx: the calls of `calls.Calls`, sent.

Each method is its builder bound to a way of sending (`_sync` / `_async`), so both clients
offer the same typed methods without a second copy of any signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

try:
    import httpx
except ModuleNotFoundError as missing:  # an optional extra: say which, not just what is missing
    raise ModuleNotFoundError("ctxstore.client needs httpx: pip install 'ctxstore[client]'",
                              name=missing.name) from missing

from ctxstore.infrastructure.client.calls import Call, Calls
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
    try:
        return http.build_request(call.method, call.path, params=dict(call.params) or None,
                                  json=call.json)
    except ValueError as e:  # NaN or Infinity: refused here, before anything is sent
        raise ValueError(f"{call.method} {call.path}: the body is not JSON ({e})") from e


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
    errors = tuple(FieldError(str(e.get("field", "")), str(e.get("message", "")), e.get("index"))
                   for e in body.get("errors") or [] if isinstance(e, dict))
    kind = {404: NotFound, 409: Conflict, 410: Gone}.get(response.status_code, CtxstoreError)
    return kind(response.status_code, detail, errors)


def _sync(build: Callable[P, Call[T]]) -> Callable[Concatenate[Client, P], T]:
    def method(self: Client, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.send(build(*args, **kwargs))
    method.__doc__ = build.__doc__
    return method


def _async(build: Callable[P, Call[T]]
           ) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    async def method(self: AsyncClient, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(build(*args, **kwargs))
    method.__doc__ = build.__doc__
    return method


class Client:
    """The HTTP API, synchronously: `Client("http://127.0.0.1:8000", api_key=...)`."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 30.0,
                 http: httpx.Client | None = None):
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self.http.headers.update(_headers(api_key))

    def send(self, call: Call[T]) -> T:
        return _read(call, self.http.send(_request(self.http, call)))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
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


class AsyncClient:
    """The HTTP API for asyncio: `async with AsyncClient(url) as c: await c.context(...)`."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 30.0,
                 http: httpx.AsyncClient | None = None):
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self.http.headers.update(_headers(api_key))

    async def send(self, call: Call[T]) -> T:
        return _read(call, await self.http.send(_request(self.http, call)))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
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
