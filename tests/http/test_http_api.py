"""Every agents route and the operations routes, against a real uvicorn and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
from http_support import LiveServer


def env(agent: str, type_: str = "message", event_id: str | None = None,
        **data: Any) -> dict[str, Any]:
    return {"event_id": event_id or str(uuid.uuid4()), "agent_id": agent, "type": type_,
            "data": data or {"role": "user", "content": "hello"}}


def new_agent() -> str:
    return f"agent-{uuid.uuid4().hex[:10]}"


def test_post_one_envelope_then_duplicate(server: LiveServer) -> None:
    agent = new_agent()
    e = env(agent)
    with server.client() as c:
        r = c.post(f"/api/v1/agents/{agent}/events", json=e)
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["recorded"], body["duplicates"], body["rejected"], body["version"]) == (
            1, 0, 0, 1)
        assert body["outcomes"] == [{"index": 0, "event_id": e["event_id"], "status": "recorded",
                                     "version": 1, "field": None, "reason": None}]
        again = c.post(f"/api/v1/agents/{agent}/events", json=[e])
        assert again.status_code == 200
        assert again.json()["duplicates"] == 1 and again.json()["outcomes"][0]["version"] == 1


def test_batch_with_bad_envelopes_records_the_rest(server: LiveServer) -> None:
    agent = new_agent()
    batch = [
        env(agent, content="first", role="user"),
        env(agent, role="robot", content="x"),  # bad role
        env("someone-else"),  # wrong agent
        {"agent_id": agent, "type": "message", "data": {"role": "user", "content": "x"}},
        env(agent, "memory_updated", memory_id="nope", content="x"),  # not applicable
        env(agent, content="second", role="assistant"),
    ]
    with server.client() as c:
        r = c.post(f"/api/v1/agents/{agent}/events", json=batch)
        assert r.status_code == 422
        body = r.json()
        assert body["recorded"] == 2 and body["rejected"] == 4 and body["version"] == 2
        statuses = [o["status"] for o in body["outcomes"]]
        assert statuses == ["recorded", "rejected", "rejected", "rejected", "rejected",
                            "recorded"]
        fields = {(e["index"], e["field"]) for e in body["errors"]}
        assert {(1, "data.role"), (2, "agent_id"), (3, "event_id"),
                (4, "data.memory_id")} <= fields
        ctx = c.get(f"/api/v1/agents/{agent}/context").json()
        assert [m["content"] for m in ctx["messages"]] == ["first", "second"]


def test_malformed_bodies_get_422_with_field_path(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        for body in (b"{not json", b"42", b"[]"):
            r = c.post(f"/api/v1/agents/{agent}/events", content=body,
                       headers={"content-type": "application/json"})
            assert r.status_code == 422, body
            assert r.json()["errors"][0]["field"] == "(body)"
        r = c.post("/api/v1/agents/bad%20id/events", json=env("x"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.agent_id"
        r = c.get(f"/api/v1/agents/{agent}/events", params={"limit": 0})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"
        big_event = env(agent, content="x" * 9000, role="user")  # over max_event_bytes (8 KiB)
        r = c.post(f"/api/v1/agents/{agent}/events", json=big_event)
        assert r.status_code == 422 and "over the limit" in r.json()["errors"][0]["message"]


def test_oversize_bodies_get_413(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        huge = [env(agent, content="y" * 4000, role="user") for _ in range(20)]  # > 64 KiB
        r = c.post(f"/api/v1/agents/{agent}/events", json=huge)
        assert r.status_code == 413
        assert "CONTEXT_HTTP_MAX_BODY_BYTES" in r.json()["detail"]
        assert r.json()["errors"][0]["field"] == "(body)"

        def chunks():  # no Content-Length: the limit is counted on the bytes received
            yield b"["
            for i in range(200):
                yield (b"," if i else b"") + httpx.Request("POST", "/", json=env(agent)).content
                yield b" " * 1000
            yield b"]"

        r = c.post(f"/api/v1/agents/{agent}/events", content=chunks(),
                   headers={"content-type": "application/json"})
        assert r.status_code == 413
        many = [env(agent) for _ in range(51)]  # over http_max_batch_events (50)
        r = c.post(f"/api/v1/agents/{agent}/events", json=many)
        assert r.status_code == 413 and "CONTEXT_HTTP_MAX_BATCH_EVENTS" in r.json()["detail"]
        assert c.get(f"/api/v1/agents/{agent}/context").status_code == 404  # nothing recorded


def test_history_pages_and_types(server: LiveServer) -> None:
    agent = new_agent()
    batch = [env(agent, content=f"m{i}", role="user") for i in range(5)]
    batch.insert(2, env(agent, "tool_call", call_id="c1", tool="search", arguments={"q": 1}))
    with server.client() as c:
        assert c.post(f"/api/v1/agents/{agent}/events", json=batch).status_code == 201
        page = c.get(f"/api/v1/agents/{agent}/events", params={"limit": 4}).json()
        assert [i["version"] for i in page["items"]] == [1, 2, 3, 4]
        assert page["next_after_version"] == 4
        rest = c.get(f"/api/v1/agents/{agent}/events",
                     params={"after_version": 4, "limit": 4}).json()
        assert [i["version"] for i in rest["items"]] == [5, 6]
        assert rest["next_after_version"] is None
        for after in (6, 7, 10**12):  # at or past the latest: an empty page, still the agent's
            past = c.get(f"/api/v1/agents/{agent}/events", params={"after_version": after})
            assert past.status_code == 200
            assert past.json() == {"agent_id": agent, "items": [], "next_after_version": None}
        c.post(f"/api/v1/agents/{agent}/events", json=[env(agent, content="m5", role="user")])
        newer = c.get(f"/api/v1/agents/{agent}/events", params={"after_version": 6}).json()
        assert [i["version"] for i in newer["items"]] == [7]
        assert c.get("/api/v1/agents/nobody-here/events",
                     params={"after_version": 10}).status_code == 404
        calls = c.get(f"/api/v1/agents/{agent}/events", params={"types": "tool_call"}).json()
        assert [(i["version"], i["type"]) for i in calls["items"]] == [(3, "tool_call")]
        r = c.get(f"/api/v1/agents/{agent}/events", params={"types": "bogus"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.types"


def test_context_now_at_version_and_time(server: LiveServer) -> None:
    agent = new_agent()
    batch = [dict(env(agent, content=f"m{i}", role="user"),
                  occurred_at=f"2025-01-01T00:00:0{i}Z") for i in range(1, 4)]
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=batch).raise_for_status()
        now = c.get(f"/api/v1/agents/{agent}/context").json()
        assert now["version"] == 3 and now["content_hash"].startswith("sha256-tree1:")
        v1 = c.get(f"/api/v1/agents/{agent}/context", params={"version": 1}).json()
        assert [m["content"] for m in v1["messages"]] == ["m1"]
        at = c.get(f"/api/v1/agents/{agent}/context",
                   params={"at": "2025-01-01T00:00:02.5Z"}).json()
        assert at["version"] == 2
        assert c.get(f"/api/v1/agents/{agent}/context", params={"version": 9}).status_code == 404
        both = c.get(f"/api/v1/agents/{agent}/context", params={"version": 1, "at": "2025-01-01"})
        assert both.status_code == 422 and both.json()["errors"][0]["field"] == "query.at"
        assert c.get("/api/v1/agents/nobody-here/context").status_code == 404


def test_agents_list_paged(server: LiveServer) -> None:
    prefix = f"zz{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{i}" for i in range(3)]
    with server.client() as c:
        for name in names:
            c.post(f"/api/v1/agents/{name}/events", json=env(name)).raise_for_status()
        first = c.get("/api/v1/agents", params={"after": prefix, "limit": 2}).json()
        assert [a["agent_id"] for a in first["items"]] == names[:2]
        assert first["next_after"] == names[1]
        second = c.get("/api/v1/agents", params={"after": first["next_after"], "limit": 2}).json()
        assert [a["agent_id"] for a in second["items"]][:1] == names[2:]
        assert all(a["version"] == 1 for a in first["items"])


def test_healthz_reports_database_and_nats(server: LiveServer, nats_url: str) -> None:
    with server.client() as c:
        r = c.get("/healthz")
        assert r.status_code == 200
        body = r.json()
        assert body["database"]["status"] == "ok"
        assert body["nats"]["status"] in ("ok", "unreachable")


def test_healthz_with_no_nats_is_degraded_and_no_database_is_503(
        postgres_dsn: str, tmp_path: Any) -> None:
    from http_support import serve
    from support import make_settings

    from devtools.services import free_port

    settings = make_settings("postgres", tmp_path, postgres_dsn,
                             nats_url=f"nats://127.0.0.1:{free_port()}")
    for live in serve(settings):
        with live.client() as c:
            body = c.get("/healthz").json()
            assert body["status"] == "degraded" and body["nats"]["status"] == "unreachable"
            assert body["database"]["status"] == "ok"
    # A database that stops answering for this store (its schema dropped) is an error.
    for live in serve(make_settings("postgres", tmp_path, postgres_dsn)):
        with live.client() as c:
            assert c.get("/healthz").status_code == 200
            with psycopg.connect(postgres_dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{live.settings.database_schema}" CASCADE')
            r = c.get("/healthz")
            assert r.status_code == 503 and r.json()["database"]["status"] == "error"
            assert r.json()["status"] == "error"


def test_metrics_count_events_and_bytes(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        before = _metric(c.get("/metrics").text, "ctxstore_events_recorded_total")
        batch = [env(agent, content="hello " * 50, role="user") for _ in range(3)]
        c.post(f"/api/v1/agents/{agent}/events", json=batch).raise_for_status()
        c.post(f"/api/v1/agents/{agent}/events", json=batch[0]).raise_for_status()
        text = c.get("/metrics").text
        assert _metric(text, "ctxstore_events_recorded_total") == before + 3
        assert _metric(text, "ctxstore_events_duplicate_total") >= 1
        raw, stored = _metric(text, "ctxstore_raw_bytes_total"), _metric(
            text, "ctxstore_stored_bytes_total")
        assert raw > stored > 0
        assert "ctxstore_dead_letters" in text and "ctxstore_capture_seconds" in text


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in metrics")
