"""Tenant isolation: keys map to tenants; another tenant's agents and private checkpoints are
invisible (404) for listing, reading, restoring from and writing to."""

from __future__ import annotations

import json
import uuid

import httpx
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


def test_each_tenant_has_its_own_agent_of_one_id(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        said = [env(agent, role="user", content="a1"), env(agent, role="user", content="a2")]
        assert a.post(f"/api/v1/agents/{agent}/events", json=said).status_code == 201
        assert agent in [x["agent_id"] for x in a.get("/api/v1/agents").json()["items"]]
        assert agent not in [x["agent_id"] for x in b.get("/api/v1/agents").json()["items"]]
        # B has no agent of that id yet: A's is not there for it to read, capture or restore.
        for path in (f"/api/v1/agents/{agent}/context", f"/api/v1/agents/{agent}/events",
                     f"/api/v1/agents/{agent}/evolution"):
            assert b.get(path).status_code == 404, path
        assert b.get(f"/api/v1/agents/{agent}/diff", params={"from": "0"}).status_code == 404
        assert b.post(f"/api/v1/context/capture/{agent}").status_code == 404
        mine = new_agent()
        b.post(f"/api/v1/agents/{mine}/events", json=env(mine)).raise_for_status()
        r = b.post(f"/api/v1/agents/{mine}/restore", json={"source_agent_id": agent})
        assert r.status_code == 404
        # B writing that id makes B's own agent; A's is untouched, and neither sees the other.
        r = b.post(f"/api/v1/agents/{agent}/events",
                   json=env(agent, role="user", content="b1"))
        assert r.status_code == 201 and r.json()["version"] == 1, r.text
        mine_state = a.get(f"/api/v1/agents/{agent}/context").json()
        theirs_state = b.get(f"/api/v1/agents/{agent}/context").json()
        assert [m["content"] for m in mine_state["messages"]] == ["a1", "a2"]
        assert [m["content"] for m in theirs_state["messages"]] == ["b1"]
        assert mine_state["agent_id"] == theirs_state["agent_id"] == agent
        assert [e["version"] for e in b.get(f"/api/v1/agents/{agent}/events").json()["items"]
                ] == [1]
        # A restore into B's agent of that id uses B's agent, never A's.
        r = b.post(f"/api/v1/agents/{agent}/restore", json={"source_agent_id": mine})
        assert r.status_code == 200, r.text
        assert r.json()["target_agent_id"] == agent and r.json()["target_version"] == 2
        assert a.get(f"/api/v1/agents/{agent}/context").json()["version"] == 2
        listed = [x["agent_id"] for x in b.get("/api/v1/agents").json()["items"]]
        assert listed.count(agent) == 1 and "/" not in "".join(listed)
        # Nothing B is shown names the store's key for its agent (`tenant-b/...`).
        b.post(f"/api/v1/context/capture/{agent}").raise_for_status()
        for path in (f"/api/v1/agents/{agent}/events", f"/api/v1/agents/{agent}/context",
                     "/api/v1/context/packages", f"/api/v1/agents/{agent}/evolution"):
            assert "tenant-b/" not in b.get(path).text, path


def test_event_ids_are_idempotency_keys_within_a_tenant(keyed_server: LiveServer) -> None:
    agent, event_id, claimed = new_agent(), str(uuid.uuid4()), str(uuid.uuid4())
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        first = a.post(f"/api/v1/agents/{agent}/events", json=env(agent, event_id=event_id))
        assert first.status_code == 201 and first.json()["recorded"] == 1
        # The same id from B: recorded for B (its own agent), not "A's duplicate".
        other = new_agent()
        r = b.post(f"/api/v1/agents/{other}/events", json=env(other, event_id=event_id))
        assert r.status_code == 201 and r.json()["recorded"] == 1, r.text
        assert r.json()["outcomes"][0]["version"] == 1
        # B claiming an id before A does cannot make A's event be dropped.
        b.post(f"/api/v1/agents/{other}/events", json=env(other, event_id=claimed)
               ).raise_for_status()
        r = a.post(f"/api/v1/agents/{agent}/events", json=env(agent, event_id=claimed))
        assert r.status_code == 201 and r.json()["recorded"] == 1, r.text
        # Within one tenant an id stays a duplicate, with that tenant's version.
        r = a.post(f"/api/v1/agents/{agent}/events", json=env(agent, event_id=event_id))
        assert r.status_code == 200 and r.json()["duplicates"] == 1
        assert r.json()["outcomes"][0]["version"] == 1
        r = b.post(f"/api/v1/agents/{other}/events", json=env(other, event_id=claimed))
        assert r.status_code == 200 and r.json()["outcomes"][0]["version"] == 2
        assert a.get(f"/api/v1/agents/{agent}/context").json()["version"] == 2


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
        # ...and naming A's agent id restores into B's own agent of that id, never A's.
        before = a.get(f"/api/v1/agents/{agent}/context").json()
        r = b.post(f"/api/v1/context/restore/{public['package_id']}",
                   params={"target_agent_id": agent})
        assert r.status_code == 200, r.text
        assert a.get(f"/api/v1/agents/{agent}/context").json() == before
        assert b.get(f"/api/v1/agents/{agent}/context").json()["version"] == 1
        assert target not in [x["agent_id"] for x in a.get("/api/v1/agents").json()["items"]]


def test_websocket_needs_a_key_and_hides_other_tenants(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a:
        a.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
    with connect(keyed_server.ws_url) as ws:
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["data"]["status"] == 401
    with connect(keyed_server.ws_url, additional_headers={"X-API-Key": "key-b"}) as ws:
        # Following that id follows B's own agent of it (none yet): A's events never come.
        ws.send(json.dumps({"action": "follow", "agent_ids": [agent], "request_id": 1}))
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "following" and msg["data"]["versions"] == {agent: 0}, msg
        with keyed_server.client("key-b") as b:
            mine = env(agent)
            b.post(f"/api/v1/agents/{agent}/events", json=mine).raise_for_status()
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "event" and msg["data"]["event_id"] == mine["event_id"], msg
        assert msg["data"]["version"] == 1
        other = new_agent()
        with keyed_server.client("key-a") as a:
            a.post(f"/api/v1/agents/{other}/events", json=env(other)).raise_for_status()
        ws.send(json.dumps({"action": "capture", "agent_id": other, "request_id": 2}))
        assert json.loads(ws.recv(timeout=10))["type"] == "context_capture_started"
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["data"]["status"] == 404

CTXPKG = {"Content-Type": "application/vnd.ctxstore.ctxpkg"}


def _readable(client: httpx.Client, package_id: str) -> bool:
    listed = {p["package_id"] for p in client.get("/api/v1/context/packages").json()["items"]}
    found = client.get(f"/api/v1/context/packages/{package_id}").status_code == 200
    assert found == (package_id in listed)
    return found


def test_shared_checkpoints_are_read_by_the_tenants_they_name(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with (keyed_server.client("key-a") as a, keyed_server.client("key-b") as b,
          keyed_server.client("key-c") as c):
        a.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
        r = a.post(f"/api/v1/context/capture/{agent}",
                   json={"access_level": "shared", "shared_with": ["tenant-b"]})
        assert r.status_code == 201, r.text
        shared = r.json()
        assert shared["shared_with"] == ["tenant-b"] and shared["agent_id"] == agent
        pid = shared["package_id"]
        assert _readable(a, pid) and _readable(b, pid) and not _readable(c, pid)
        assert b.get(f"/api/v1/context/packages/{pid}/export").status_code == 200
        assert c.get(f"/api/v1/context/packages/{pid}/export").status_code == 404
        target = new_agent()
        r = b.post(f"/api/v1/context/restore/{pid}", json={"target_agent_id": target})
        assert r.status_code == 200, r.text
        assert b.get(f"/api/v1/agents/{target}/context").json()["content_hash"] == shared[
            "integrity_hash"]
        assert c.post(f"/api/v1/context/restore/{pid}",
                      json={"target_agent_id": target}).status_code == 404
        # shared_with belongs to `shared` only; a private one stays A's.
        r = a.post(f"/api/v1/context/capture/{agent}",
                   json={"access_level": "private", "shared_with": ["tenant-b"]})
        assert r.status_code == 422 and "shared_with" in r.text
        private = a.post(f"/api/v1/context/capture/{agent}",
                         json={"access_level": "shared"}).json()["package_id"]
        assert _readable(a, private) and not _readable(b, private)


def test_diff_never_reaches_another_tenants_agent(keyed_server: LiveServer) -> None:
    only_a, both = new_agent(), new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        for client, agent, text in ((a, only_a, "a-only"), (a, both, "a-both"),
                                    (b, both, "b-both")):
            client.post(f"/api/v1/agents/{agent}/events",
                        json=env(agent, role="user", content=text)).raise_for_status()
        r = b.get(f"/api/v1/agents/{both}/diff",
                  params={"from": "0", "other_agent_id": only_a})
        assert r.status_code == 404, r.text
        # The id both tenants use: B's diff compares with B's own agent of that id.
        r = b.get(f"/api/v1/agents/{both}/diff", params={"from": "0", "other_agent_id": both})
        assert r.status_code == 200, r.text
        assert "b-both" in r.text and "a-both" not in r.text
        private = a.post(f"/api/v1/context/capture/{both}").json()["package_id"]
        r = b.get(f"/api/v1/agents/{both}/diff", params={"from": private})
        assert r.status_code == 404, r.text


def test_import_of_a_package_id_another_tenant_holds(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        a.post(f"/api/v1/agents/{agent}/events",
               json=env(agent, role="user", content="from a")).raise_for_status()
        held = a.post(f"/api/v1/context/capture/{agent}").json()
        data = a.get(f"/api/v1/context/packages/{held['package_id']}/export").content
        before = a.get(f"/api/v1/agents/{agent}/context").json()
        # B imports A's file: the id is A's too, which neither blocks B nor shows through.
        r = b.post("/api/v1/context/packages/import", content=data, headers=CTXPKG)
        assert r.status_code in (200, 201), r.text
        mine = r.json()
        assert mine["package_id"] == held["package_id"] and mine["origin"] == "imported"
        assert mine["agent_id"] == agent
        # B's copy lives in B's namespace: B's own agent of that id was made from it...
        assert b.get(f"/api/v1/agents/{agent}/context").json()["content_hash"] == held[
            "integrity_hash"]
        assert b.get(f"/api/v1/context/packages/{held['package_id']}").json()["origin"] == (
            "imported")
        # ...and A's checkpoint and agent are as they were.
        assert a.get(f"/api/v1/context/packages/{held['package_id']}").json() == held
        assert a.get(f"/api/v1/agents/{agent}/context").json() == before
        # Importing again is B's own duplicate, answered with B's copy.
        again = b.post("/api/v1/context/packages/import", content=data, headers=CTXPKG)
        assert again.status_code in (200, 201) and again.json()["origin"] == "imported"
