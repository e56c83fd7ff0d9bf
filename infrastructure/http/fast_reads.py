"""GET context, the API's most frequent request (an agent reads its context before each step),
answered without FastAPI's per-request work, and otherwise exactly as its route answers.

FastAPI resolves a route's dependencies and parameters anew on every request, by introspection:
for a cached window of a large agent that was 0.45 of the server's 1.1 ms of CPU per request
(bench/http.py), on the GIL every other request waits for. This middleware, the innermost of
the app's own, takes the requests it can answer the same way at less cost: the route's path,
GET, no root path, only `version`, `tail` and `since_version` as plain decimal numbers, each
at most once, at most one If-None-Match and one Accept-Encoding. Everything else (a time, a
checkpoint, a malformed or unknown parameter, an invalid command) goes on to FastAPI, so its
validation and its errors stay the contract. What it answers goes through the route's own
pieces: its auth dependencies (http.auth), the same command (ReadContext), `context_response`
(http.reads) in a worker thread as FastAPI runs a plain `def` route, and its exception
handlers' `refusal`. The route in the scope keeps the request metrics' label the route's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ctxstore.application.commands import ReadContext
from ctxstore.infrastructure.http.auth import (
    api_key_header,
    bearer_token,
    require_caller,
    require_tenant,
)
from ctxstore.infrastructure.http.deps import Api
from ctxstore.infrastructure.http.errors import refusal
from ctxstore.infrastructure.http.params import command
from ctxstore.infrastructure.http.reads import IF_NONE_MATCH_MAX, context_response
from ctxstore.infrastructure.http.routes.agents import get_context

#: The query parameters taken here (as plain decimal numbers; any other goes on to FastAPI).
NUMBERS = frozenset({"version", "tail", "since_version"})
_DECIMAL = re.compile(r"[0-9]{1,19}")
_ONE_SEGMENT = re.compile(r"[^/]+")


class FastContextReads:
    def __init__(self, app: ASGIApp, api: Api, route: APIRoute, prefix: str):
        """`route`: GET context's (whose path, under `prefix`, this takes)."""
        self.app = app
        self.api = api
        self.route = route
        head, _, tail = (prefix + route.path).partition("{agent_id}")
        self._head, self._tail = head, tail
        self.answered = 0  # requests answered here (tests and benchmarks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        read = self._command(scope) if scope["type"] == "http" else None
        if read is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response: Response
        agent_id, numbers, if_none_match, accept_encoding = read
        try:
            caller = await require_caller(request, await require_tenant(
                request, await api_key_header(request), await bearer_token(request)))
            cmd = command(ReadContext, "query", {"agent_id": agent_id, **numbers})
        except RequestValidationError:
            await self.app(scope, receive, send)  # FastAPI names the field its own way
            return
        except Exception as e:  # noqa: BLE001 - a 401, as the route's dependency answers
            response = refusal("GET", scope["path"], e)
        else:
            try:
                response = await run_in_threadpool(context_response, self.api, caller, cmd,
                                                   if_none_match, accept_encoding)
            except Exception as e:  # noqa: BLE001 - as the route's exception handlers answer
                response = refusal("GET", scope["path"], e)
        scope["route"] = self.route
        self.answered += 1
        await response(scope, receive, send)

    def _command(self, scope: Scope
                 ) -> tuple[str, dict[str, str], str | None, str | None] | None:
        """The agent id, numbers, If-None-Match and Accept-Encoding of a GET context taken
        here, None for the rest."""
        path: str = scope["path"]
        if scope["method"] != "GET" or scope.get("root_path") \
                or not (path.startswith(self._head) and path.endswith(self._tail)):
            return None
        agent_id = path[len(self._head):len(path) - len(self._tail)]
        if not _ONE_SEGMENT.fullmatch(agent_id):
            return None
        numbers: dict[str, str] = {}
        for name, value in parse_qsl(scope["query_string"].decode("latin-1"),
                                     keep_blank_values=True):
            if name not in NUMBERS or name in numbers or not _DECIMAL.fullmatch(value):
                return None
            numbers[name] = value
        wanted: dict[bytes, list[bytes]] = {b"if-none-match": [], b"accept-encoding": []}
        for name, value in scope["headers"]:
            if name in wanted:
                wanted[name].append(value)
        matches, accepts = wanted[b"if-none-match"], wanted[b"accept-encoding"]
        if len(matches) > 1 or (matches and len(matches[0]) > IF_NONE_MATCH_MAX) \
                or len(accepts) > 1:
            return None
        return (agent_id, numbers, matches[0].decode("latin-1") if matches else None,
                accepts[0].decode("latin-1") if accepts else None)


def context_route(routes: Sequence[BaseRoute]) -> APIRoute:
    """GET context's route among a router's."""
    return next(r for r in routes if isinstance(r, APIRoute) and r.endpoint is get_context)
