"""Memories found by meaning: cosine similarity between a query vector and the embeddings the
agent's memories hold at a point (a version, a time, a checkpoint, or now).

The embeddings are those of the `memory_stored` events, carried in the agent's state, so a
restored or forked agent holds its source's embeddings and the same query finds the same
memories in both. Plain Python (no numpy): a few thousand memories of ~1,500 dimensions take
milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ctxstore.application.errors import InvalidRequest
from ctxstore.application.restore import RestoreService
from ctxstore.domain.agent_id import LOCAL_TENANT, plain_agent_id
from ctxstore.domain.events import MAX_EMBEDDING_DIMENSIONS
from ctxstore.domain.points import Point

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


def check_vector(vector: Any, field: str = "embedding") -> list[float]:
    """The query vector as floats; InvalidRequest naming the field (or the element) when it is
    not a non-empty list of finite numbers, is too long, or is all zeros."""
    if not isinstance(vector, list | tuple):
        raise InvalidRequest(f"{field}: must be a list of numbers")
    if not vector:
        raise InvalidRequest(f"{field}: must not be empty")
    if len(vector) > MAX_EMBEDDING_DIMENSIONS:
        raise InvalidRequest(f"{field}: at most {MAX_EMBEDDING_DIMENSIONS} dimensions, "
                             f"not {len(vector)}")
    out: list[float] = []
    for n, value in enumerate(vector):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequest(f"{field}.{n}: must be a number")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidRequest(f"{field}.{n}: must be finite (not NaN or infinity)")
        out.append(number)
    if not any(out):
        raise InvalidRequest(f"{field}: all zeros; a zero vector has no direction to compare")
    return out


def _norm(vector: Sequence[float]) -> float:
    return math.sqrt(math.fsum(x * x for x in vector))


def cosine(a: Sequence[float], b: Sequence[float], norm_a: float | None = None) -> float | None:
    """Cosine similarity of two vectors of one length (None when either is all zeros)."""
    na = _norm(a) if norm_a is None else norm_a
    nb = _norm(b)
    if na == 0 or nb == 0:
        return None
    return math.fsum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)


@dataclass(frozen=True)
class MemoryMatch:
    memory_id: str
    kind: str
    score: float
    content: str
    importance: float | None
    metadata: dict[str, Any] | None


@dataclass(frozen=True)
class MemorySearchResult:
    """The best matches at a point, and what was compared."""

    agent_id: str
    point: dict[str, Any]
    version: int
    content_hash: str
    dimensions: int
    memories: int  # live memories at the point
    compared: int  # those with an embedding of the query's dimension
    matches: list[MemoryMatch]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank_memories(memories: dict[str, dict[str, Any]], vector: list[float], *,
                  limit: int = DEFAULT_LIMIT, min_score: float | None = None,
                  kinds: Sequence[str] = (), field: str = "embedding"
                  ) -> tuple[int, list[MemoryMatch]]:
    """(how many were compared, the best `limit` by score, ties by memory id). A query whose
    dimension no stored embedding has is an InvalidRequest naming `field`."""
    dims: Counter[int] = Counter()
    scored: list[MemoryMatch] = []
    norm = _norm(vector)
    for memory_id, memory in memories.items():
        embedding = memory.get("embedding")
        if not embedding or (kinds and memory.get("kind") not in kinds):
            continue
        dims[len(embedding)] += 1
        if len(embedding) != len(vector):
            continue
        score = cosine(vector, embedding, norm)
        if score is None or (min_score is not None and score < min_score):
            continue
        scored.append(MemoryMatch(memory_id, memory.get("kind", ""), score,
                                  memory.get("content", ""), memory.get("importance"),
                                  memory.get("metadata")))
    if dims and len(vector) not in dims:
        held = ", ".join(f"{d} ({n} memories)" for d, n in sorted(dims.items()))
        raise InvalidRequest(f"{field}: has {len(vector)} dimensions; the memory embeddings "
                             f"at this point have {held}")
    scored.sort(key=lambda m: (-m.score, m.memory_id))
    return dims[len(vector)], scored[:limit]


class MemorySearch:
    """Similarity search of an agent's memories at any point of its history."""

    def __init__(self, restore: RestoreService):
        self.restore = restore

    def search(self, agent_id: str, vector: Any, *, point: Point | None = None,
               limit: int = DEFAULT_LIMIT, min_score: float | None = None,
               kinds: Sequence[str] = (), tenant: str = LOCAL_TENANT) -> MemorySearchResult:
        """`agent_id` is the store's key; a checkpoint point must be one `tenant` may read.

        Raises InvalidRequest (bad vector or limit), AgentNotFound, PointNotFound."""
        query = check_vector(vector)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit: from 1 to {MAX_LIMIT}")
        if min_score is not None and not -1.0 <= min_score <= 1.0:
            raise InvalidRequest("min_score: from -1 to 1")
        at = point or Point.latest()
        state = self.restore.state_at(agent_id, at, tenant=tenant)
        memories = state.content["memories"]
        compared, matches = rank_memories(memories, query, limit=limit, min_score=min_score,
                                          kinds=kinds)
        return MemorySearchResult(
            agent_id=plain_agent_id(state.agent_id), point=at.to_dict(), version=state.version,
            content_hash=state.content_hash, dimensions=len(query), memories=len(memories),
            compared=compared, matches=matches)
