"""Reviewer finding 1: a `.ctxpkg` whose state no events could have produced (re-hashed, so its
integrity check passes) is refused with a 422 naming `body.state.<field>`, and nothing is
written; what is accepted restores into an agent that every reader answers for. The same rule
holds for envelopes: no id makes an agent's keyed objects look like the event store's tags."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ctxpkg_craft import repacked, unpacked
from http_support import LiveServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_http_api import env, new_agent
from test_http_bounds_property import every_reader_answers

CTXPKG = "application/vnd.ctxstore.ctxpkg"
TAG = {"_type_": "decimal_str", "_data_": "1"}
EXAMPLES = 25
State = dict[str, Any]


def rich_package(c: httpx.Client) -> bytes:
    """An exported package whose state has something in every content field."""
    agent = new_agent()
    events = [
        env(agent, role="user", content="hi", tokens=3),
        env(agent, "reasoning", thread_id="t1", content="think", step=0),
        env(agent, "tool_call", call_id="c1", tool="search", arguments={"q": "x"}),
        env(agent, "tool_result", call_id="c1", output={"hits": [1, 2]}, duration_ms=1.5),
        env(agent, "tool_result", call_id="orphan", output="late"),
        env(agent, "memory_stored", memory_id="m1", kind="semantic", content="fact",
            importance=0.5, metadata={"k": [1]}),
        env(agent, "memory_stored", memory_id="m2", kind="episodic", content="event"),
        env(agent, "memory_linked", source_id="m1", target_id="m2", relation="about"),
        env(agent, "mcp_state", server="files", state={"open": ["a"]}),
    ]
    for n, event in enumerate(events):
        event["session_id"] = f"s{n % 2}"
    c.post(f"/api/v1/agents/{agent}/events", json=events).raise_for_status()
    package_id = c.post(f"/api/v1/context/capture/{agent}").json()["package_id"]
    r = c.get(f"/api/v1/context/packages/{package_id}/export")
    r.raise_for_status()
    return r.content


def crafted(data: bytes, change: Callable[[State], None], *, access_level: str = "private"
            ) -> tuple[bytes, str, str]:
    """The package with its state changed, under a new agent and package id: (file, agent,
    package id)."""
    manifest, state = unpacked(data)
    agent, package_id = new_agent(), f"crafted-{uuid.uuid4().hex[:12]}"
    state["agent_id"] = agent
    change(state)
    manifest = copy.deepcopy(manifest)
    manifest["checkpoint"].update(agent_id=agent, access_level=access_level)
    return repacked(manifest, state, package_id), agent, package_id


def post_package(c: httpx.Client, data: bytes) -> httpx.Response:
    return c.post("/api/v1/context/packages/import", content=data,
                  headers={"content-type": CTXPKG})


def assert_nothing_written(clients: list[httpx.Client], agent: str, package_id: str) -> None:
    for c in clients:
        assert c.get(f"/api/v1/agents/{agent}/context").status_code == 404
        assert c.get(f"/api/v1/context/packages/{package_id}").status_code == 404
        listed = c.get("/api/v1/context/packages?limit=1000").json()["items"]
        assert package_id not in [p["package_id"] for p in listed]


def _set(path: str, value: Any) -> Callable[[State], None]:
    def change(state: State) -> None:
        *parents, last = path.split(".")
        node: Any = state
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return change


BAD_STATES: dict[str, tuple[Callable[[State], None], str]] = {
    # The reviewer's cases.
    "tag object": (_set("messages.0.content", TAG), "body.state.messages.0.content"),
    "tool_calls x": (_set("tool_calls", "x"), "body.state.tool_calls"),
    "memories list": (_set("memories", [1, 2]), "body.state.memories"),
    "memories of 1": (_set("memories", {"m": 1}), "body.state.memories.m"),
    "reasoning of x": (_set("reasoning", {"t": "x"}), "body.state.reasoning.t"),
    "messages 5": (_set("messages", 5), "body.state.messages"),
    # Tags anywhere free JSON goes, and keyed objects that would read back as one.
    "tag in arguments": (_set("tool_calls.0.arguments", {"deep": [TAG]}),
                         "body.state.tool_calls.0.arguments"),
    "tag in mcp state": (_set("mcp_servers.files", TAG), "body.state.mcp_servers"),
    "memories keyed as a tag": (_set("memories", {"_type_": {"kind": "semantic",
                                                             "content": "a"},
                                                  "_data_": {"kind": "semantic",
                                                             "content": "b"}}),
                                "body.state.memories._type_"),
    # Shapes and types the fold never produces.
    "message without role": (_set("messages.0", {"content": "hi"}),
                             "body.state.messages.0.role"),
    "tokens as text": (_set("messages.0.tokens", "3"), "body.state.messages.0.tokens"),
    "unknown message field": (_set("messages.0.extra", 1), "body.state.messages.0.extra"),
    "tool call without result": (lambda s: s["tool_calls"][0].pop("result"),
                                 "body.state.tool_calls.0.result"),
    "result as text": (_set("tool_calls.0.result", "done"), "body.state.tool_calls.0.result"),
    "bad memory kind": (_set("memories.m1.kind", "forever"), "body.state.memories.m1.kind"),
    "link of 2 fields": (_set("memory_links.0", {"source_id": "m1", "target_id": "m2"}),
                         "body.state.memory_links.0.relation"),
    "missing field": (lambda s: s.pop("mcp_servers"), "body.state.mcp_servers"),
    "unknown field": (_set("secrets", []), "body.state.secrets"),
    "sessions junk": (_set("sessions", [{"session_id": 5}]), "body.state.sessions.0"),
    "as_of junk": (_set("as_of", "yesterday"), "body.state.as_of"),
    "version true": (_set("version", True), "body.state.version"),
}


@pytest.mark.parametrize("case", list(BAD_STATES))
def test_a_crafted_state_is_refused_naming_the_field(keyed_server: LiveServer,
                                                     case: str) -> None:
    change, field = BAD_STATES[case]
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        data, agent, package_id = crafted(rich_package(a), change, access_level="public")
        r = post_package(a, data)
        assert r.status_code == 422, r.text
        fields = [e["field"] for e in r.json()["errors"]]
        assert any(f.startswith(field) for f in fields), fields
        assert r.headers.get("connection") != "close"
        assert_nothing_written([a, b], agent, package_id)
        # The store and the connection are unharmed: the next request on it reads fine.
        assert a.get("/api/v1/agents?limit=1000").status_code == 200


def test_an_untouched_repack_is_accepted_and_every_reader_answers(keyed_server: LiveServer
                                                                  ) -> None:
    """The crafting helper keeps a valid state valid: the refusals above are the check's."""
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        data, agent, package_id = crafted(rich_package(a), lambda s: None, access_level="public")
        r = post_package(a, data)
        assert r.status_code == 201, r.text
        version = a.get(f"/api/v1/agents/{agent}/context").json()["version"]
        every_reader_answers(a, agent, version)
        # Another tenant restores the public checkpoint into its own agent and reads it.
        mine = new_agent()
        r = b.post(f"/api/v1/agents/{mine}/restore", json={"package_id": package_id})
        assert r.status_code == 200, r.text
        every_reader_answers(b, mine, r.json()["target_version"])


@pytest.mark.parametrize(("type_", "data", "field"), [
    ("memory_stored", {"memory_id": "_type_", "kind": "semantic", "content": "x"},
     "data.memory_id"),
    ("reasoning", {"thread_id": "_type_", "content": "x"}, "data.thread_id"),
    ("mcp_state", {"server": "_type_", "state": {}}, "data.server"),
])
def test_an_id_that_would_read_back_as_a_tag_is_refused(keyed_server: LiveServer, type_: str,
                                                        data: dict[str, Any], field: str
                                                        ) -> None:
    """Beside a `_data_` id, a `_type_` id made the agent's keyed object read back as a tagged
    value: its snapshots and any fork of it were unreadable. `_data_` alone is an ordinary id."""
    agent = new_agent()
    with keyed_server.client("key-a") as a:
        other = dict(data, **{k: "_data_" for k, v in data.items() if v == "_type_"})
        r = a.post(f"/api/v1/agents/{agent}/events", json=env(agent, type_, **other))
        assert r.status_code == 201, r.text
        r = a.post(f"/api/v1/agents/{agent}/events", json=env(agent, type_, **data))
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert a.get(f"/api/v1/agents/{agent}/context").json()["version"] == 1
        every_reader_answers(a, agent, 1)


# The property ---------------------------------------------------------------------------------

ODD = st.sampled_from([TAG, {"_type_": "x"}, {"_type_": 1, "_data_": 2}, None, True, 5, -1,
                       1.5, "", "text", [], {}, [TAG], {"k": TAG}, "\u2028", 2**63 - 1,
                       {"role": "user", "content": "hi"}, {"call_id": "c", "result": None}])
values = st.recursive(ODD | st.text(max_size=5) | st.integers(-5, 5),
                      lambda inner: st.lists(inner, max_size=2)
                      | st.dictionaries(st.sampled_from(["_type_", "_data_", "k", "content",
                                                         "role", "call_id"]), inner, max_size=2),
                      max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for n, child in enumerate(node):
            found += _paths(child, (*prefix, n))
    return found


@st.composite
def mutations(draw: st.DrawFn, state: State) -> Callable[[State], None]:
    """Replace, drop or add one value somewhere in the state (or leave it as it is)."""
    paths = [p for p in _paths(state) if p[0] not in ("agent_id", "content_hash")]
    path = draw(st.sampled_from(paths))
    action = draw(st.sampled_from(["replace", "drop", "add", "keep"]))
    value = draw(values)
    key = draw(st.sampled_from(["_type_", "_data_", "extra", "content", "m3", "t2"]))

    def change(s: State) -> None:
        *parents, last = path
        node: Any = s
        for step in parents:
            node = node[step]
        if action == "replace":
            node[last] = value
        elif action == "drop":
            del node[last]
        elif action == "add" and isinstance(node[last], dict):
            node[last][key] = value
        elif action == "add" and isinstance(node[last], list):
            node[last].append(value)
    return change


def test_any_mutated_state_is_refused_or_reads_everywhere(keyed_server: LiveServer) -> None:
    outcomes: dict[int, int] = {}
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        source = rich_package(a)
        _, state = unpacked(source)

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(change=mutations(state))
        def run(change: Callable[[State], None]) -> None:
            data, agent, package_id = crafted(source, change, access_level="public")
            r = post_package(a, data)
            outcomes[r.status_code] = outcomes.get(r.status_code, 0) + 1
            assert r.status_code < 500, r.text[:500]
            if r.status_code >= 400:
                assert r.json()["errors"], r.text[:500]
                assert_nothing_written([a, b], agent, package_id)
                return
            assert r.status_code == 201, r.text[:500]
            every_reader_answers(a, agent, a.get(f"/api/v1/agents/{agent}/context"
                                                 ).json()["version"])
            mine = new_agent()
            r = b.post(f"/api/v1/agents/{mine}/restore",
                       json={"package_id": package_id, "merge_strategy": "merge"})
            assert r.status_code == 200, r.text[:500]
            every_reader_answers(b, mine, r.json()["target_version"])

        run()
    print("outcomes:", outcomes)
    assert 201 in outcomes and any(400 <= s < 500 for s in outcomes), outcomes
