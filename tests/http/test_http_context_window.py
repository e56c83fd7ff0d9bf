"""GET context's window (`tail`), changes (`since_version`) and ETag, on real traces, on SQLite
and PostgreSQL (issue 16 item 3)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import make_settings

from ctxstore.domain.state import apply_event, content_hash
from ctxstore.domain.window import MAX_TAIL, named_calls
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES

TAU = TRACES / "tau-bench" / "gpt-4o-airline.first-5-runs.json"
SWE = TRACES / "swe-agent" / "6e44b9__sweagenttestrepo-1c2844.traj"
API = "/api/v1"


@pytest.fixture(params=["sqlite", "postgres"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    settings = make_settings(request.param, tmp_path, dsn, checkpoint_interval_minutes=0)
    with TestClient(create_app(bootstrap(settings))) as c:
        yield c


def record_trace(c: TestClient, path: Path) -> str:
    agent = load_trace(path)[0]
    body = [e.model_dump(mode="json", exclude_none=True) for e in agent.envelopes]
    r = c.post(f"{API}/agents/{agent.agent_id}/events", json=body)
    assert r.status_code == 201, r.text
    return agent.agent_id


def get(c: TestClient, agent_id: str, **params: Any) -> dict[str, Any]:
    r = c.get(f"{API}/agents/{agent_id}/context", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("trace", [TAU, SWE], ids=["tau-bench", "swe-agent"])
def test_a_window_is_the_last_messages_with_their_tool_calls(client: TestClient,
                                                             trace: Path) -> None:
    agent_id = record_trace(client, trace)
    full = get(client, agent_id)
    total = len(full["messages"])
    assert total >= 10 and full["tool_calls"], "the trace must have messages and tool calls"
    included_some_calls = False
    for n in (0, 1, 3, 6, total - 1, total, total + 10):
        window = get(client, agent_id, tail=n)
        assert window["messages"] == (full["messages"][-n:] if n else [])
        assert window["window"] == {
            "tail": n, "messages_total": total, "tool_calls_total": len(full["tool_calls"]),
            "reasoning_total": sum(len(s) for s in full["reasoning"].values())}
        # The whole state's hash, and everything but messages, tool calls and reasoning whole.
        assert window["content_hash"] == full["content_hash"]
        for name in ("agent_id", "version", "as_of", "memories", "memory_links", "mcp_servers",
                     "sessions"):
            assert window[name] == full[name], name
        # The last call of each id a window message names, every open call, the last n.
        calls = full["tool_calls"]
        last = {c["call_id"]: at for at, c in enumerate(calls)}
        named = set().union(*map(named_calls, window["messages"]))
        belong = {last[i] for i in named if i in last}
        belong |= {at for at, c in enumerate(calls) if c["result"] is None}
        belong |= set(range(max(len(calls) - n, 0), len(calls)))
        assert window["tool_calls"] == [calls[at] for at in sorted(belong)]
        included_some_calls |= bool(window["tool_calls"]) and n < total
        assert window["reasoning"] == {t: (s[-n:] if n else [])
                                       for t, s in full["reasoning"].items()}
    assert included_some_calls
    whole = get(client, agent_id, tail=total)
    assert {k: v for k, v in whole.items() if k != "window"} == full
    if trace == TAU:
        assert full["memories"], "the tau-bench agent has a memory: a window keeps it"


def test_a_window_keeps_open_tool_calls(client: TestClient) -> None:
    agent_id = record_trace(client, TAU)
    r = client.post(f"{API}/agents/{agent_id}/events", json=[
        {"event_id": "open-call", "agent_id": agent_id, "type": "tool_call",
         "data": {"call_id": "still-waiting", "tool": "lookup", "arguments": {"q": 1}}},
        {"event_id": "after-it", "agent_id": agent_id, "type": "message",
         "data": {"role": "user", "content": "anything?"}}])
    assert r.status_code == 201, r.text
    window = get(client, agent_id, tail=1)
    assert [c["call_id"] for c in window["tool_calls"]] == ["still-waiting"]
    assert window["tool_calls"][0]["result"] is None


def test_a_window_at_a_version_and_at_a_checkpoint(client: TestClient) -> None:
    agent_id = record_trace(client, TAU)
    at_10 = get(client, agent_id, version=10)
    assert get(client, agent_id, version=10, tail=2)["messages"] == at_10["messages"][-2:]
    taken = client.post(f"{API}/context/capture/{agent_id}", json={"label": "w"})
    assert taken.status_code == 201, taken.text
    package_id = taken.json()["package_id"]
    whole = get(client, agent_id, package_id=package_id)
    window = get(client, agent_id, package_id=package_id, tail=4)
    assert window["messages"] == whole["messages"][-4:]
    assert window["content_hash"] == whole["content_hash"]


def test_since_version_gives_the_events_that_make_the_latest(client: TestClient) -> None:
    agent_id = record_trace(client, TAU)
    full = get(client, agent_id)
    for since in (0, 7, full["version"] - 1, full["version"]):
        changes = get(client, agent_id, since_version=since)
        assert changes["since_version"] == since and changes["version"] == full["version"]
        assert changes["next_since_version"] is None and changes["restored"] is False
        assert [e["version"] for e in changes["events"]] == list(
            range(since + 1, full["version"] + 1))
        base = get(client, agent_id, version=since)
        content = copy.deepcopy({k: base[k] for k in ("messages", "reasoning", "tool_calls",
                                                      "memories", "memory_links",
                                                      "mcp_servers")})
        for event in changes["events"]:
            apply_event(content, event["type"], event["data"])
        assert content_hash(content) == full["content_hash"]
    # Up to a version, not past it.
    upto = get(client, agent_id, since_version=3, version=9)
    assert [e["version"] for e in upto["events"]] == list(range(4, 10))


def test_since_version_pages_a_long_change(client: TestClient) -> None:
    for start in (0, 600):
        r = client.post(f"{API}/agents/long/events", json=[
            {"event_id": f"m{i}", "agent_id": "long", "type": "message",
             "data": {"role": "user", "content": f"m{i}"}} for i in range(start, start + 600)])
        assert r.status_code == 201, r.text
    first = get(client, "long", since_version=100)
    assert len(first["events"]) == 1000 and first["next_since_version"] == 1100
    rest = get(client, "long", since_version=first["next_since_version"])
    assert [e["version"] for e in rest["events"]] == list(range(1101, 1201))
    assert rest["next_since_version"] is None


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"tail": -1}, 422, "query.tail"),
    ({"tail": MAX_TAIL + 1}, 422, "query.tail"),
    ({"tail": "many"}, 422, "query.tail"),
    ({"since_version": -1}, 422, "query.since_version"),
    ({"since_version": "x"}, 422, "query.since_version"),
    ({"since_version": 10**6}, 404, "since_version"),
    ({"since_version": 5, "version": 4}, 404, "since_version"),
    ({"since_version": 1, "tail": 2}, 422, "query.since_version"),
    ({"since_version": 1, "at": "2025-01-01T00:00:00Z"}, 422, "query.since_version"),
])
def test_bad_windows_and_changes_name_their_field(client: TestClient, params: dict[str, Any],
                                                  status: int, field: str) -> None:
    agent_id = record_trace(client, SWE)
    r = client.get(f"{API}/agents/{agent_id}/context", params=params)
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["field"] == field, r.text


def test_etag_and_if_none_match(client: TestClient) -> None:
    agent_id = record_trace(client, SWE)
    url = f"{API}/agents/{agent_id}/context"
    first = client.get(url)
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert client.get(url).headers["etag"] == tag  # a version identifies its answer
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    for header in (f'"other", {tag}', f"W/{tag}", "*"):
        assert client.get(url, headers={"If-None-Match": header}).status_code == 304, header
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # Each window and each change list has its own tag; each answers its own 304.
    tags = {tag}
    for params in ({"tail": 2}, {"tail": 3}, {"since_version": 2}, {"version": 3}):
        r = client.get(url, params=params)
        assert r.status_code == 200 and r.headers["etag"] not in tags, params
        tags.add(r.headers["etag"])
        cached = client.get(url, params=params, headers={"If-None-Match": r.headers["etag"]})
        assert cached.status_code == 304, params
    # A new version: the latest has a new tag; the old version keeps its own.
    version = first.json()["version"]
    r = client.post(f"{API}/agents/{agent_id}/events", json=[
        {"event_id": "new-one", "agent_id": agent_id, "type": "message",
         "data": {"role": "user", "content": "more"}}])
    assert r.status_code == 201, r.text
    now = client.get(url, headers={"If-None-Match": tag})
    assert now.status_code == 200 and now.headers["etag"] != tag
    assert now.json()["version"] == version + 1
    then = client.get(url, params={"version": version}, headers={"If-None-Match": tag})
    assert then.status_code == 304


def test_websocket_reads_the_same_window(client: TestClient) -> None:
    agent_id = record_trace(client, TAU)
    over_http = get(client, agent_id, tail=4)
    with client.websocket_connect(f"{API}/ws") as ws:
        ws.send_text(json.dumps({"action": "context", "request_id": 7, "agent_id": agent_id,
                                 "tail": 4}))
        reply = json.loads(ws.receive_text())
        assert reply["type"] == "context" and reply["request_id"] == 7, reply
        assert reply["data"] == over_http
        ws.send_text(json.dumps({"action": "context", "agent_id": agent_id, "tail": -2}))
        error = json.loads(ws.receive_text())
        assert error["type"] == "error" and error["data"]["errors"][0]["field"] == "tail"
