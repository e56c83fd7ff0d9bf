"""The WebSocket in the seed plan's form (issue 14): requests keyed by `type`, flat replies with
the plan's field names, carrying what the HTTP routes answer; a bad request is an `error` with
the plan's `message` naming the field, and the socket lives on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from http_support import LiveServer
from test_http_api import env, new_agent
from websockets.sync.client import ClientConnection, connect


def recv(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=30))  # a generous deadline
    return message


def test_a_partial_capture_and_a_comprehensive_restore_in_the_plans_messages(
        server: LiveServer) -> None:
    agent, target = new_agent(), new_agent()
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=[env(agent) for _ in range(3)])
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"type": "context_capture", "agent_id": agent,
                                "session_id": "ws-session", "include_memory": False,
                                "include_mcp_state": False, "request_id": "c1"}))
            assert recv(ws) == {"type": "context_capture_started", "agent_id": agent,
                                "request_id": "c1"}
            captured = recv(ws)
            assert captured["type"] == "context_captured" and captured["request_id"] == "c1"
            http = c.get(f"/api/v1/context/packages/{captured['package_id']}").json()
            assert http["size_bytes"] == http["compressed_size_bytes"] > 0
            assert {k: captured[k] for k in http} == http  # flat: the route's fields
            assert (captured["parts"], captured["session_id"]) == (["conversation"],
                                                                   "ws-session")
            ws.send(json.dumps({"type": "context_restore",
                                "package_id": captured["package_id"],
                                "target_agent_id": target, "validation_level": "comprehensive",
                                "merge_strategy": "replace"}))
            assert recv(ws) == {"type": "context_restoration_started",
                                "package_id": captured["package_id"]}
            restored = recv(ws)
            assert restored["type"] == "context_restored" and restored["success"] is True
            assert restored["details"] == restored["restoration_details"]
            assert restored["details"]["parts"] == ["conversation"]
            assert restored["details"]["target_agent_id"] == target
            check = restored["validation_result"]
            assert check["level"] == "comprehensive" and check["outcome"] == "passed"
            assert check["expected_hash"] == check["actual_hash"] == http["integrity_hash"]
        assert len(c.get(f"/api/v1/agents/{target}/context").json()["messages"]) == 3


@pytest.mark.parametrize(("request_", "field"), [
    ({"type": "context_capture"}, "agent_id"),
    ({"type": "context_capture", "agent_id": "bad id!"}, "agent_id"),
    ({"type": "context_capture", "agent_id": "a", "include_memory": "maybe"},
     "include_memory"),
    ({"type": "context_capture", "agent_id": "a", "include_memory": False,
      "include_mcp_state": False, "include_conversation": False}, "include_conversation"),
    ({"type": "context_restore", "package_id": "ckpt-x"}, "target_agent_id"),
    ({"type": "context_restore", "target_agent_id": "t"}, "package_id"),
    ({"type": "context_restore", "package_id": "ckpt-x", "target_agent_id": "t",
      "validation_level": "deep"}, "validation_level"),
    ({"type": "context_restore", "package_id": "ckpt-x", "target_agent_id": "t",
      "version": 3}, "version"),
    ({"type": "context_dance"}, "type"),
    ({"agent_id": "a"}, "type"),
])
def test_a_bad_plan_request_is_an_error_naming_its_field(
        server: LiveServer, request_: dict[str, Any], field: str) -> None:
    with server.client() as c:
        before = c.get("/api/v1/context/packages").json()["total"]
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({**request_, "request_id": 5}))
            reply = recv(ws)
            assert reply["type"] == "error" and reply["request_id"] == 5, reply
            assert field in reply["message"], reply
            assert [e["field"] for e in reply["errors"]] == [field], reply
            assert reply["status"] == 422
            ws.send(json.dumps({"action": "ping"}))
            assert recv(ws)["type"] == "pong"  # the socket lives on
        assert c.get("/api/v1/context/packages").json()["total"] == before


def test_a_failed_plan_request_is_an_error_with_the_plans_message(server: LiveServer) -> None:
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"type": "context_capture", "agent_id": "nobody-here"}))
        assert recv(ws) == {"type": "context_capture_started", "agent_id": "nobody-here"}
        reply = recv(ws)
        assert reply["type"] == "error" and reply["status"] == 404
        assert reply["message"].startswith("Context capture failed: ")
        assert "nobody-here" in reply["message"]
        ws.send("not json")
        reply = recv(ws)  # a frame of no known form: both shapes
        assert reply["type"] == "error" and reply["message"] == reply["data"]["detail"]
