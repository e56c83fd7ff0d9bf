"""Per-agent automatic checkpoints over HTTP and the WebSocket, against a real server whose
runner takes the rounds (`serve` runs them); waits are on state, with generous deadlines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from http_support import LiveServer
from test_http_api import env, new_agent
from websockets.sync.client import connect

ROUTE = "/api/v1/agents/{}/auto-checkpoints"


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def record(c: httpx.Client, agent: str, text: str) -> None:
    r = c.post(f"/api/v1/agents/{agent}/events",
               json=env(agent, role="user", content=text))
    assert r.status_code == 201, r.text


def status(c: httpx.Client, agent: str) -> dict[str, Any]:
    r = c.get(ROUTE.format(agent))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def autos(c: httpx.Client, agent: str) -> list[str]:
    packages = c.get("/api/v1/context/packages", params={"agent_id": agent}).json()["items"]
    return [p["package_id"] for p in packages if p["label"] == "auto"]


def test_start_runs_rounds_in_the_server_and_stop_ends_them(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        record(c, agent, "one")
        r = c.put(ROUTE.format(agent), json={"interval_minutes": 0.005, "max_checkpoints": 2})
        assert r.status_code == 200, r.text
        assert (r.json()["interval_minutes"], r.json()["max_checkpoints"]) == (0.005, 2)
        wait_for(lambda: status(c, agent)["schedules"][0]["last_package_id"] is not None)
        (first,) = autos(c, agent)
        assert status(c, agent)["schedules"][0]["last_package_id"] == first
        taken = [first]
        for text in ("two", "three"):
            record(c, agent, text)
            wait_for(lambda: status(c, agent)["schedules"][0]["last_package_id"] != taken[-1])
            taken.append(status(c, agent)["schedules"][0]["last_package_id"])
        assert sorted(autos(c, agent)) == sorted(taken[-2:])  # its maximum, newest kept
        listing = c.get("/api/v1/auto-checkpoints").json()
        assert agent in [s["agent_id"] for s in listing["schedules"]]
        assert {"next_due_at", "last_capture_at", "last_error"} <= set(listing["schedules"][0])
        r = c.delete(ROUTE.format(agent))
        assert r.status_code == 200 and r.json()["agent_id"] == agent
        assert status(c, agent)["schedules"] == []
        assert c.delete(ROUTE.format(agent)).status_code == 404


def test_bad_parameters_are_422_naming_the_field_and_unknown_agents_404(
        server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        record(c, agent, "one")
        for body, field in (({"interval_minutes": 0}, "interval_minutes"),
                            ({"max_checkpoints": 0}, "max_checkpoints"),
                            ({"interval": 5}, "interval")):
            r = c.put(ROUTE.format(agent), json=body)
            assert r.status_code == 422, r.text
            assert field in r.text
        r = c.put(ROUTE.format(agent), params={"interval_minutes": "soon"})
        assert r.status_code == 422 and "interval_minutes" in r.text
        assert c.put(ROUTE.format(new_agent()), json={}).status_code == 404
        assert c.get(ROUTE.format(new_agent())).status_code == 404


def test_tenants_see_and_change_only_their_own_schedules(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        record(a, agent, "mine")
        assert a.put(ROUTE.format(agent), json={"interval_minutes": 60}).status_code == 200
        assert b.put(ROUTE.format(agent), json={"interval_minutes": 60}).status_code == 404
        assert b.delete(ROUTE.format(agent)).status_code == 404
        assert b.get("/api/v1/auto-checkpoints").json()["schedules"] == []
        assert [s["agent_id"] for s in a.get("/api/v1/auto-checkpoints").json()["schedules"]
                ] == [agent]


def test_the_websocket_starts_and_stops_a_schedule(server: LiveServer) -> None:
    agent = new_agent()
    with server.client() as c:
        record(c, agent, "one")
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "start_automatic_checkpointing", "agent_id": agent,
                                "interval_minutes": 45, "max_checkpoints": 3,
                                "request_id": "s"}))
            reply = json.loads(ws.recv(timeout=30))
            assert reply["type"] == "automatic_checkpointing_started", reply
            assert reply["request_id"] == "s" and reply["data"]["max_checkpoints"] == 3
            assert status(c, agent)["schedules"][0]["interval_minutes"] == 45
            ws.send(json.dumps({"action": "start_automatic_checkpointing", "agent_id": agent,
                                "interval_minutes": -1}))
            error = json.loads(ws.recv(timeout=30))
            assert error["type"] == "error" and "interval_minutes" in json.dumps(error)
            ws.send(json.dumps({"action": "stop_automatic_checkpointing", "agent_id": agent}))
            assert json.loads(ws.recv(timeout=30))["type"] == "automatic_checkpointing_stopped"
        assert status(c, agent)["schedules"] == []
