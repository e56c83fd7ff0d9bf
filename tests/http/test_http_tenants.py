"""Tenant isolation: keys map to tenants; another tenant's agents and private checkpoints are
invisible (404) for listing, reading, restoring from and writing to."""

from __future__ import annotations

import json

from http_support import LiveServer
from test_http_api import env, new_agent
from websockets.sync.client import connect


def test_keys_are_required_on_every_route(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client() as c:
        for method, path in [("GET", "/api/v1/agents"), ("GET", f"/api/v1/agents/{agent}/context"),
                             ("POST", f"/api/v1/agents/{agent}/events"),
                             ("GET", "/api/v1/context/packages"), ("GET", "/metrics")]:
            r = c.request(method, path, json=env(agent) if method == "POST" else None)
            assert r.status_code == 401, path
            assert "API key" in r.json()["detail"]
        assert c.get("/api/v1/agents", headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.get("/api/v1/agents", headers={"Authorization": "Bearer key-a"}).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes carry no key


def test_one_tenant_cannot_see_or_touch_anothers_agents(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        assert a.post(f"/api/v1/agents/{agent}/events", json=env(agent)).status_code == 201
        assert agent in [x["agent_id"] for x in a.get("/api/v1/agents").json()["items"]]
        assert agent not in [x["agent_id"] for x in b.get("/api/v1/agents").json()["items"]]
        for path in (f"/api/v1/agents/{agent}/context", f"/api/v1/agents/{agent}/events",
                     f"/api/v1/agents/{agent}/evolution"):
            assert b.get(path).status_code == 404, path
        assert b.get(f"/api/v1/agents/{agent}/diff", params={"from": "0"}).status_code == 404
        # Writing to it, capturing it, restoring from it or into it: all 404.
        assert b.post(f"/api/v1/agents/{agent}/events", json=env(agent)).status_code == 404
        assert b.post(f"/api/v1/context/capture/{agent}").status_code == 404
        mine = new_agent()
        b.post(f"/api/v1/agents/{mine}/events", json=env(mine)).raise_for_status()
        r = b.post(f"/api/v1/agents/{mine}/restore", json={"source_agent_id": agent})
        assert r.status_code == 404
        r = b.post(f"/api/v1/agents/{agent}/restore", json={"source_agent_id": mine})
        assert r.status_code == 404
        assert a.get(f"/api/v1/agents/{agent}/context").json()["version"] == 1


def test_private_checkpoints_are_private_public_ones_are_shared(
        keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        a.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
        private = a.post(f"/api/v1/context/capture/{agent}").json()
        public = a.post(f"/api/v1/context/capture/{agent}",
                        json={"access_level": "public", "label": "for all"}).json()
        seen_b = {p["package_id"] for p in b.get("/api/v1/context/packages").json()["items"]}
        assert public["package_id"] in seen_b and private["package_id"] not in seen_b
        pid = private["package_id"]
        assert b.get(f"/api/v1/context/packages/{pid}").status_code == 404
        assert b.get(f"/api/v1/context/packages/{pid}/export").status_code == 404
        target = new_agent()
        assert b.post(f"/api/v1/context/restore/{pid}",
                      json={"target_agent_id": target}).status_code == 404
        assert b.post(f"/api/v1/agents/{target}/restore",
                      json={"package_id": pid}).status_code == 404
        # The public one: readable, exportable, restorable into B's own agent...
        r = b.post(f"/api/v1/context/restore/{public['package_id']}",
                   json={"target_agent_id": target})
        assert r.status_code == 200, r.text
        assert b.get(f"/api/v1/agents/{target}/context").json()["content_hash"] == public[
            "integrity_hash"]
        assert b.get(f"/api/v1/context/packages/{public['package_id']}/export").status_code == 200
        # ...but never into A's agent.
        assert b.post(f"/api/v1/context/restore/{public['package_id']}",
                      params={"target_agent_id": agent}).status_code == 404
        assert target not in [x["agent_id"] for x in a.get("/api/v1/agents").json()["items"]]


def test_websocket_needs_a_key_and_hides_other_tenants(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a:
        a.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
    with connect(keyed_server.ws_url) as ws:
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["data"]["status"] == 401
    with connect(keyed_server.ws_url, additional_headers={"X-API-Key": "key-b"}) as ws:
        ws.send(json.dumps({"action": "follow", "agent_ids": [agent], "request_id": 1}))
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["data"]["status"] == 404
        ws.send(json.dumps({"action": "capture", "agent_id": agent, "request_id": 2}))
        assert json.loads(ws.recv(timeout=10))["type"] == "context_capture_started"
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["data"]["status"] == 404
