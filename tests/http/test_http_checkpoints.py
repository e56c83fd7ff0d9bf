"""Checkpoint, restore, catalogue, export/import, diff and evolution routes on a live server."""

from __future__ import annotations

import uuid

from http_support import LiveServer
from test_http_api import env, new_agent

from ctxstore.infrastructure.projection_worker import ProjectionWorker


def seed(server: LiveServer, agent: str, n: int = 4) -> None:
    batch = [env(agent, content=f"m{i}", role="user") for i in range(n)]
    batch.append(env(agent, "memory_stored", memory_id="m1", kind="semantic", content="fact"))
    with server.client() as c:
        assert c.post(f"/api/v1/agents/{agent}/events", json=batch).status_code == 201


def test_capture_restore_rewind_and_fork(server: LiveServer) -> None:
    agent, fork = new_agent(), new_agent()
    seed(server, agent)
    with server.client() as c:
        cp = c.post(f"/api/v1/context/capture/{agent}", json={"label": "before"})
        assert cp.status_code == 201, cp.text
        cp = cp.json()
        assert (cp["version"], cp["message_count"], cp["memory_count"]) == (5, 4, 1)
        assert cp["integrity_hash"] == c.get(f"/api/v1/agents/{agent}/context").json()[
            "content_hash"]
        c.post(f"/api/v1/agents/{agent}/events", json=env(agent, content="later", role="user"))
        # Fork into a new agent from the checkpoint.
        r = c.post(f"/api/v1/context/restore/{cp['package_id']}",
                   json={"target_agent_id": fork})
        assert r.status_code == 200, r.text
        assert r.json()["mode"] == "fork" and r.json()["content_hash"] == cp["integrity_hash"]
        assert c.get(f"/api/v1/agents/{fork}/context").json()["content_hash"] == cp[
            "integrity_hash"]
        # Rewind the agent itself to version 2, then merge the checkpoint back in.
        r = c.post(f"/api/v1/agents/{agent}/restore", json={"version": 2})
        assert r.status_code == 200 and r.json()["mode"] == "rewind"
        ctx = c.get(f"/api/v1/agents/{agent}/context").json()
        assert [m["content"] for m in ctx["messages"]] == ["m0", "m1"]
        r = c.post(f"/api/v1/agents/{agent}/restore",
                   json={"package_id": cp["package_id"], "merge_strategy": "merge",
                         "validation_level": "comprehensive"})
        assert r.status_code == 200, r.text
        assert r.json()["base"] == "checkpoint"
        history = c.get(f"/api/v1/agents/{agent}/events",
                        params={"types": "context_restored,checkpoint_taken"}).json()
        assert [i["type"] for i in history["items"]] == ["checkpoint_taken", "context_restored",
                                                         "context_restored"]


def test_restore_errors_name_the_field(server: LiveServer) -> None:
    agent = new_agent()
    seed(server, agent)
    with server.client() as c:
        r = c.post(f"/api/v1/agents/{agent}/restore", json={"version": 1, "package_id": "x"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "package_id"
        r = c.post(f"/api/v1/agents/{agent}/restore", json={"merge_strategy": "blend"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.merge_strategy"
        r = c.post(f"/api/v1/agents/{agent}/restore", json={"version": 99})
        assert r.status_code == 404
        assert c.post("/api/v1/context/restore/ckpt-nope",
                      params={"target_agent_id": agent}).status_code == 404
        assert c.post(f"/api/v1/context/capture/{new_agent()}").status_code == 404


def test_catalogue_filters_and_paging(server: LiveServer) -> None:
    agent = new_agent()
    seed(server, agent, n=2)
    tag = uuid.uuid4().hex[:8]
    with server.client() as c:
        small = c.post(f"/api/v1/context/capture/{agent}",
                       json={"label": f"small-{tag}", "version": 1}).json()
        big = c.post(f"/api/v1/context/capture/{agent}", json={"label": f"big-{tag}"}).json()
        page = c.get("/api/v1/context/packages", params={"agent_id": agent}).json()
        assert [p["package_id"] for p in page["items"]] == [big["package_id"],
                                                           small["package_id"]]
        assert c.get("/api/v1/context/packages", params={
            "q": f"SMALL-{tag}"}).json()["items"][0]["package_id"] == small["package_id"]
        assert c.get("/api/v1/context/packages", params={
            "agent_id": agent, "min_message_count": 2}).json()["total"] == 1
        assert c.get("/api/v1/context/packages", params={
            "agent_id": agent, "created_after": small["created_at"]}).json()["total"] == 1
        one = c.get("/api/v1/context/packages", params={"agent_id": agent, "limit": 1}).json()
        assert one["total"] == 2 and one["next_offset"] == 1
        got = c.get(f"/api/v1/context/packages/{small['package_id']}").json()
        assert got == small


def test_export_then_import_elsewhere(server: LiveServer, postgres_dsn: str,
                                      tmp_path: object) -> None:
    from http_support import serve
    from support import make_settings

    agent = new_agent()
    seed(server, agent)
    with server.client() as c:
        cp = c.post(f"/api/v1/context/capture/{agent}").json()
        data = c.get(f"/api/v1/context/packages/{cp['package_id']}/export")
        assert data.status_code == 200 and data.content.startswith(b"CTXPKG")
    for other in serve(make_settings("postgres", tmp_path, postgres_dsn)):  # type: ignore[arg-type]
        with other.client() as c:
            bad = c.post("/api/v1/context/packages/import", content=data.content[:-5] + b"xxxxx",
                         headers={"content-type": "application/vnd.ctxstore.ctxpkg"})
            assert bad.status_code == 422 and "checksum" in bad.json()["detail"]
            r = c.post("/api/v1/context/packages/import", content=data.content,
                       headers={"content-type": "application/octet-stream"})
            assert r.status_code == 201, r.text
            assert r.json()["origin"] == "imported"
            assert r.json()["integrity_hash"] == cp["integrity_hash"]
            target = new_agent()
            r = c.post(f"/api/v1/context/restore/{cp['package_id']}",
                       json={"target_agent_id": target})
            assert r.json()["content_hash"] == cp["integrity_hash"]


def test_diff_between_points(server: LiveServer) -> None:
    agent = new_agent()
    seed(server, agent)
    with server.client() as c:
        r = c.get(f"/api/v1/agents/{agent}/diff", params={"from": "2", "to": "latest"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["summary"]["messages_added"] == 2 and body["summary"]["memories_stored"] == 1
        assert not body["identical"]
        r = c.get(f"/api/v1/agents/{agent}/diff", params={"from": "at:yesterday"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.from"


def test_evolution_reads_the_projection(server: LiveServer) -> None:
    agent = new_agent()
    seed(server, agent)
    api = server.app.state.api
    ProjectionWorker(api.store, api.services.views).run_once()
    with server.client() as c:
        r = c.get(f"/api/v1/agents/{agent}/evolution", params={"bucket": "minute"})
        assert r.status_code == 200, r.text
        points = r.json()["points"]
        assert sum(p["messages"] for p in points) == 4
        assert sum(p["memories_stored"] for p in points) == 1
        assert points[-1]["version"] == 5 and r.json()["position"] is not None
        assert c.get(f"/api/v1/agents/{agent}/evolution",
                     params={"bucket": "week"}).status_code == 422
