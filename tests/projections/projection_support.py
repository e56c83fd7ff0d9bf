"""Test data for the projections (real traces plus restores, checkpoints and memory churn) and
reference folds computed straight from the store's history, independently of projections/."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from support import SAMPLES

from ctxstore.application.store import ContextStore, to_us
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.events import make_envelope
from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.settings import Settings
from ctxstore.projections.views import ContextViews

LETTA = (SAMPLES / "letta-agent-file"
         / "memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af")
TRACES = [
    LETTA,
    SAMPLES / "tau-bench" / "gpt-4o-airline.first-5-runs.json",
    SAMPLES / "swe-agent" / "networking_1.traj",
]
BUCKET_US = {"minute": 60_000_000, "hour": 3_600_000_000, "day": 86_400_000_000}
ROLES = ("system", "user", "assistant", "tool")
KINDS = ("short_term", "long_term", "episodic", "semantic")


@dataclass
class Kit:
    """An isolated store with its projection views and restore use cases."""

    settings: Settings
    store: ContextStore
    views: ContextViews
    services: Services


def load_real(store: ContextStore) -> list[str]:
    """Record the sample traces; returns the agent ids, the Letta agent first."""
    agent_ids = []
    for path in TRACES:
        for agent in load_trace(path):
            result = store.record(agent.envelopes)
            assert not result.rejected, result.rejected
            agent_ids.append(agent.agent_id)
    return agent_ids


def churn(store: ContextStore, agent_id: str, start: datetime, n: int = 1) -> None:
    """Memory updates, stores and forgets, and a failing tool call, an hour and a day later."""
    def env(type_: str, data: dict[str, Any], at: datetime) -> Any:
        return make_envelope(agent_id, type_, data, event_id=str(uuid.uuid4()), occurred_at=at)

    later, next_day = start + timedelta(hours=1, minutes=5), start + timedelta(days=1)
    store.record([
        env("memory_updated", {"memory_id": "human", "content": f"First name: Sarah ({n})"},
            later),
        env("memory_stored", {"memory_id": f"trip-{n}", "kind": "episodic",
                              "content": f"Sarah asked about a zeppelin voyage number {n}"},
            later),
        env("memory_stored", {"memory_id": f"scratch-{n}", "kind": "short_term",
                              "content": "scratchpad: compare lighthouse keepers"}, later),
        env("tool_call", {"call_id": f"c-{n}", "tool": "archival_memory_search",
                          "arguments": {"query": "zeppelin"}}, later),
        env("tool_result", {"call_id": f"c-{n}", "output": "timeout", "is_error": True},
            later + timedelta(seconds=2)),
        env("memory_forgotten", {"memory_id": f"scratch-{n}", "reason": "done"}, next_day),
        env("memory_linked", {"source_id": "human", "target_id": f"trip-{n}",
                              "relation": "planned"}, next_day),
        env("mcp_state", {"server": "maps", "state": {"zoom": n}}, next_day),
    ])


def add_history(store: ContextStore, services: Services, letta: str) -> str:
    """Churn, checkpoints (with retention pruning), a rewind and a fork; returns the fork id."""
    last = datetime(2025, 4, 1, 3, 57, 38, tzinfo=UTC)
    churn(store, letta, last, 1)
    services.checkpoints.capture(letta, label="after churn", access_level="shared")
    services.checkpoints.capture(letta, version=40, label="early", access_level="public")
    services.restore.restore(letta, Point.of_version(60), letta)  # a rewind
    fork = "letta-fork"
    services.restore.restore(letta, Point.of_version(30), fork)
    churn(store, letta, last + timedelta(days=2), 2)
    services.checkpoints.capture(letta, label="latest")  # prunes the oldest (max 2 per agent)
    services.checkpoints.capture(fork, label="fork")
    return fork


# Reference folds ------------------------------------------------------------------------------
def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content
                         if isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"])
    return ""


def history(store: ContextStore, agent_id: str) -> list[dict[str, Any]]:
    """Each event with its wire data (a restore: its full content), time and sizes."""
    stored = {s.originator_version: len(s.state)
              for s in store.recorder.select_events(aggregate_id(agent_id))}
    out = []
    for item in store.iter_history(agent_id):
        data = item.data
        if item.type == "context_restored":
            content = store.agent_at(agent_id, item.version).content
            data = {"content": content, "provenance": item.data["provenance"]}
        out.append({"version": item.version, "type": item.type, "data": data,
                    "ts": to_us(datetime.fromisoformat(item.recorded_at)),
                    "raw": len(canonical_json(data)), "stored": stored[item.version]})
    return out


def reference_evolution(store: ContextStore) -> tuple[dict[tuple[str, str, int], dict[str, int]],
                                                       Counter[tuple[str, str, int, str]]]:
    """Per (agent, bucket, start): counters summed and gauges after the bucket's last event."""
    rows: dict[tuple[str, str, int], dict[str, int]] = {}
    tools: Counter[tuple[str, str, int, str]] = Counter()
    for summary in store.agents():
        agent_id = summary.agent_id
        raw_total = stored_total = 0
        for e in history(store, agent_id):
            data, t = e["data"], e["type"]
            add: Counter[str] = Counter(events=1, raw_bytes=e["raw"], stored_bytes=e["stored"])
            if t == "message":
                add["messages"] += 1
                add[f"messages_{data['role']}"] += 1
                add["tokens"] += data.get("tokens", (len(_text(data["content"])) + 3) // 4)
            elif t == "reasoning":
                add["reasoning_steps"] += 1
            elif t == "tool_call":
                add["tool_calls"] += 1
            elif t == "tool_result":
                add["tool_results"] += 1
                add["tool_errors"] += int(data.get("is_error", False))
            elif t in ("memory_stored", "memory_updated", "memory_forgotten"):
                verb = t.split("_")[1]
                if t == "memory_stored":
                    kind = data["kind"]
                else:
                    before = store.agent_at(agent_id, e["version"] - 1).content["memories"]
                    kind = before[data["memory_id"]]["kind"]
                add[f"memories_{verb}"] += 1
                add[f"memories_{verb}_{kind}"] += 1
            elif t == "memory_linked":
                add["memory_links"] += 1
            elif t == "mcp_state":
                add["mcp_updates"] += 1
            elif t == "context_restored":
                add["restores"] += 1
            elif t == "checkpoint_taken":
                add["checkpoints"] += 1
            raw_total += e["raw"]
            stored_total += e["stored"]
            live = len(store.agent_at(agent_id, e["version"]).content["memories"])
            for bucket, size in BUCKET_US.items():
                start = e["ts"] - e["ts"] % size
                row = rows.setdefault((agent_id, bucket, start), Counter())
                row.update(add)
                row["version"] = e["version"]
                row["live_memories"] = live
                row["total_raw_bytes"] = raw_total
                row["total_stored_bytes"] = stored_total
                if t == "tool_call":
                    tools[(agent_id, bucket, start, data["tool"])] += 1
    return rows, tools


def reference_search_docs(store: ContextStore) -> set[tuple[str, int, str, str, str, str]]:
    """(agent, version, source, ref, label, text) of every message and memory text seen."""
    docs = set()
    for summary in store.agents():
        for e in history(store, summary.agent_id):
            key = (summary.agent_id, e["version"])
            data = e["data"]
            if e["type"] == "message" and _text(data["content"]):
                docs.add((*key, "message", data.get("message_id", ""), data["role"],
                          _text(data["content"])))
            elif e["type"] in ("memory_stored", "memory_updated") and data.get("content"):
                before = store.agent_at(summary.agent_id, e["version"] - 1).content["memories"]
                kind = data.get("kind") or before[data["memory_id"]]["kind"]
                docs.add((*key, "memory", data["memory_id"], kind, data["content"]))
            elif e["type"] == "context_restored":
                for m in data["content"]["messages"]:
                    if _text(m["content"]):
                        docs.add((*key, "message", m.get("message_id", ""), m["role"],
                                  _text(m["content"])))
                for memory_id, m in data["content"]["memories"].items():
                    if m["content"]:
                        docs.add((*key, "memory", memory_id, m["kind"], m["content"]))
    return docs


def first_seen(store: ContextStore, agent_id: str, phrase: str) -> tuple[int, int]:
    """The first version (and its time) whose message text holds the phrase's words in order."""
    words = re.findall(r"\w+", phrase.lower())
    for e in history(store, agent_id):
        if e["type"] == "message":
            text_words = re.findall(r"\w+", _text(e["data"]["content"]).lower())
            if any(text_words[i:i + len(words)] == words for i in range(len(text_words))):
                return e["version"], e["ts"]
    raise AssertionError(f"{phrase!r} is not in {agent_id}'s messages")


def evolution_rows(dump: dict[str, list[tuple[Any, ...]]]
                   ) -> dict[tuple[str, str, int], dict[str, int]]:
    from ctxstore.projections.evolution import COLUMNS

    out = {}
    for row in dump["evolution"]:
        values = dict(zip(COLUMNS, row, strict=True))
        key = (values.pop("agent_id"), values.pop("bucket"), values.pop("start_us"))
        out[key] = {k: v for k, v in values.items() if v}
    return out


def reference_rows(store: ContextStore) -> dict[tuple[str, str, int], dict[str, int]]:
    rows, _ = reference_evolution(store)
    return {k: {n: v for n, v in row.items() if v} for k, row in rows.items()}


def tool_rows(dump: dict[str, list[tuple[Any, ...]]]) -> Counter[tuple[str, str, int, str]]:
    return Counter({tuple(r[:4]): r[4] for r in dump["tools"]})  # type: ignore[misc]
