"""The seed's routes take their parameters from the query string (its route signatures) or a JSON
body (its UI) alike, and whatever would be silently ignored or misread is a 422 naming the
parameter, with nothing written: an unknown parameter, the same one given twice with different
values, a restore without its target, a capture of no part. A selective capture (`include_*`
false) is a partial checkpoint (issue 14)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from http_support import LiveServer
from test_http_api import env, new_agent
from websockets.sync.client import connect

STORE_TYPES = {"types": "context_restored,checkpoint_taken"}


def seeded(c: httpx.Client, messages: int = 3) -> str:
    agent = new_agent()
    batch = [env(agent, content=f"m{i}", role="user") for i in range(messages)]
    assert c.post(f"/api/v1/agents/{agent}/events", json=batch).status_code == 201
    return agent


def checkpoint(c: httpx.Client, agent: str) -> dict[str, Any]:
    r = c.post(f"/api/v1/context/capture/{agent}")
    assert r.status_code == 201, r.text
    cp: dict[str, Any] = r.json()
    return cp


def fields(r: httpx.Response) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]


class Untouched:
    """What a refused request must leave as it was: the agents' versions and store events,
    the agent list and the checkpoint catalogue."""

    def __init__(self, c: httpx.Client, *agents: str):
        self.c, self.agents = c, agents
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        c = self.c
        agents = {a["agent_id"]: a["version"]
                  for a in c.get("/api/v1/agents", params={"limit": 1000}).json()["items"]}
        return {
            "agents": agents,
            "store_events": {a: c.get(f"/api/v1/agents/{a}/events", params=STORE_TYPES
                                      ).json()["items"] for a in self.agents},
            "checkpoints": c.get("/api/v1/context/packages").json()["total"],
        }

    def check(self) -> None:
        assert self.snapshot() == self.before


def test_the_seeds_query_form_restores_into_the_target_not_the_source(
        server: LiveServer) -> None:
    with server.client() as c:
        source, target = seeded(c), new_agent()
        cp = checkpoint(c, source)
        c.post(f"/api/v1/agents/{source}/events", json=env(source, content="later", role="user"))
        before = c.get(f"/api/v1/agents/{source}/context").json()
        # The seed's own signature: every parameter in the query, no body.
        r = c.post(f"/api/v1/context/restore/{cp['package_id']}?target_agent_id={target}"
                   "&validation_level=comprehensive")
        assert r.status_code == 200, r.text
        result = r.json()
        assert (result["target_agent_id"], result["mode"], result["validation_level"]) == (
            target, "fork", "comprehensive")
        assert c.get(f"/api/v1/agents/{target}/context").json()["content_hash"] == cp[
            "integrity_hash"]
        # The source is untouched: same state, same version, no restore event.
        assert c.get(f"/api/v1/agents/{source}/context").json() == before
        assert [i["type"] for i in c.get(f"/api/v1/agents/{source}/events",
                                         params=STORE_TYPES).json()["items"]] == [
            "checkpoint_taken"]


def test_the_seeds_body_form_restores_into_the_target(server: LiveServer) -> None:
    with server.client() as c:
        source, target = seeded(c), new_agent()
        cp = checkpoint(c, source)
        before = c.get(f"/api/v1/agents/{source}/context").json()
        # The seed's UI call, as it sends it.
        r = c.post(f"/api/v1/context/restore/{cp['package_id']}", json={
            "target_agent_id": target, "validation_level": "comprehensive",
            "merge_strategy": "replace"})
        assert r.status_code == 200, r.text
        assert (r.json()["target_agent_id"], r.json()["validation_level"]) == (
            target, "comprehensive")
        assert c.get(f"/api/v1/agents/{target}/context").json()["content_hash"] == cp[
            "integrity_hash"]
        assert c.get(f"/api/v1/agents/{source}/context").json() == before


def test_naming_the_source_as_target_is_a_rewind(server: LiveServer) -> None:
    with server.client() as c:
        source = seeded(c, messages=2)
        cp = checkpoint(c, source)
        c.post(f"/api/v1/agents/{source}/events", json=env(source, content="later", role="user"))
        r = c.post(f"/api/v1/context/restore/{cp['package_id']}",
                   params={"target_agent_id": source})
        assert r.status_code == 200 and r.json()["mode"] == "rewind", r.text
        ctx = c.get(f"/api/v1/agents/{source}/context").json()
        assert [m["content"] for m in ctx["messages"]] == ["m0", "m1"]


def test_a_restore_without_its_target_is_refused(server: LiveServer) -> None:
    with server.client() as c:
        source = seeded(c)
        cp = checkpoint(c, source)
        untouched = Untouched(c, source)
        for body in (None, {}, {"validation_level": "comprehensive"}):
            r = c.post(f"/api/v1/context/restore/{cp['package_id']}", json=body)
            assert r.status_code == 422, r.text
            assert fields(r) == ["target_agent_id"]
            assert "query string or the JSON body" in r.json()["errors"][0]["message"]
        r = c.post(f"/api/v1/context/restore/{cp['package_id']}?validation_level=comprehensive")
        assert r.status_code == 422 and fields(r) == ["target_agent_id"]
        untouched.check()


def test_the_same_parameter_in_query_and_body(server: LiveServer) -> None:
    with server.client() as c:
        source, target, other = seeded(c), new_agent(), new_agent()
        cp = checkpoint(c, source)
        url = f"/api/v1/context/restore/{cp['package_id']}"
        untouched = Untouched(c, source)
        r = c.post(url, params={"target_agent_id": target}, json={"target_agent_id": other})
        assert r.status_code == 422 and fields(r) == ["target_agent_id"], r.text
        message = r.json()["errors"][0]["message"]
        assert target in message and other in message and "give it once" in message
        r = c.post(url, params={"target_agent_id": target, "validation_level": "basic"},
                   json={"target_agent_id": target, "validation_level": "comprehensive"})
        assert r.status_code == 422 and fields(r) == ["validation_level"], r.text
        # Twice in the query is no better.
        r = c.post(f"{url}?target_agent_id={target}&target_agent_id={other}")
        assert r.status_code == 422 and fields(r) == ["query.target_agent_id"], r.text
        untouched.check()
        assert c.get(f"/api/v1/agents/{target}/context").status_code == 404
        assert c.get(f"/api/v1/agents/{other}/context").status_code == 404
        # Equal values (parsed alike) in both are one parameter.
        r = c.post(f"{url}?target_agent_id={target}&validation_level=comprehensive",
                   json={"target_agent_id": target, "validation_level": "comprehensive"})
        assert r.status_code == 200 and r.json()["target_agent_id"] == target, r.text
        r = c.post(f"/api/v1/context/capture/{source}?include_memory=1",
                   json={"include_memory": True})
        assert r.status_code == 201, r.text
        r = c.post(f"/api/v1/context/capture/{source}?version=1", json={"version": 2})
        assert r.status_code == 422 and fields(r) == ["version"], r.text


@pytest.mark.parametrize("route", ["capture", "restore", "restore_into"])
def test_an_unknown_parameter_is_refused_by_name(server: LiveServer, route: str) -> None:
    with server.client() as c:
        source, target = seeded(c), new_agent()
        cp = checkpoint(c, source)
        url, known = {
            "capture": (f"/api/v1/context/capture/{source}", {}),
            "restore": (f"/api/v1/context/restore/{cp['package_id']}",
                        {"target_agent_id": target}),
            "restore_into": (f"/api/v1/agents/{target}/restore", {"source_agent_id": source}),
        }[route]
        untouched = Untouched(c, source)
        # `target_agent` for `target_agent_id`: a typo the route would otherwise ignore.
        r = c.post(url, params={**known, "target_agent": "x"})
        assert r.status_code == 422 and fields(r) == ["query.target_agent"], r.text
        assert "unknown parameter" in r.json()["errors"][0]["message"]
        r = c.post(url, json={**known, "merge": "replace"})
        assert r.status_code == 422 and fields(r) == ["body.merge"], r.text
        r = c.post(url, params=known, json={"verson": 1})
        assert r.status_code == 422 and fields(r) == ["body.verson"], r.text
        untouched.check()


def test_routes_taking_no_query_parameters_refuse_them(server: LiveServer) -> None:
    with server.client() as c:
        agent = seeded(c)
        cp = checkpoint(c, agent)
        data = c.get(f"/api/v1/context/packages/{cp['package_id']}/export").content
        untouched = Untouched(c, agent)
        r = c.post(f"/api/v1/agents/{agent}/events", params={"agent_id": "x"},
                   json=env(agent))
        assert r.status_code == 422 and fields(r) == ["query.agent_id"], r.text
        r = c.post("/api/v1/context/packages/import", params={"overwrite": "true"},
                   content=data, headers={"content-type": "application/octet-stream"})
        assert r.status_code == 422 and fields(r) == ["query.overwrite"], r.text
        untouched.check()


def test_a_body_that_is_not_an_object_of_parameters(server: LiveServer) -> None:
    with server.client() as c:
        source = seeded(c)
        cp = checkpoint(c, source)
        untouched = Untouched(c, source)
        url = f"/api/v1/context/restore/{cp['package_id']}"
        deep = b'{"target_agent_id": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
        for content in (b"[1, 2]", b'"x"', b"{not json", deep, "{}".encode("utf-16")):
            r = c.post(url, content=content, headers={"content-type": "application/json"})
            assert r.status_code == 422 and fields(r) == ["body"], r.text
        # JSON `null` or any other non-object is refused on every seed route, as the README says.
        for route in (url, f"/api/v1/context/capture/{source}",
                      f"/api/v1/agents/{new_agent()}/restore?source_agent_id={source}"):
            for content in (b"null", b" null ", b"5", b"true"):
                r = c.post(route, content=content, headers={"content-type": "application/json"})
                assert r.status_code == 422 and fields(r) == ["body"], (route, content, r.text)
        r = c.post(url, params={"target_agent_id": "not a valid id!"})
        assert r.status_code == 422 and fields(r) == ["query.target_agent_id"], r.text
        r = c.post(url, json={"target_agent_id": 5})
        assert r.status_code == 422 and fields(r) == ["body.target_agent_id"], r.text
        untouched.check()


def test_capture_takes_its_parameters_from_query_or_body(server: LiveServer) -> None:
    with server.client() as c:
        agent = seeded(c)
        r = c.post(f"/api/v1/context/capture/{agent}",
                   params={"label": "from the query", "version": "2", "session_id": "s-1",
                           "access_level": "public"})
        assert r.status_code == 201, r.text
        got = r.json()
        assert (got["label"], got["version"], got["session_id"], got["access_level"]) == (
            "from the query", 2, "s-1", "public")
        latest = c.get(f"/api/v1/agents/{agent}/context").json()["version"]
        # The seed's UI capture call, as it sends it.
        r = c.post(f"/api/v1/context/capture/{agent}", json={
            "session_id": "s-2", "include_memory": True, "include_mcp_state": True,
            "include_conversation": True})
        assert r.status_code == 201, r.text
        assert (r.json()["session_id"], r.json()["version"]) == ("s-2", latest)


PARTS = {"include_conversation": "conversation", "include_memory": "memory",
         "include_mcp_state": "mcp_state"}


@pytest.mark.parametrize("name", list(PARTS))
def test_selective_capture_leaves_the_part_out(server: LiveServer, name: str) -> None:
    """Issue 14 turned the 422 of `include_*=false` into a partial checkpoint."""
    with server.client() as c:
        agent = seeded(c)
        url = f"/api/v1/context/capture/{agent}"
        # The seed's FastAPI signature reads these booleans from the query: same spellings.
        for yes in ("true", "1", "True"):
            r = c.post(url, params={name: yes})
            assert r.status_code == 201 and r.json()["parts"] == list(PARTS.values()), r.text
        kept = [p for p in PARTS.values() if p != PARTS[name]]
        for no in ("false", "0", "False"):
            r = c.post(url, params={name: no})
            assert r.status_code == 201 and r.json()["parts"] == kept, r.text
        r = c.post(url, json={name: False})
        assert r.status_code == 201 and r.json()["parts"] == kept, r.text
        got = c.get(f"/api/v1/context/packages/{r.json()['package_id']}").json()
        assert got["parts"] == kept
        untouched = Untouched(c, agent)
        r = c.post(url, params={name: "maybe"})
        assert r.status_code == 422 and fields(r) == [f"query.{name}"], r.text
        assert "boolean" in r.text
        untouched.check()


def test_a_capture_of_no_part_is_refused(server: LiveServer) -> None:
    with server.client() as c:
        agent = seeded(c)
        untouched = Untouched(c, agent)
        r = c.post(f"/api/v1/context/capture/{agent}", params={f: "false" for f in PARTS})
        assert r.status_code == 422 and fields(r) == ["query.include_conversation"], r.text
        assert "at least one part" in r.text
        r = c.post(f"/api/v1/context/capture/{agent}", json={f: False for f in PARTS})
        assert r.status_code == 422 and fields(r) == ["body.include_conversation"], r.text
        untouched.check()


def test_a_partial_replace_restore_over_http_answers_the_seeds_fields(
        server: LiveServer) -> None:
    with server.client() as c:
        source, target = seeded(c), seeded(c, messages=2)
        c.post(f"/api/v1/agents/{source}/events", json=[env(source, "memory_stored", memory_id="m1",
                                                          kind="semantic", content="fact")])
        before = c.get(f"/api/v1/agents/{target}/context").json()
        r = c.post(f"/api/v1/context/capture/{source}", json={
            "session_id": "s", "include_conversation": False})
        assert r.status_code == 201, r.text
        cp = r.json()
        assert cp["parts"] == ["memory", "mcp_state"] and cp["message_count"] == 0
        r = c.post(f"/api/v1/context/restore/{cp['package_id']}", json={
            "target_agent_id": target, "validation_level": "comprehensive",
            "merge_strategy": "replace"})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["success"] is True and answer["parts"] == ["memory", "mcp_state"]
        assert answer["restoration_details"]["parts"] == ["memory", "mcp_state"]
        assert answer["restoration_details"]["mode"] == "into_existing"
        check = answer["validation_result"]
        assert (check["level"], check["outcome"]) == ("comprehensive", "passed")
        assert check["expected_hash"] == check["actual_hash"] == cp["integrity_hash"]
        after = c.get(f"/api/v1/agents/{target}/context").json()
        assert after["messages"] == before["messages"]  # the conversation stays
        assert list(after["memories"]) == ["m1"]
        assert answer["content_hash"] == after["content_hash"]


def test_the_package_list_answers_the_seeds_fields_beside_ours(server: LiveServer) -> None:
    with server.client() as c:
        agent = seeded(c)
        ids = [checkpoint(c, agent)["package_id"] for _ in range(3)]
        page = c.get("/api/v1/context/packages", params={"agent_id": agent, "limit": 2}).json()
        assert page["total"] == 3 and page["next_offset"] == 2
        assert page["packages"] == page["items"] and len(page["packages"]) == 2
        assert {p["package_id"] for p in page["packages"]} <= set(ids)
        for package in page["packages"]:
            assert package["size_bytes"] == package["compressed_size_bytes"] > 0


def test_restore_into_takes_its_parameters_from_query_or_body(server: LiveServer) -> None:
    with server.client() as c:
        source, fork = seeded(c), new_agent()
        r = c.post(f"/api/v1/agents/{fork}/restore",
                   params={"source_agent_id": source, "version": "2"})
        assert r.status_code == 200, r.text
        ctx = c.get(f"/api/v1/agents/{fork}/context").json()
        assert [m["content"] for m in ctx["messages"]] == ["m0", "m1"]
        r = c.post(f"/api/v1/agents/{fork}/restore", json={"source_agent_id": source})
        assert r.status_code == 200 and r.json()["source_version"] == 3, r.text


def test_openapi_describes_the_query_form(server: LiveServer) -> None:
    doc = httpx.get(server.url + "/openapi.json").json()
    for path, expected in (
            ("/api/v1/context/restore/{package_id}",
             {"target_agent_id", "validation_level", "merge_strategy"}),
            ("/api/v1/context/capture/{agent_id}",
             {"label", "version", "session_id", "access_level", "shared_with", "include_memory",
              "include_mcp_state", "include_conversation"}),
            ("/api/v1/agents/{agent_id}/restore",
             {"source_agent_id", "version", "at", "package_id", "merge_strategy",
              "validation_level"})):
        operation = doc["paths"][path]["post"]
        query = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert set(query) == expected, path
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert set(body["properties"]) == expected, path
        assert body["additionalProperties"] is False
    restore = doc["paths"]["/api/v1/context/restore/{package_id}"]["post"]
    query = {p["name"]: p for p in restore["parameters"] if p["in"] == "query"}
    assert query["validation_level"]["schema"]["enum"] == ["basic", "comprehensive"]
    assert "Required" in query["target_agent_id"]["description"]


def test_the_websocket_restore_needs_its_target_too(server: LiveServer) -> None:
    with server.client() as c:
        source = seeded(c)
        cp = checkpoint(c, source)
        untouched = Untouched(c, source)
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "restore", "package_id": cp["package_id"],
                                "request_id": "r"}))
            reply = json.loads(ws.recv(timeout=10))
            assert reply["type"] == "error" and reply["request_id"] == "r", reply
            assert [e["field"] for e in reply["data"]["errors"]] == ["target_agent_id"]
            ws.send(json.dumps({"action": "ping"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "pong"
        untouched.check()


def test_the_key_is_checked_before_the_parameters(keyed_server: LiveServer) -> None:
    with keyed_server.client() as anonymous, keyed_server.client("key-a") as a:
        agent = seeded(a)
        cp = checkpoint(a, agent)
        for url in (f"/api/v1/context/restore/{cp['package_id']}?target=x",
                    f"/api/v1/context/capture/{agent}?include_memory=false",
                    f"/api/v1/agents/{agent}/events?x=1"):
            assert anonymous.post(url).status_code == 401, url
        r = a.post(f"/api/v1/context/restore/{cp['package_id']}?target_agent_id={agent}")
        assert r.status_code == 200 and r.json()["mode"] == "rewind", r.text
