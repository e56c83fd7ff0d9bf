"""GET context's fast path (http.fast_reads) answers exactly as FastAPI's route does: two real
servers over one PostgreSQL store, one with it and one without, asked the same requests (with
API keys: tenants, a missing key), compared byte for byte; and it takes only what it should."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_support import LiveServer, serve_two
from support import make_settings

from ctxstore.infrastructure.http.fast_reads import FastContextReads
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES

KEYS = "key-a:tenant-a,key-b:tenant-b"
TAU = TRACES / "tau-bench" / "gpt-4o-airline.first-5-runs.json"
ROUTE = "/agents/{agent_id}/context"


@pytest.fixture(scope="module")
def servers(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[LiveServer, LiveServer]]:
    """(with the fast path, without it) over the same store."""
    settings = make_settings("postgres", tmp_path_factory.mktemp("fast-reads"), postgres_dsn,
                             api_keys=KEYS, checkpoint_interval_minutes=0)
    yield from serve_two(settings, settings, fast_reads=False)


@pytest.fixture(scope="module")
def agent(servers: tuple[LiveServer, LiveServer]) -> str:
    """A real trace agent of tenant-a."""
    trace = load_trace(TAU)[0]
    body = [e.model_dump(mode="json", exclude_none=True) for e in trace.envelopes]
    with servers[1].client("key-a") as c:
        r = c.post(f"/api/v1/agents/{trace.agent_id}/events", json=body)
    assert r.status_code == 201, r.text
    return trace.agent_id


def fast_path(server: LiveServer) -> FastContextReads:
    """The app's fast path, as its middleware stack built it."""
    app: Any = server.app.middleware_stack
    while not isinstance(app, FastContextReads):
        app = app.app
    return app


def ask(server: LiveServer, path: str, key: str | None,
        headers: dict[str, str] | None = None, method: str = "GET") -> httpx.Response:
    with server.client(key) as c:
        return c.request(method, path, headers=headers)


def same_answer(fast: httpx.Response, plain: httpx.Response) -> None:
    assert (fast.status_code, fast.content) == (plain.status_code, plain.content)
    assert headers_of(fast) == headers_of(plain)


def headers_of(answer: httpx.Response) -> dict[str, str]:
    """Its headers but the date, a redirect's location without its server's origin."""
    origin = f"{answer.request.url.scheme}://{answer.request.url.netloc.decode()}"
    return {k: v.removeprefix(origin) for k, v in answer.headers.items() if k != "date"}


def counted(server: LiveServer, status: int) -> float:
    found = server.app.state.api.metrics.registry.get_sample_value(
        "ctxstore_http_requests_total", {"method": "GET", "route": ROUTE, "status": str(status)})
    return found or 0.0


TAKEN = [
    ("", "key-a"),
    ("?version=3", "key-a"),
    ("?tail=2", "key-a"),
    ("?tail=0&version=5", "key-a"),
    ("?since_version=4", "key-a"),
    ("?version=999999", "key-a"),  # past the end: 404
    ("?version=9223372036854775807", "key-a"),  # the largest: 404
    ("", "key-b"),  # another tenant's agent: 404
    ("", None),  # no key: 401
    ("", "not-a-key"),  # 401
]
PASSED_ON = [
    "?tail=abc",
    "?tail=-1",
    "?tail=1000001",  # over MAX_TAIL: the command refuses it, FastAPI names the field
    "?version=99999999999999999999",  # over int64
    "?version=1&version=2",
    "?version=",
    "?at=2020-01-01T00:00:00Z",
    "?package_id=nope",
    "?since_version=1&tail=2",  # a rule across parameters
    "?verbose=1",  # a parameter the route ignores
]


@pytest.mark.parametrize(("query", "key"), TAKEN)
def test_what_it_takes_it_answers_as_the_route_does(
        servers: tuple[LiveServer, LiveServer], agent: str, query: str, key: str | None
) -> None:
    fast, plain = servers
    taken = fast_path(fast).answered
    path = f"/api/v1/agents/{agent}/context{query}"
    answer = ask(fast, path, key)
    same_answer(answer, ask(plain, path, key))
    assert fast_path(fast).answered == taken + 1
    assert answer.status_code in (200, 401, 404)


@pytest.mark.parametrize("query", PASSED_ON)
def test_anything_else_goes_on_to_the_route(servers: tuple[LiveServer, LiveServer],
                                            agent: str, query: str) -> None:
    fast, plain = servers
    taken = fast_path(fast).answered
    path = f"/api/v1/agents/{agent}/context{query}"
    same_answer(ask(fast, path, "key-a"), ask(plain, path, "key-a"))
    assert fast_path(fast).answered == taken


@pytest.mark.parametrize("path", [
    "/api/v1/agents/bad*id/context",  # not an agent id: FastAPI's 422
    "/api/v1/agents/{agent}/context/",
    "/api/v1/agents/{agent}/history",
])
def test_other_paths_go_on(servers: tuple[LiveServer, LiveServer], agent: str,
                           path: str) -> None:
    fast, plain = servers
    taken = fast_path(fast).answered
    path = path.format(agent=agent)
    same_answer(ask(fast, path, "key-a"), ask(plain, path, "key-a"))
    assert fast_path(fast).answered == taken


def test_etags_and_304s_are_the_routes(servers: tuple[LiveServer, LiveServer],
                                       agent: str) -> None:
    fast, plain = servers
    path = f"/api/v1/agents/{agent}/context?tail=3"
    tag = ask(plain, path, "key-a").headers["etag"]
    taken = fast_path(fast).answered
    for match in (tag, f"W/{tag}", f'"other", {tag}', "*", '"other"'):
        same_answer(ask(fast, path, "key-a", {"If-None-Match": match}),
                    ask(plain, path, "key-a", {"If-None-Match": match}))
    assert ask(fast, path, "key-a", {"If-None-Match": tag}).status_code == 304
    assert fast_path(fast).answered == taken + 6
    # Two If-None-Match headers, or one over the route's limit: the route's own answer.
    two = httpx.Headers([("if-none-match", tag), ("if-none-match", '"x"')])
    with fast.client("key-a") as c, plain.client("key-a") as p:
        same_answer(c.get(path, headers=two), p.get(path, headers=two))
    long = {"If-None-Match": '"' + "x" * 9000 + '"'}
    same_answer(ask(fast, path, "key-a", long), ask(plain, path, "key-a", long))
    assert ask(fast, path, "key-a", long).status_code == 422
    assert fast_path(fast).answered == taken + 6


def test_its_requests_count_under_the_routes_label(servers: tuple[LiveServer, LiveServer],
                                                   agent: str) -> None:
    fast, _ = servers
    before = {status: counted(fast, status) for status in (200, 304, 404)}
    path = f"/api/v1/agents/{agent}/context"
    tag = ask(fast, path, "key-a").headers["etag"]
    ask(fast, path, "key-a", {"If-None-Match": tag})
    ask(fast, path + "?version=999999", "key-a")
    assert {status: counted(fast, status) - before[status] for status in before} == {
        200: 1, 304: 1, 404: 1}


def test_a_head_request_is_the_routes(servers: tuple[LiveServer, LiveServer],
                                      agent: str) -> None:
    fast, plain = servers
    taken = fast_path(fast).answered
    path = f"/api/v1/agents/{agent}/context"
    same_answer(ask(fast, path, "key-a", method="HEAD"),
                ask(plain, path, "key-a", method="HEAD"))
    assert fast_path(fast).answered == taken


def test_the_store_unreachable_is_the_routes_503(postgres_dsn: str, tmp_path: Path) -> None:
    """Its errors go through the route's handlers: a database that does not answer is a 503
    with Retry-After, not a 500."""
    settings = make_settings("postgres", tmp_path, postgres_dsn, api_keys=KEYS,
                             checkpoint_interval_minutes=0)
    both = serve_two(settings, settings, fast_reads=False)
    fast, plain = next(both)
    try:
        for server in (fast, plain):
            server.app.state.api.services.store.close()  # its pool: closed, as on shutdown
        path = "/api/v1/agents/a1/context"
        answer = ask(fast, path, "key-a")
        same_answer(answer, ask(plain, path, "key-a"))
        assert fast_path(fast).answered == 1
        assert answer.status_code == 503 and answer.headers["retry-after"]
    finally:
        both.close()
