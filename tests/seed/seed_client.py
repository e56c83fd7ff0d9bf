"""The plan's client: its routes (`/api/v1/context/...`), its parameters as its route signatures
give them (query) and as its UI sends them (JSON body), its WebSocket messages, and its
ContextPackage fields. Agent activity is published with ctxstore's events route (the plan pulls
state from its own managers and names no publishing route)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

# The plan's frontend `ContextPackage` interface.
CONTEXT_PACKAGE_FIELDS = {"package_id", "agent_id", "session_id", "created_at",
                          "compression_ratio", "message_count", "size_bytes"}
# The plan's `ContextMetrics.get_performance_summary`.
PERFORMANCE_SUMMARY_FIELDS = {"avg_capture_time_ms", "avg_compression_ratio",
                              "avg_restoration_time_ms", "avg_storage_size_bytes",
                              "total_storage_saved_bytes"}


def new_agent(prefix: str = "seed") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def message(agent: str, role: str, content: str) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "agent_id": agent, "type": "message",
            "data": {"role": role, "content": content}}


def event(agent: str, type_: str, **data: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "agent_id": agent, "type": type_, "data": data}


def tau_bench_conversation(path: Path, agent: str, run: int = 0) -> list[dict[str, Any]]:
    """One run of a real tau-bench result file as message events (its `traj`, read as JSON)."""
    runs = json.loads(path.read_text(encoding="utf-8"))
    return [message(agent, m["role"], m["content"]) for m in runs[run]["traj"]
            if m["role"] in ("system", "user", "assistant") and isinstance(m.get("content"), str)]


class SeedClient:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", timeout=60)

    def __enter__(self) -> SeedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    # -- agent activity (ctxstore's events route) --------------------------------------------
    def publish(self, agent: str, events: list[dict[str, Any]]) -> None:
        for start in range(0, len(events), 500):
            r = self.http.post(f"/agents/{agent}/events", json=events[start:start + 500])
            assert r.status_code in (200, 201), r.text

    def context(self, agent: str) -> dict[str, Any]:
        r = self.http.get(f"/agents/{agent}/context")
        r.raise_for_status()
        answer: dict[str, Any] = r.json()
        return answer

    # -- the plan's routes, parameters as query (route signatures) ---------------------------
    def capture_query(self, agent: str, session_id: str, **include: bool) -> httpx.Response:
        params = {"session_id": session_id,
                  **{k: str(v).lower() for k, v in include.items()}}
        return self.http.post(f"/context/capture/{agent}", params=params)

    def restore_query(self, package_id: str, target_agent_id: str,
                      validation_level: str = "basic", merge_strategy: str = "replace"
                      ) -> httpx.Response:
        return self.http.post(f"/context/restore/{package_id}",
                              params={"target_agent_id": target_agent_id,
                                      "validation_level": validation_level,
                                      "merge_strategy": merge_strategy})

    # -- the plan's UI: the same routes with a JSON body -------------------------------------
    def capture_ui(self, agent: str, session_id: str) -> httpx.Response:
        return self.http.post(f"/context/capture/{agent}", json={
            "session_id": session_id, "include_memory": True, "include_mcp_state": True,
            "include_conversation": True})

    def restore_ui(self, package_id: str, target_agent_id: str) -> httpx.Response:
        return self.http.post(f"/context/restore/{package_id}", json={
            "target_agent_id": target_agent_id, "validation_level": "comprehensive",
            "merge_strategy": "replace"})

    def packages(self, **params: Any) -> httpx.Response:
        return self.http.get("/context/packages", params=params)

    def performance_summary(self) -> httpx.Response:
        return self.http.get("/context/metrics/summary")

    # -- the plan's WebSocket ----------------------------------------------------------------
    def websocket(self) -> ClientConnection:
        return connect(self.base_url.replace("http://", "ws://") + "/api/v1/ws",
                       open_timeout=30)


def receive(ws: ClientConnection) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(ws.recv(timeout=60))
    return reply
