"""The API's calls answered by the store in this process, without HTTP: what an adapter uses
when it embeds the store (`EmbeddedApi.client()`), where a remote one uses `AsyncClient`.

A call (`calls.Call`, the same data the HTTP clients send) is matched to its route and runs
that route's own function, its parameters validated by the route's own declarations
(`Query`/`Path` bounds, the parameter models, the commands), for the API key's tenant, and a
refusal is raised as the same `CtxstoreError` with the same status, sentence and fields
(`http.errors.error_of`). So an embedded adapter cannot drift from a remote one, and no
route is written twice; what it skips is the wire: encoding the request, the middleware
(body limits and browser guards, which guard a socket) and parsing the answer again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import unquote

from fastapi import FastAPI, Response
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends, Path, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError, create_model

from ctxstore.application.commands.access import Caller
from ctxstore.infrastructure.client.calls import Call, json_body, type_adapter
from ctxstore.infrastructure.client.clients import AsyncCalls, SyncCalls, error_for
from ctxstore.infrastructure.client.errors import CtxstoreError
from ctxstore.infrastructure.http.app import API_PREFIX, API_ROUTERS
from ctxstore.infrastructure.http.auth import (
    UNAUTHORIZED,
    require_caller,
    require_tenant,
)
from ctxstore.infrastructure.http.deps import Api, get_api
from ctxstore.infrastructure.http.errors import error_of
from ctxstore.infrastructure.http.params import parse_params
from ctxstore.infrastructure.http.routes.agents import post_events, record_body

T = TypeVar("T")
log = logging.getLogger("ctxstore.embedded")


@dataclass(frozen=True)
class _Route:
    """A route's function and how to give it its arguments."""

    endpoint: Callable[..., Any]
    route: APIRoute
    fixed: dict[str, str] = field(default_factory=dict)  # argument -> "api" | "caller" | ...
    models: dict[str, type[BaseModel]] = field(default_factory=dict)  # parameter models
    wire: type[BaseModel] | None = None  # the query and path parameters, as declared
    missing: str | None = None  # an argument only an HTTP request has: not answered here


def _route_of(route: APIRoute) -> _Route:
    hints = get_type_hints(route.endpoint, include_extras=True)
    fixed: dict[str, str] = {}
    models: dict[str, type[BaseModel]] = {}
    wire: dict[str, Any] = {}
    for name, parameter in inspect.signature(route.endpoint).parameters.items():
        hint = hints[name]
        base, meta = (get_args(hint)[0], get_args(hint)[1:]) if get_origin(
            hint) is Annotated else (hint, ())
        depends = next((m for m in meta if isinstance(m, Depends)), None)
        if any(isinstance(m, Query | Path) for m in meta):
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            wire[name] = (hint, default)
        elif base is Api or (depends is not None and depends.dependency is get_api):
            fixed[name] = "api"
        elif depends is not None and depends.dependency is require_caller:
            fixed[name] = "caller"
        elif depends is not None and depends.dependency is require_tenant:
            fixed[name] = "tenant"
        elif depends is not None and isinstance(base, type) and issubclass(base, BaseModel):
            models[name] = base
        elif parameter.default is inspect.Parameter.empty and depends is None:
            return _Route(route.endpoint, route, missing=name)  # the raw request, say
    model = create_model(f"{route.name}_parameters", **wire) if wire else None
    return _Route(route.endpoint, route, fixed, models, model)


@cache
def _route_table() -> tuple[list[_Route], APIRoute]:
    """The API's routes as the embedded client calls them, and the recording one (which reads
    its body itself); the same for every app, made once (about 10 ms)."""
    routes = [r for router in API_ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    return ([_route_of(r) for r in routes if r.endpoint is not post_events],
            next(r for r in routes if r.endpoint is post_events))


class EmbeddedAnswers:
    """Answers calls on one app's routes for one API key (blocking: a worker thread's)."""

    def __init__(self, app: FastAPI, api_key: str | None = None):
        self.api: Api = app.state.api
        self.api_key = api_key
        self.routes, self.record_route = _route_table()

    def __call__(self, call: Call[T]) -> T:
        # As a request carries it: a body that is no JSON goes nowhere (reads have none).
        body = b"" if call.json is None else json_body(call)
        try:
            # One call, one connection checked once (the access check and the reads after it).
            with self.api.store.one_connection.scope():
                return self._answer(call, body)
        except CtxstoreError:
            raise
        except Exception as e:
            known = error_of(e)
            if known is None:
                log.exception("unexpected error on %s %s", call.method, call.path)
                raise CtxstoreError(500, f"internal error: {type(e).__name__}") from e
            status, detail, errors = known
            raise error_for(status, detail, [err.model_dump() for err in errors]) from e

    def _caller(self) -> Caller:
        tenant = self.api.keys.tenant_for(self.api_key)
        if tenant is None:
            raise CtxstoreError(401, UNAUTHORIZED)
        return Caller(tenant=tenant, keyed=self.api.keys.enabled)

    def _answer(self, call: Call[T], body: bytes) -> T:
        path = unquote(call.path.removeprefix(API_PREFIX))
        caller = self._caller()
        found = self._match(path, call.method)
        if found is None:
            raise CtxstoreError(404, f"no route {call.method} {call.path}")
        route, path_values = found
        if route is None:  # recording: the route reads its body itself
            _, report = record_body(self.api, path_values["agent_id"], caller, body)
            return report  # type: ignore[return-value]  # Calls.record reads a RecordResponse
        if route.missing is not None:
            raise CtxstoreError(501, f"{call.method} {call.path} needs the HTTP request "
                                f"({route.missing}): call it over HTTP")
        arguments = self._arguments(route, call, path_values, caller)
        result = route.endpoint(**arguments)
        if isinstance(result, Response):
            return call.read(bytes(result.body))
        model = route.route.response_model
        if isinstance(model, type) and not isinstance(result, model):  # a dict, say
            result = type_adapter(model).validate_python(result)
        return result  # type: ignore[no-any-return]  # the route's model: what call.read gives

    def _match(self, path: str, method: str) -> tuple[_Route | None, dict[str, Any]] | None:
        record = self.record_route
        if method in (record.methods or ()) and (m := record.path_regex.match(path)):
            return None, m.groupdict()
        for route in self.routes:
            if method in (route.route.methods or ()) and (
                    m := route.route.path_regex.match(path)):
                convert = route.route.param_convertors
                return route, {k: convert[k].convert(v) for k, v in m.groupdict().items()}
        return None

    def _arguments(self, route: _Route, call: Call[Any], path_values: Mapping[str, Any],
                   caller: Caller) -> dict[str, Any]:
        given = {"api": self.api, "caller": caller, "tenant": caller.tenant}
        arguments = {name: given[source] for name, source in route.fixed.items()}
        query = dict(call.params)
        body = call.json if isinstance(call.json, dict) else {}
        for name, model in route.models.items():
            arguments[name] = parse_params(model, query, body)
        if route.wire is not None:
            values = {**query, **path_values}
            try:
                parsed = route.wire.model_validate(values)
            except ValidationError as e:
                raise RequestValidationError([
                    {"loc": ("path" if str(err["loc"][0]) in path_values else "query",
                             *err["loc"]), "msg": err["msg"], "type": err["type"]}
                    for err in e.errors()]) from None
            arguments.update({name: getattr(parsed, name) for name in route.wire.model_fields})
        return arguments


class EmbeddedClient(SyncCalls):
    """`Client`'s methods, answered in this process (see the module)."""

    def __init__(self, app: FastAPI, api_key: str | None = None):
        self._answers = EmbeddedAnswers(app, api_key)

    def send(self, call: Call[T]) -> T:
        return self._answers(call)


class AsyncEmbeddedClient(AsyncCalls):
    """`AsyncClient`'s methods, answered in this process on a worker thread (the store
    blocks), so the caller's event loop keeps running."""

    def __init__(self, app: FastAPI, api_key: str | None = None):
        self._answers = EmbeddedAnswers(app, api_key)

    async def send(self, call: Call[T]) -> T:
        return await asyncio.to_thread(self._answers, call)
