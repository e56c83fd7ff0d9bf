"""The plan's client against the real server: its API section's routes with parameters as query
(route signatures) and as JSON (its UI), its WebSocket exchange, and the assertions of its own
test section (`compression_ratio < 0.8`, `result.success`, the full agent lifecycle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from seed_client import (
    CONTEXT_PACKAGE_FIELDS,
    PERFORMANCE_SUMMARY_FIELDS,
    SeedClient,
    event,
    message,
    new_agent,
    receive,
    tau_bench_conversation,
)

TAU = "tau-bench/gpt-4o-airline.first-5-runs.json"


def conversation_agent(seed: SeedClient, traces: Path, run: int = 0) -> str:
    agent = new_agent()
    seed.publish(agent, tau_bench_conversation(traces / TAU, agent, run))
    return agent


def capture_answer(r: Any) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_capture_with_the_route_signatures_query_parameters(seed: SeedClient,
                                                            traces: Path) -> None:
    agent = conversation_agent(seed, traces)
    answer = capture_answer(seed.capture_query(
        agent, "test_session", include_memory=True, include_mcp_state=True,
        include_conversation=True))
    assert {"package_id", "compression_ratio", "original_size_bytes",
            "compressed_size_bytes"} <= set(answer)
    original, compressed = answer["original_size_bytes"], answer["compressed_size_bytes"]
    assert 0 < compressed < original
    assert answer["compression_ratio"] == pytest.approx(compressed / original, rel=1e-3)
    assert answer["compression_ratio"] < 0.8  # the plan: "At least 20% compression"


def test_the_ui_captures_then_restores_comprehensively_and_sees_success(
        seed: SeedClient, traces: Path) -> None:
    """The plan's UI posts JSON bodies and checks `response.data.success`; the restored
    agent has the conversation of the captured one (the plan's round-trip test)."""
    source = conversation_agent(seed, traces, run=1)
    package_id = capture_answer(seed.capture_ui(source, "ui-session"))["package_id"]
    target = new_agent("restored")
    r = seed.restore_ui(package_id, target)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["success"] is True
    assert answer["restoration_details"]
    assert answer["validation_result"]
    assert len(seed.context(target)["messages"]) == len(seed.context(source)["messages"])


def test_restore_with_the_route_signatures_query_parameters(seed: SeedClient,
                                                            traces: Path) -> None:
    source = conversation_agent(seed, traces, run=2)
    package_id = capture_answer(seed.capture_query(source, "s"))["package_id"]
    target = new_agent("restored")
    r = seed.restore_query(package_id, target, validation_level="basic",
                           merge_strategy="replace")
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True
    assert seed.context(target)["messages"] == seed.context(source)["messages"]


def test_the_package_list_pages_by_fifty_with_the_plans_fields(seed: SeedClient) -> None:
    agents = [new_agent("listed") for _ in range(6)]
    captured: dict[str, str] = {}
    for round_ in range(9):  # 54 packages: more than one default page, within retention (10)
        for agent in agents:
            seed.publish(agent, [message(agent, "user", f"round {round_}")])
            answer = capture_answer(seed.capture_ui(agent, f"session-{round_}"))
            captured[answer["package_id"]] = agent
    first = seed.packages()
    assert first.status_code == 200, first.text
    page = first.json()
    assert set(page) >= {"packages", "total"}
    assert page["total"] >= 54
    assert len(page["packages"]) == 50  # the plan's default limit
    rest = seed.packages(offset=50, limit=50).json()
    ours = [p for p in page["packages"] + rest["packages"] if p["package_id"] in captured]
    for package in ours:
        assert set(package) >= CONTEXT_PACKAGE_FIELDS, package
        assert package["agent_id"] == captured[package["package_id"]]
        assert package["size_bytes"] > 0
        assert 0 < package["compression_ratio"] < 1
    one = seed.packages(agent_id=agents[0]).json()
    assert one["total"] == 9
    assert {p["agent_id"] for p in one["packages"]} == {agents[0]}
    assert sorted(p["message_count"] for p in one["packages"]) == list(range(1, 10))
    assert {p["session_id"] for p in one["packages"]} == {f"session-{i}" for i in range(9)}


def test_the_websocket_capture_and_restore_exchange(seed: SeedClient, traces: Path) -> None:
    source = conversation_agent(seed, traces, run=3)
    target = new_agent("ws-restored")
    with seed.websocket() as ws:
        ws.send(json.dumps({"type": "context_capture", "agent_id": source, "session_id": "ws"}))
        started = receive(ws)
        assert started == {"type": "context_capture_started", "agent_id": source}
        captured = receive(ws)
        assert captured["type"] == "context_captured"
        assert captured["size_bytes"] > 0 and 0 < captured["compression_ratio"] < 0.8
        package_id = captured["package_id"]

        ws.send(json.dumps({"type": "context_restore", "package_id": package_id,
                            "target_agent_id": target}))
        assert receive(ws) == {"type": "context_restoration_started",
                               "package_id": package_id}
        restored = receive(ws)
        assert restored["type"] == "context_restored"
        assert restored["success"] is True
        assert restored["details"]

        ws.send(json.dumps({"type": "context_restore", "package_id": "no-such-package",
                            "target_agent_id": target}))
        replies = [receive(ws)]
        if replies[0]["type"] == "context_restoration_started":
            replies.append(receive(ws))
        assert replies[-1]["type"] == "error"
        assert "no-such-package" in replies[-1]["message"]
    assert seed.context(target)["messages"] == seed.context(source)["messages"]


def test_the_full_agent_lifecycle(seed: SeedClient) -> None:
    """The plan's integration test: conversation, memory operations and tool usage, captured,
    restored into a new agent, `result.success`, and the new agent's memory count above 0."""
    agent = new_agent("lifecycle")
    seed.publish(agent, [
        message(agent, "system", "You are a careful travel agent."),
        message(agent, "user", "Book me a flight to Lisbon on Friday."),
        event(agent, "reasoning", thread_id="t1", content="Look up flights first."),
        event(agent, "tool_call", call_id="c1", tool="search_flights",
              arguments={"to": "LIS", "day": "friday"}),
        event(agent, "tool_result", call_id="c1", output={"flights": ["TP1351"]}),
        message(agent, "assistant", "TP1351 leaves at 9:40. Shall I book it?"),
        event(agent, "memory_stored", memory_id="m1", kind="long_term",
              content="Prefers morning flights", importance=0.8),
        event(agent, "memory_updated", memory_id="m1", importance=0.9),
        event(agent, "memory_stored", memory_id="m2", kind="episodic",
              content="Asked for Lisbon on Friday"),
    ])
    package_id = capture_answer(seed.capture_query(agent, "lifecycle-session"))["package_id"]
    new = new_agent("restored_agent")
    r = seed.restore_query(package_id, new)
    assert r.status_code == 200, r.text
    assert r.json()["success"]
    restored = seed.context(new)
    assert len(restored["memories"]) > 0
    assert restored["memories"] == seed.context(agent)["memories"]
    assert restored["messages"] == seed.context(agent)["messages"]


def test_semantic_compression_of_a_context_with_duplicates(seed: SeedClient) -> None:
    """The plan's `create_snapshot_with_duplicates`: the same long system prompt and tool
    output again and again (the plan's default strategy, `semantic`, is configured)."""
    agent = new_agent("duplicates")
    prompt = "You are an airline support agent. " + " ".join(
        f"Policy {i}: follow rule {i} strictly." for i in range(200))
    events = []
    for i in range(20):
        events += [message(agent, "system", prompt),
                   event(agent, "tool_call", call_id=f"c{i}", tool="get_policy", arguments={}),
                   event(agent, "tool_result", call_id=f"c{i}", output=prompt),
                   message(agent, "user", f"question {i}")]
    seed.publish(agent, events)
    answer = capture_answer(seed.capture_query(agent, "dup"))
    assert answer["compression_ratio"] < 0.8


def test_the_performance_summary(seed: SeedClient, traces: Path) -> None:
    source = conversation_agent(seed, traces, run=4)
    package_id = capture_answer(seed.capture_query(source, "metrics"))["package_id"]
    assert seed.restore_query(package_id, new_agent("m")).json()["success"]
    r = seed.performance_summary()
    assert r.status_code == 200, r.text
    summary = r.json()
    assert set(summary) >= PERFORMANCE_SUMMARY_FIELDS, summary
    assert 0 < summary["avg_compression_ratio"] < 1
    assert summary["total_storage_saved_bytes"] > 0
    assert summary["avg_capture_time_ms"] > 0 and summary["avg_restoration_time_ms"] > 0
