"""Search and analysis over HTTP, on a live server with three tenants, on SQLite and PostgreSQL:
the seed's search_contexts (keywords ALL must match, over label, session, agent and the
package's text), full-text search, analyze_context_evolution, and memory embeddings searched
by cosine similarity at any point (a fork finds what its source finds). A real trace (Letta)
supplies the content."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from http_support import LiveServer
from search_support import DIMENSIONS, embed, post_all, trace_envelopes
from test_http_api import env, new_agent

from ctxstore.infrastructure.projection_worker import ProjectionWorker

PACKAGES = "/api/v1/context/packages"
SEARCH = "/api/v1/context/search"


def capture(client: httpx.Client, agent: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"/api/v1/context/capture/{agent}", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def ids(page: httpx.Response) -> set[str]:
    assert page.status_code == 200, page.text
    return {p["package_id"] for p in page.json()["items"]}


def project(server: LiveServer) -> None:
    api = server.app.state.api
    ProjectionWorker(api.store, api.services.views).run_once()


@pytest.fixture(scope="module")
def letta(keyed_server: LiveServer) -> dict[str, Any]:
    """Tenant A's agent holding the Letta trace, checkpointed; an unrelated agent of A's; and
    tenant B's agent of the same id with other content."""
    agent, other = new_agent(), new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        post_all(a, agent, trace_envelopes(agent))
        trace_ckpt = capture(a, agent, label="letta convo", session_id="sess-trace")
        a.post(f"/api/v1/agents/{other}/events",
               json=env(other, role="user", content="deploy the kubernetes cluster")
               ).raise_for_status()
        other_ckpt = capture(a, other, label="letta ops", session_id="sess-ops")
        b.post(f"/api/v1/agents/{agent}/events",
               json=env(agent, role="user", content="Himalayas trekking plan")
               ).raise_for_status()
        b_ckpt = capture(b, agent, label="letta convo")
    project(keyed_server)
    return {"agent": agent, "other": other, "trace": trace_ckpt, "other_ckpt": other_ckpt,
            "b": b_ckpt}


def test_keywords_must_all_match(keyed_server: LiveServer, letta: dict[str, Any]) -> None:
    trace, other = letta["trace"]["package_id"], letta["other_ckpt"]["package_id"]
    with keyed_server.client("key-a") as a:
        # "Himalayas" is only in the trace's text (a memory of the user); "letta" in both labels.
        assert ids(a.get(PACKAGES, params={"keywords": "Himalayas"})) == {trace}
        assert ids(a.get(PACKAGES, params={"keywords": "letta"})) >= {trace, other}
        # All must match: text + label, repeated or comma-separated, any case.
        assert ids(a.get(PACKAGES, params=[("keywords", "himalayas"),
                                           ("keywords", "LETTA")])) == {trace}
        assert ids(a.get(PACKAGES, params={"keywords": "Himalayas,sess-trace"})) == {trace}
        # A package matching only some of the keywords is excluded.
        assert ids(a.get(PACKAGES, params={"keywords": "Himalayas,kubernetes"})) == set()
        assert ids(a.get(PACKAGES, params={"keywords": "letta,no-such-word-anywhere"})) == set()
        assert ids(a.get(PACKAGES, params={"keywords": "kubernetes,sess-ops"})) == {other}
        # The plan's search_contexts as a JSON body, and the same from the query string.
        r = a.post(SEARCH, json={"agent_id": letta["agent"], "keywords": ["Sailing", "Berkeley"],
                                 "min_message_count": 50})
        assert ids(r) == {trace} and r.json()["total"] == 1
        assert ids(a.post(SEARCH, params={"keywords": "Sailing,kubernetes"})) == set()
        assert ids(a.post(SEARCH, json={"keywords": ["letta"], "min_message_count": 50})
                   ) == {trace}
        created = letta["other_ckpt"]["created_at"]
        assert trace not in ids(a.post(SEARCH, json={"keywords": ["letta"],
                                                     "created_after": created}))


def test_search_is_per_tenant_and_refuses_what_it_does_not_know(
        keyed_server: LiveServer, letta: dict[str, Any]) -> None:
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b, \
            keyed_server.client("key-c") as c:
        # B's own agent of that id has "Himalayas" too: B sees only its own package.
        assert ids(b.get(PACKAGES, params={"keywords": "Himalayas"})) == {
            letta["b"]["package_id"]}
        assert ids(b.post(SEARCH, json={"keywords": ["Sailing"]})) == set()
        assert ids(c.get(PACKAGES, params={"keywords": "letta"})) == set()
        assert "tenant-b/" not in b.get(PACKAGES, params={"keywords": "letta"}).text
        # A public package is found by every tenant, by its text too.
        public = capture(a, letta["agent"], access_level="public", label="shared trace")
        assert public["package_id"] in ids(c.post(SEARCH, json={"keywords": ["Formula"]}))
        for r, field in ((a.get(PACKAGES, params={"keyword": "x"}), "query.keyword"),
                         (a.post(SEARCH, json={"keyword": ["x"]}), "body.keyword"),
                         (a.post(SEARCH, json={"keywords": ["ok", " "]}), "keywords.1"),
                         (a.post(SEARCH, json={"keywords": "x", "limit": 0}), "body.limit")):
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["field"] == field, r.text


def test_full_text_search_over_http(keyed_server: LiveServer, letta: dict[str, Any]) -> None:
    agent = letta["agent"]
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        r = a.get("/api/v1/search", params={"q": "Himalayas"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["position"] is not None
        hits = body["hits"]
        assert {h["agent_id"] for h in hits} == {agent}
        assert hits[0]["source"] == "memory" and "[Himalayas]" in hits[0]["snippet"]
        # B's agent of the same id: its own message, never A's memory.
        hits_b = b.get("/api/v1/search", params={"q": "Himalayas"}).json()["hits"]
        assert [(h["agent_id"], h["source"]) for h in hits_b] == [(agent, "message")]
        assert "tenant-" not in b.get("/api/v1/search", params={"q": "Himalayas"}).text
        # Every match, one agent: more than the first.
        every = a.get("/api/v1/search", params={"q": "Chad", "agent_id": agent, "all": "true"})
        first = a.get("/api/v1/search", params={"q": "Chad", "agent_id": agent})
        assert len(first.json()["hits"]) == 1 < len(every.json()["hits"])
        assert first.json()["hits"][0] == every.json()["hits"][0]
        assert a.get("/api/v1/search", params={"q": "kubernetes", "agent_id": agent}
                     ).json()["hits"] == []
        assert a.get("/api/v1/search", params={"q": "Himalayas",
                                               "agent_id": new_agent()}).status_code == 404
        for params, field in (({"q": "?!"}, "q"), ({"q": "x", "agents": "y"}, "query.agents"),
                              ({}, "q")):
            r = a.get("/api/v1/search", params=params)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text


def test_analysis_of_a_time_period(keyed_server: LiveServer, letta: dict[str, Any]) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        envelopes = trace_envelopes(agent)
        post_all(a, agent, envelopes[:60])
        first = capture(a, agent)
        post_all(a, agent, envelopes[60:])
        second = capture(a, agent)
        project(keyed_server)
        r = a.get(f"/api/v1/agents/{agent}/analysis", params={"time_period": "P1D"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["agent_id"] == agent and body["time_period"] == "P1D"
        assert body["total_packages"] == 2
        size = body["size_trend"]
        assert (size["first"], size["last"]) == (first["original_size_bytes"],
                                                 second["original_size_bytes"])
        assert size["direction"] == "growing"
        ratios = [c["compressed_size_bytes"] / c["original_size_bytes"] for c in (first, second)]
        efficiency = body["compression_efficiency"]
        assert efficiency["average_compression_ratio"] == pytest.approx(sum(ratios) / 2)
        assert efficiency["bytes_saved"] == sum(c["original_size_bytes"] - c[
            "compressed_size_bytes"] for c in (first, second))
        content = body["content_evolution"]
        assert (content["messages"]["first"], content["messages"]["last"]) == (
            first["message_count"], second["message_count"])
        assert content["memories_added"] == sum(e["type"] == "memory_stored" for e in envelopes)
        assert content["tool_mix"] and body["analysis"]["windows"]
        # Shorthand periods; a bad one, an unknown parameter, another tenant's agent.
        assert a.get(f"/api/v1/agents/{agent}/analysis",
                     params={"time_period": "12h"}).json()["total_packages"] == 2
        for params, field in (({"time_period": "soon"}, "time_period"),
                              ({"time_period": "0"}, "time_period"),
                              ({"period": "P1D"}, "query.period"),
                              ({"bucket": "week"}, "query.bucket")):
            r = a.get(f"/api/v1/agents/{agent}/analysis", params=params)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        assert b.get(f"/api/v1/agents/{agent}/analysis").status_code == 404


def memories(client: httpx.Client, agent: str, **body: Any) -> httpx.Response:
    return client.post(f"/api/v1/agents/{agent}/memories/search", json=body)


def test_memory_embeddings_are_searchable_and_a_fork_finds_the_same(
        keyed_server: LiveServer, letta: dict[str, Any]) -> None:
    agent, fork = letta["agent"], new_agent()
    query = embed("Formula 1 Sailing Himalayas Restaurant Berkeley")
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        r = memories(a, agent, embedding=query, limit=5)
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["dimensions"] == DIMENSIONS and found["compared"] == found["memories"] > 2
        assert found["matches"][0]["memory_id"] == "human"  # the user's interests
        scores = [m["score"] for m in found["matches"]]
        assert scores == sorted(scores, reverse=True) and len(scores) == 5
        # A fork (restore into a new agent) finds exactly what its source finds...
        assert a.post(f"/api/v1/agents/{fork}/restore",
                      json={"source_agent_id": agent}).status_code == 200
        forked = memories(a, fork, embedding=query, limit=5).json()
        assert forked["matches"] == found["matches"]
        assert forked["content_hash"] == found["content_hash"]
        # ...as does the checkpoint it came from, and B's agent restored from a public one.
        at_checkpoint = memories(a, agent, embedding=query, limit=5,
                                 package_id=letta["trace"]["package_id"]).json()
        assert at_checkpoint["matches"] == found["matches"]
        public = capture(a, agent, access_level="public")
        target = new_agent()
        assert b.post(f"/api/v1/context/restore/{public['package_id']}",
                      json={"target_agent_id": target}).status_code == 200
        assert memories(b, target, embedding=query, limit=5).json()["matches"] == found[
            "matches"]
        # At an earlier version only the memories then held are compared.
        early = memories(a, agent, embedding=query, version=5).json()
        assert early["version"] == 5 and early["compared"] < found["compared"]
        # Another tenant's agent and private checkpoint stay invisible.
        assert memories(b, fork, embedding=query).status_code == 404
        assert memories(b, letta["agent"], embedding=query,
                        package_id=letta["trace"]["package_id"]).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"embedding": []}, "body.embedding"),
    ({"embedding": [0.5] * (DIMENSIONS - 1)}, "embedding"),
    ({"embedding": [0.0] * DIMENSIONS}, "embedding"),
    ({"embedding": ["a"] + [0.5] * (DIMENSIONS - 1)}, "body.embedding.0"),
    ({"embedding": [0.5] * DIMENSIONS, "limit": 0}, "body.limit"),
    ({"embedding": [0.5] * DIMENSIONS, "version": 1, "package_id": "ckpt-x"}, "version"),
    ({"embedding": [0.5] * DIMENSIONS, "vector": [1]}, "body.vector"),
    ({}, "embedding"),
])
def test_bad_vectors_are_a_422_naming_the_field(keyed_server: LiveServer, letta: dict[str, Any],
                                                body: dict[str, Any], field: str) -> None:
    with keyed_server.client("key-a") as a:
        r = memories(a, letta["agent"], **body)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field, r.text


def test_a_nan_in_the_vector_is_a_422(keyed_server: LiveServer, letta: dict[str, Any]) -> None:
    body = ('{"embedding": [NaN' + ", 0.5" * (DIMENSIONS - 1) + "]}").encode()
    with keyed_server.client("key-a") as a:
        r = a.post(f"/api/v1/agents/{letta['agent']}/memories/search", content=body,
                   headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"].startswith("body"), r.text
