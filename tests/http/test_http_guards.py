"""The guards against other web pages (issue 12 §5), against a real uvicorn: `Host` (DNS
rebinding), cross-site `Origin` on state-changing routes and the WebSocket, JSON-only bodies
(415), the security headers and offline docs, keys kept out of URLs, and `/healthz` saying no
error text to a caller without a key."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_support import LiveServer, serve
from support import make_settings
from test_http_api import env, new_agent
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from devtools.services import free_port

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def listed_server(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[LiveServer]:
    """Keyless, with one extra host name and one extra browser origin allowed."""
    tmp: Path = tmp_path_factory.mktemp("http-listed")
    yield from serve(make_settings("postgres", tmp, postgres_dsn,
                                   http_allowed_hosts="ctx.example.org, other.example.org:8443",
                                   http_allowed_origins="https://dash.example.org"))


def host_of(server: LiveServer) -> str:
    return server.url.removeprefix("http://")


def written(server: LiveServer, agent: str) -> bool:
    """Whether the agent exists (read without any guard-relevant header)."""
    with server.client(key="key-a" if server.settings.api_keys else None) as c:
        return c.get(f"/api/v1/agents/{agent}/context").status_code == 200


def refusal(r: httpx.Response, status: int, field: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["errors"][0]["field"] == field and body["detail"], body


# Host ----------------------------------------------------------------------------------------
def test_a_rebound_host_is_refused_without_keys(server: LiveServer) -> None:
    port = host_of(server).split(":")[1]
    with server.client() as c:
        for host in ("evil.example", f"evil.example:{port}", "192.0.2.7", "localhost.evil.example"):
            refusal(c.get("/api/v1/agents", headers={"Host": host}), 400, "header.host")
        refusal(c.get("/", headers={"Host": "evil.example"}), 400, "header.host")
        agent = new_agent()
        refusal(c.post(f"/api/v1/agents/{agent}/events", json=env(agent),
                       headers={"Host": "evil.example"}), 400, "header.host")
        for host in (f"localhost:{port}", "localhost", f"127.0.0.1:{port}", "app.localhost",
                     "127.1.2.3", f"[::1]:{port}"):
            assert c.get("/api/v1/agents", headers={"Host": host}).status_code == 200, host
    assert not written(server, agent)
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url, additional_headers={"Host": "evil.example"})
    assert refused.value.response.status_code == 400


def test_listed_hosts_are_served(listed_server: LiveServer) -> None:
    with listed_server.client() as c:
        for host in ("ctx.example.org", "ctx.example.org:8000", "other.example.org"):
            assert c.get("/api/v1/agents", headers={"Host": host}).status_code == 200, host
        refusal(c.get("/api/v1/agents", headers={"Host": "example.org"}), 400, "header.host")


def test_with_keys_the_host_is_not_checked_unless_listed(keyed_server: LiveServer) -> None:
    """A rebound page has no key; a keyed server is reached under names it cannot know."""
    with keyed_server.client("key-a") as c:
        assert c.get("/api/v1/agents", headers={"Host": "ctx.internal"}).status_code == 200
    with keyed_server.client() as c:
        assert c.get("/api/v1/agents", headers={"Host": "ctx.internal"}).status_code == 401


# Origin --------------------------------------------------------------------------------------
def test_cross_site_writes_are_refused_and_same_origin_ones_pass(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        for origin in (EVIL, "null", "http://127.0.0.1:1", f"https://{host_of(server)}x"):
            refusal(c.post(f"/api/v1/agents/{agent}/events", json=env(agent),
                           headers={"Origin": origin}), 403, "header.origin")
            refusal(c.post(f"/api/v1/context/capture/{agent}", headers={"Origin": origin}),
                    403, "header.origin")
        assert not written(server, agent)
        # A cross-site read is no write (and without CORS headers the page cannot read it).
        assert c.get("/api/v1/agents", headers={"Origin": EVIL}).status_code == 200
        # The web page's own origin, and a program sending no Origin at all, may write.
        r = c.post(f"/api/v1/agents/{agent}/events", json=env(agent),
                   headers={"Origin": server.url})
        assert r.status_code == 201, r.text
        assert c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).status_code == 201
    assert written(server, agent)


def test_listed_origins_may_write(listed_server: LiveServer) -> None:
    agent = new_agent()
    with listed_server.client() as c:
        r = c.post(f"/api/v1/agents/{agent}/events", json=env(agent),
                   headers={"Origin": "https://dash.example.org:443"})
        assert r.status_code == 201, r.text
        refusal(c.post(f"/api/v1/agents/{agent}/events", json=env(agent),
                       headers={"Origin": "http://dash.example.org"}), 403, "header.origin")


def test_cross_site_websocket_is_refused(server: LiveServer) -> None:
    for origin in (EVIL, "null"):
        with pytest.raises(InvalidStatus) as refused:
            connect(server.ws_url, additional_headers={"Origin": origin})
        assert refused.value.response.status_code == 403
        assert b"header.origin" in refused.value.response.body
    with connect(server.ws_url, additional_headers={"Origin": server.url}) as ws:
        ws.send(json.dumps({"action": "ping", "request_id": 1}))
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"


def test_with_keys_cross_site_is_refused_too(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as c:
        refusal(c.post(f"/api/v1/agents/{agent}/events", json=env(agent),
                       headers={"Origin": EVIL}), 403, "header.origin")
    with pytest.raises(InvalidStatus) as refused:
        connect(keyed_server.ws_url, additional_headers={"Origin": EVIL, "X-API-Key": "key-a"})
    assert refused.value.response.status_code == 403
    assert not written(keyed_server, agent)


# Body types ----------------------------------------------------------------------------------
def test_a_body_that_is_not_json_is_415_and_nothing_is_written(server: LiveServer) -> None:
    agent = new_agent()
    text = json.dumps(env(agent))
    with server.client() as c:
        for content_type in ("text/plain", "text/plain;charset=UTF-8",
                             "application/x-www-form-urlencoded", "multipart/form-data; b=x",
                             "application/vnd.ctxstore.ctxpkg"):
            refusal(c.post(f"/api/v1/agents/{agent}/events", content=text,
                           headers={"Content-Type": content_type}), 415, "header.content-type")
        # No type at all, a declared length, and a chunked body without a length.
        refusal(c.post(f"/api/v1/agents/{agent}/events", content=text.encode()), 415,
                "header.content-type")
        r = c.post(f"/api/v1/agents/{agent}/events", content=iter([text.encode()]),
                   headers={"Content-Type": "text/plain"})
        assert "content-length" not in r.request.headers
        refusal(r, 415, "header.content-type")
        refusal(c.post(f"/api/v1/context/capture/{agent}", content=b"{}",
                       headers={"Content-Type": "text/plain"}), 415, "header.content-type")
        assert not written(server, agent)
        ok = c.post(f"/api/v1/agents/{agent}/events", content=text,
                    headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 201, ok.text


def test_an_empty_body_of_any_type_passes(server: LiveServer) -> None:
    """The seed's routes carry their parameters in the query: no body, no type needed."""
    agent = new_agent()
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
        r = c.post(f"/api/v1/context/capture/{agent}", params={"label": "by query"})
        assert r.status_code == 201, r.text
        r = c.post(f"/api/v1/context/capture/{agent}", content=b"",
                   headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
        r = c.post(f"/api/v1/context/capture/{agent}", content=iter([b""]))
        assert "content-length" not in r.request.headers
        assert r.status_code == 201, r.text


def test_package_import_takes_the_ctxpkg_types_only(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
        package_id = c.post(f"/api/v1/context/capture/{agent}").json()["package_id"]
        data = c.get(f"/api/v1/context/packages/{package_id}/export").content
        for content_type in ("application/json", "text/plain"):
            refusal(c.post("/api/v1/context/packages/import", content=data,
                           headers={"Content-Type": content_type}), 415, "header.content-type")
        for content_type in ("application/vnd.ctxstore.ctxpkg", "application/octet-stream"):
            r = c.post("/api/v1/context/packages/import", content=data,
                       headers={"Content-Type": content_type})
            assert r.status_code in (200, 201), r.text
            assert r.json()["package_id"] == package_id


# Headers and docs ----------------------------------------------------------------------------
def csp(r: httpx.Response) -> dict[str, str]:
    policy = r.headers["content-security-policy"]
    return {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}


def test_pages_and_answers_carry_the_security_headers(server: LiveServer) -> None:
    with server.client() as c:
        for path in ("/", "/static/app.js", "/docs", "/api/v1/agents", "/healthz",
                     "/api/v1/agents/not%20an%20id/context"):
            r = c.get(path)
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["x-frame-options"] == "DENY", path
            policy = csp(r)
            assert policy["frame-ancestors"] == "frame-ancestors 'none'", path
            assert policy["script-src"] == "script-src 'self'", path
            assert "unsafe-inline" not in r.headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in c.get("/redoc").headers["content-security-policy"]


def test_docs_load_nothing_from_elsewhere(server: LiveServer) -> None:
    with server.client() as c:
        for page in ("/docs", "/redoc"):
            html = c.get(page).text
            refs = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert refs and all(ref.startswith("/") for ref in refs), (page, refs)
            assert "<script>" not in html  # no inline script: the CSP allows none
            for ref in refs:
                r = c.get(ref)
                assert r.status_code == 200 and len(r.content) > 100, ref
        assert "SwaggerUIBundle" in c.get("/docs-assets/swagger-ui-bundle.js").text
        assert c.get("/openapi.json").json()["info"]["title"] == "ctxstore"


# Keys never in URLs --------------------------------------------------------------------------
def key_protocol(key: str) -> str:
    return "ctxstore.key." + base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def follow_answer(ws: Any, agent: str) -> dict[str, Any]:
    ws.send(json.dumps({"action": "follow", "agent_ids": [agent], "request_id": 1}))
    answer: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return answer


def test_websocket_keys_come_in_headers_or_the_subprotocol(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as c:
        c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
    ways: list[dict[str, Any]] = [
        {"additional_headers": {"X-API-Key": "key-a"}},
        {"additional_headers": {"Authorization": "Bearer key-a"}},
        {"subprotocols": ["ctxstore", key_protocol("key-a")]},
    ]
    for way in ways:
        with connect(keyed_server.ws_url, **way) as ws:
            answer = follow_answer(ws, agent)
            assert answer["type"] == "following", way
            assert answer["data"]["versions"] == {agent: 1}, answer
            if "subprotocols" in way:  # the server never echoes the key
                assert ws.subprotocol == "ctxstore"
    # Tenant b's key through the subprotocol: b follows its own agent of that id, none yet.
    with connect(keyed_server.ws_url, subprotocols=["ctxstore", key_protocol("key-b")]) as ws:
        answer = follow_answer(ws, agent)
        assert answer["type"] == "following" and answer["data"]["versions"] == {agent: 0}
    for protocols in (["ctxstore", key_protocol("key-unknown")], ["ctxstore", "ctxstore.key.%%"],
                      ["ctxstore"]):
        with connect(keyed_server.ws_url, subprotocols=protocols) as ws:  # type: ignore[arg-type]
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] == "error" and message["data"]["status"] == 401
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 4401


def test_a_key_in_the_websocket_url_is_refused(keyed_server: LiveServer,
                                               server: LiveServer) -> None:
    for live in (keyed_server, server):
        with connect(live.ws_url + "?api_key=key-a") as ws:
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] == "error" and message["data"]["status"] == 400
            assert message["data"]["errors"][0]["field"] == "query.api_key"
            assert "X-API-Key" in message["data"]["detail"]
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 4400


def test_the_page_sends_no_key_in_urls() -> None:
    static = Path(__file__).resolve().parents[2] / "ctxstore/infrastructure/http/static"
    script = (static / "app.js").read_text()
    assert "api_key" not in script and "ctxstore.key." in script
    for module in static.glob("*.js"):  # the page's other modules (core, packages, …) too
        assert "api_key" not in module.read_text(), module.name


# /healthz ------------------------------------------------------------------------------------
def test_healthz_gives_error_text_only_to_a_key_holder(postgres_dsn: str,
                                                       tmp_path: Path) -> None:
    unreachable = f"nats://127.0.0.1:{free_port()}"
    for live in serve(make_settings("postgres", tmp_path, postgres_dsn, api_keys="key-a:tenant-a",
                                    nats_url=unreachable)):
        with live.client() as c:
            body = c.get("/healthz").json()
            assert body["nats"] == {"status": "unreachable", "detail": None,
                                    "latency_ms": None}
            assert body["database"]["detail"] is None
            assert "127.0.0.1" not in json.dumps(body)
        with live.client("key-a") as c:
            # A refused connection is the answer at once, not the end of the probe's timeout
            # (nats-py retried a refused first connect until then).
            assert c.get("/healthz").json()["nats"]["detail"].startswith("NoServersError")
        with live.client("not-a-key") as c:
            assert c.get("/healthz").json()["nats"]["detail"] is None
    for live in serve(make_settings("postgres", tmp_path, postgres_dsn, nats_url=unreachable)):
        with live.client() as c:  # keyless: the local operator is told why
            assert c.get("/healthz").json()["nats"]["detail"]


# The policy's parsing -------------------------------------------------------------------------
def test_settings_that_are_not_origins_are_refused_at_start() -> None:
    from ctxstore.infrastructure.http.guards import JSON_TYPES, GuardPolicy

    def build(origins: str) -> GuardPolicy:
        return GuardPolicy.build(keyed=False, allowed_hosts="", allowed_origins=origins,
                                 body_types=lambda path: JSON_TYPES)

    for bad in ("dash.example.org", "null", "https://"):
        with pytest.raises(ValueError, match="CONTEXT_HTTP_ALLOWED_ORIGINS"):
            build(bad)
    policy = build(" https://Dash.Example.org:443 , http://localhost:3000")
    assert policy.allowed_origins == {"https://dash.example.org", "http://localhost:3000"}
    assert policy.origin_refusal("https://dash.example.org", "ctx:8000") is None
    assert policy.origin_refusal("http://localhost:3001", "ctx:8000") is not None
    assert policy.origin_refusal("http://ctx:8000", "ctx:8000") is None
    assert policy.origin_refusal("https://ctx.example.org", "ctx.example.org") is None  # TLS proxy
