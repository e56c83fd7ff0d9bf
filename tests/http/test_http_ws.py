"""The WebSocket: live events of followed agents; capture and restore with the seed's messages
carrying the same payloads as the HTTP routes."""

from __future__ import annotations

import json
from typing import Any

from http_support import LiveServer
from test_http_api import env, new_agent
from websockets.sync.client import ClientConnection, connect


def recv(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=30))  # a generous deadline
    return message


def test_follow_streams_new_events_of_followed_agents_only(server: LiveServer) -> None:
    followed, other = new_agent(), new_agent()
    with server.client() as c:
        c.post(f"/api/v1/agents/{followed}/events", json=env(followed)).raise_for_status()
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "follow", "agent_ids": [followed], "request_id": "f"}))
            msg = recv(ws)
            assert msg == {"type": "following", "request_id": "f",
                           "data": {"agent_ids": [followed], "versions": {followed: 1}}}
            c.post(f"/api/v1/agents/{other}/events", json=env(other)).raise_for_status()
            batch = [env(followed, content=f"live {i}", role="user") for i in range(3)]
            c.post(f"/api/v1/agents/{followed}/events", json=batch).raise_for_status()
            got = [recv(ws) for _ in range(3)]
            assert [m["type"] for m in got] == ["event"] * 3
            assert [(m["data"]["agent_id"], m["data"]["version"]) for m in got] == [
                (followed, 2), (followed, 3), (followed, 4)]
            assert got[0]["data"]["data"] == {"role": "user", "content": "live 0"}


def test_follow_from_a_version_replays_then_follows(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=[env(agent) for _ in range(3)])
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "follow", "agent_ids": [agent], "after_version": 1}))
        assert recv(ws)["type"] == "following"
        assert [recv(ws)["data"]["version"] for _ in range(2)] == [2, 3]


def test_events_written_elsewhere_arrive_by_polling(server: LiveServer) -> None:
    """An event recorded by another process (here: straight into the store) still arrives."""
    from ctxstore.domain.events import parse_envelope

    agent = new_agent()
    store = server.app.state.api.store
    store.record([parse_envelope(env(agent))])
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "follow", "agent_ids": [agent]}))
        assert recv(ws)["type"] == "following"
        store.record([parse_envelope(env(agent))])  # no hub notification
        msg = recv(ws)  # only polling can bring it, within recv's deadline
        assert msg["type"] == "event" and msg["data"]["version"] == 2


def test_capture_and_restore_over_the_socket(server: LiveServer) -> None:
    agent, fork = new_agent(), new_agent()
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=[env(agent) for _ in range(3)])
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "capture", "agent_id": agent, "label": "ws",
                                "request_id": 7}))
            started, done = recv(ws), recv(ws)
            assert started["type"] == "context_capture_started" and started["request_id"] == 7
            assert done["type"] == "context_captured" and done["request_id"] == 7
            checkpoint = done["data"]
            http = c.get(f"/api/v1/context/packages/{checkpoint['package_id']}").json()
            assert checkpoint == http  # the same payload as the HTTP route
            ws.send(json.dumps({"action": "restore", "package_id": checkpoint["package_id"],
                                "target_agent_id": fork, "request_id": 8}))
            started, done = recv(ws), recv(ws)
            assert started["type"] == "context_restoration_started"
            assert done["type"] == "context_restored"
            assert done["data"]["target_agent_id"] == fork and done["data"]["mode"] == "fork"
            assert done["data"]["content_hash"] == checkpoint["integrity_hash"]
            ws.send(json.dumps({"action": "restore", "target_agent_id": agent, "version": 1}))
            assert recv(ws)["type"] == "context_restoration_started"
            assert recv(ws)["data"]["mode"] == "rewind"


def test_bad_messages_get_errors_and_the_socket_lives_on(server: LiveServer) -> None:
    with connect(server.ws_url) as ws:
        ws.send("not json")
        assert recv(ws)["type"] == "error"
        ws.send(json.dumps({"action": "dance"}))
        assert recv(ws)["data"]["errors"][0]["field"] == "action"
        ws.send(json.dumps({"action": "follow", "agent_ids": ["bad id!"]}))
        msg = recv(ws)
        assert msg["type"] == "error" and msg["data"]["status"] == 422
        ws.send(json.dumps({"action": "capture", "agent_id": "x", "version": -1}))
        msg = recv(ws)
        assert msg["type"] == "error" and msg["data"]["errors"][0]["field"] == "version"
        for action, field, extra in [
                ("follow", "after_version", {"agent_ids": ["x"]}),
                ("capture", "version", {"agent_id": "x"}),
                ("restore", "version", {"source_agent_id": "x", "target_agent_id": "y"})]:
            ws.send(json.dumps({"action": action, field: 2**63, **extra}))
            msg = recv(ws)
            assert msg["type"] == "error" and msg["data"]["status"] == 422, msg
            assert msg["data"]["errors"][0]["field"] == field, msg
        ws.send(json.dumps({"action": "ping", "request_id": 1}))
        assert recv(ws) == {"type": "pong", "request_id": 1, "data": {}}
