"""A real agent trace (the bundled Letta agent file with a conversation) posted over HTTP, with
memory embeddings computed here (a hashing bag of words: deterministic, and close for texts
that share words), so similarity search has real memories to rank."""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from typing import Any

import httpx

from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES

LETTA = TRACES / "letta-agent-file" / "memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af"
DIMENSIONS = 64
BATCH = 20


def embed(text: str) -> list[float]:
    """A unit vector of the words of `text`, each hashed to one of DIMENSIONS axes."""
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def trace_envelopes(agent_id: str) -> list[dict[str, Any]]:
    """The trace's events for `agent_id` (fresh event ids: one tenant may post it twice), its
    memories with embeddings, and each of its assistant messages also kept as an episodic
    memory (as an agent's archival memory would), so there are many memories to rank."""
    out: list[dict[str, Any]] = []
    episodes = 0
    for envelope in load_trace(LETTA)[0].envelopes:
        e = envelope.model_dump(mode="json", exclude_none=True)
        e.update(agent_id=agent_id, event_id=str(uuid.uuid4()))
        e.pop("occurred_at", None)  # recorded now: the analysis looks at recent periods
        if e["type"] == "memory_stored":
            e["data"]["embedding"] = embed(e["data"]["content"])
        out.append(e)
        content = e["data"].get("content")
        if e["type"] == "message" and e["data"]["role"] == "assistant" and \
                isinstance(content, str) and content.strip():
            episodes += 1
            out.append({"event_id": str(uuid.uuid4()), "agent_id": agent_id,
                        "type": "memory_stored",
                        "data": {"memory_id": f"episode-{episodes}", "kind": "episodic",
                                 "content": content, "embedding": embed(content)}})
    return out


def post_all(client: httpx.Client, agent_id: str, envelopes: list[dict[str, Any]]) -> int:
    """Post in batches; the agent's version after the last."""
    version = 0
    for start in range(0, len(envelopes), BATCH):
        r = client.post(f"/api/v1/agents/{agent_id}/events",
                        json=envelopes[start:start + BATCH])
        assert r.status_code == 201, r.text
        version = r.json()["version"]
    return version
