"""DELETE /api/v1/agents/{id}: forget an agent (right to erasure), through the HTTP door and the
Python client, on SQLite and PostgreSQL, with tenants."""

from __future__ import annotations

import pytest
from http_support import LiveServer
from test_http_api import env, new_agent

from ctxstore.infrastructure.client import AsyncClient, Client, Gone, NotFound


def _said(c: object, agent: str, *texts: str) -> list[dict[str, object]]:
    events = [env(agent, content=t, role="user") for t in texts]
    r = c.post(f"/api/v1/agents/{agent}/events", json=events)  # type: ignore[attr-defined]
    assert r.status_code == 201, r.text
    return events


def test_forget_removes_the_agent_and_refuses_it_after(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a:
        events = _said(a, agent, "first", "second")
        assert a.post(f"/api/v1/context/capture/{agent}").status_code == 201
        r = a.delete(f"/api/v1/agents/{agent}", params={"by": "dpo@example.com"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["agent_id"] == agent and body["forgotten_by"] == "dpo@example.com"
        # Two messages and the checkpoint's CheckpointTaken event (each with its id); its row.
        assert body["events"] == 3 and body["checkpoints"] == 1 and body["event_ids"] == 3
        assert agent not in [x["agent_id"] for x in a.get("/api/v1/agents").json()["items"]]
        assert a.get(f"/api/v1/agents/{agent}/context").status_code == 404
        assert a.get(f"/api/v1/agents/{agent}/events").status_code == 404
        assert a.get("/api/v1/context/packages", params={"agent_id": agent}
                     ).json()["packages"] == []
        # A second forget, a redelivered event and a new event: the tombstone answers (410).
        again = a.delete(f"/api/v1/agents/{agent}")
        assert again.status_code == 410 and "dpo@example.com" in again.json()["detail"]
        redelivered = a.post(f"/api/v1/agents/{agent}/events", json=events[0])
        assert redelivered.status_code == 410, redelivered.text
        assert "forgotten" in redelivered.json()["detail"]
        assert a.post(f"/api/v1/agents/{agent}/events", json=env(agent)).status_code == 410
        assert a.get(f"/api/v1/agents/{agent}/context").status_code == 404


def test_forget_sees_only_the_callers_agents(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        _said(a, agent, "a's")
        assert b.delete(f"/api/v1/agents/{agent}").status_code == 404  # not B's
        _said(b, agent, "b's")
        r = b.delete(f"/api/v1/agents/{agent}")
        assert r.status_code == 200 and r.json()["forgotten_by"] == "api:tenant-b", r.text
        # A's agent of that id is untouched, and A may go on writing it.
        state = a.get(f"/api/v1/agents/{agent}/context").json()
        assert [m["content"] for m in state["messages"]] == ["a's"]
        _said(a, agent, "a's again")
        # B's tombstone is B's: A forgetting its own agent is a fresh forget, not a 410.
        assert a.delete(f"/api/v1/agents/{agent}").status_code == 200
        assert b.delete(f"/api/v1/agents/{new_agent()}").status_code == 404


def test_forget_refuses_bad_input(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a:
        _said(a, agent, "x")
        assert a.delete("/api/v1/agents/not%20an%20id").status_code == 422
        r = a.delete(f"/api/v1/agents/{agent}", params={"by": "x\u0000y"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("by")
        assert a.delete(f"/api/v1/agents/{agent}", params={"who": "me"}).status_code == 422
        assert a.get(f"/api/v1/agents/{agent}/context").status_code == 200  # still there


def test_client_forget(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-c") as raw:
        _said(raw, agent, "to forget")
    with Client(keyed_server.url, api_key="key-c") as client:
        result = client.forget(agent, by="tests")
        assert result.agent_id == agent and result.events == 1 and result.forgotten_by == "tests"
        with pytest.raises(Gone):
            client.forget(agent)
        with pytest.raises(NotFound):
            client.forget(new_agent())


async def test_async_client_forget(keyed_server: LiveServer) -> None:
    agent = new_agent()
    async with AsyncClient(keyed_server.url, api_key="key-a") as client:
        recorded = await client.record(agent, [env(agent, content="bye", role="user")])
        assert recorded.recorded == 1
        result = await client.forget(agent)
        assert (result.agent_id, result.events, result.forgotten_by) == (agent, 1,
                                                                          "api:tenant-a")
        with pytest.raises(Gone):
            await client.forget(agent)
