"""Hypothesis over WebSocket frames (OpenAPI does not describe the socket, so schemathesis
cannot): garbage text, binary, wrong types, deep nesting, unknown actions. Every frame that is
not a valid request gets an `error` message back (a 4xx status), the socket stays open, and
nothing is written."""

from __future__ import annotations

import json
from typing import Any

from http_support import LiveServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_http_api import new_agent
from websockets.sync.client import connect

ACTIONS = ["follow", "unfollow", "capture", "restore", "ping", "nope", "", None, 5, [], {}]
FIELDS = ["agent_ids", "agent_id", "after_version", "request_id", "label", "version",
          "package_id", "target_agent_id", "source_agent_id", "merge_strategy", "at",
          "validation_level", "access_level", "session_id"]
odd = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.sampled_from([2**63, -(2**63) - 1, 10**40, "\ud800", "x" * 300, "../x", "latest",
                     "2024-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"]),
    st.text(max_size=10), st.lists(st.text(max_size=5) | st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _deep(depth: int) -> str:
    return '{"action":"follow","agent_ids":' + "[" * depth + "]" * depth + "}"


@st.composite
def requests(draw: st.DrawFn, ghost: str) -> dict[str, Any]:
    """An object frame naming agents that do not exist, so nothing valid can write."""
    message: dict[str, Any] = {"action": draw(st.sampled_from(ACTIONS))}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        message[name] = draw(odd | st.just(ghost) | st.just([ghost]))
    return message


def frames(ghost: str) -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        requests(ghost).map(lambda m: json.dumps(m)),
        st.text(max_size=50),
        st.binary(max_size=50),
        st.integers(60, 3000).map(_deep),
        st.sampled_from(["[]", "null", "1", '"x"', "{", '{"action":"ping"', "\x00"]),
    )


def test_any_frame_gets_an_answer_and_the_socket_lives(server: LiveServer) -> None:
    ghost = new_agent()
    replies: dict[str, int] = {}
    with connect(server.ws_url, max_size=None) as ws:

        @settings(max_examples=150, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(frame=frames(ghost))
        def run(frame: str | bytes) -> None:
            ws.send(frame)
            ws.send(json.dumps({"action": "ping", "request_id": "alive"}))
            # Every answer up to the ping's pong: errors must be client errors (4xx).
            while True:
                reply = json.loads(ws.recv(timeout=20))
                replies[reply["type"]] = replies.get(reply["type"], 0) + 1
                if reply["type"] == "error":
                    assert 400 <= reply["data"]["status"] < 500, reply
                if reply == {"type": "pong", "data": {}, "request_id": "alive"}:
                    return

        run()
    assert replies.get("error", 0) > 50, replies
    with server.client() as c:
        assert c.get(f"/api/v1/agents/{ghost}/context").status_code == 404
        assert ghost not in c.get("/api/v1/agents?limit=1000").text
