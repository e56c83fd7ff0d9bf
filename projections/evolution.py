"""Context evolution: per agent and time bucket, what happened and how big the context grew.

Counters add up the events of a bucket; gauges (version, live memories, cumulative bytes) hold
the value after the bucket's last event. Every bucket size is kept (minute, hour, day) so a chart
of a year reads a few hundred rows, not half a million.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from ctxstore.application.store import from_us
from ctxstore.projections.events import (
    CHECKPOINT_TAKEN,
    CONTEXT_RESTORED,
    ProjectedEvent,
    estimated_tokens,
)

BUCKETS: dict[str, int] = {
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
}
MINUTE_US = BUCKETS["minute"]
ROLES = ("system", "user", "assistant", "tool")
MEMORY_KINDS = ("short_term", "long_term", "episodic", "semantic")


def bucket_start(ts_us: int, bucket: str) -> int:
    """The start of the bucket holding a time (buckets are aligned to the epoch, in UTC)."""
    size = BUCKETS[bucket]
    return ts_us - ts_us % size


def check_bucket(bucket: str) -> str:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket: {bucket!r} is not one of {', '.join(BUCKETS)}")
    return bucket


@dataclass
class EvolutionPoint:
    """One agent's activity in one time bucket, and its size after it."""

    agent_id: str
    bucket: str
    start_us: int
    # Counters: sums over the bucket's events.
    events: int = 0
    messages: int = 0
    messages_system: int = 0
    messages_user: int = 0
    messages_assistant: int = 0
    messages_tool: int = 0
    tokens: int = 0
    reasoning_steps: int = 0
    tool_calls: int = 0
    tool_results: int = 0
    tool_errors: int = 0
    memories_stored: int = 0
    memories_stored_short_term: int = 0
    memories_stored_long_term: int = 0
    memories_stored_episodic: int = 0
    memories_stored_semantic: int = 0
    memories_updated: int = 0
    memories_updated_short_term: int = 0
    memories_updated_long_term: int = 0
    memories_updated_episodic: int = 0
    memories_updated_semantic: int = 0
    memories_forgotten: int = 0
    memories_forgotten_short_term: int = 0
    memories_forgotten_long_term: int = 0
    memories_forgotten_episodic: int = 0
    memories_forgotten_semantic: int = 0
    memory_links: int = 0
    mcp_updates: int = 0
    checkpoints: int = 0
    restores: int = 0
    raw_bytes: int = 0
    stored_bytes: int = 0
    # Gauges: the agent after the bucket's last event.
    version: int = 0
    live_memories: int = 0
    total_raw_bytes: int = 0
    total_stored_bytes: int = 0

    @property
    def start(self) -> datetime:
        return from_us(self.start_us)

    @property
    def compression_ratio(self) -> float | None:
        """Stored over raw bytes of this bucket's events, the seed plan's compressed ÷ original
        (None when nothing was stored)."""
        return _ratio(self.stored_bytes, self.raw_bytes)

    @property
    def total_compression_ratio(self) -> float | None:
        """Stored over raw bytes of the agent's whole history after this bucket."""
        return _ratio(self.total_stored_bytes, self.total_raw_bytes)

    @property
    def space_saving(self) -> float | None:
        """1 − compression_ratio: the share of this bucket's raw bytes compression saved."""
        ratio = self.compression_ratio
        return None if ratio is None else round(1 - ratio, 4)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["compression_ratio"] = self.compression_ratio
        out["total_compression_ratio"] = self.total_compression_ratio
        out["space_saving"] = self.space_saving
        return out


def _ratio(stored: int, raw: int) -> float | None:
    return round(stored / raw, 4) if stored and raw else None


KEY_COLUMNS = ("agent_id", "bucket", "start_us")
GAUGES = ("version", "live_memories", "total_raw_bytes", "total_stored_bytes")
COUNTERS: tuple[str, ...] = tuple(
    f.name for f in fields(EvolutionPoint) if f.name not in KEY_COLUMNS + GAUGES
)
COLUMNS: tuple[str, ...] = KEY_COLUMNS + COUNTERS + GAUGES


@dataclass(frozen=True)
class ToolUse:
    """Calls of one tool by one agent in one bucket: the tool mix."""

    agent_id: str
    bucket: str
    start_us: int
    tool: str
    calls: int


@dataclass
class AgentTrack:
    """What the projection must remember of an agent between events (persisted with it)."""

    agent_id: str
    version: int = 0
    raw_bytes: int = 0
    stored_bytes: int = 0
    memory_kinds: dict[str, str] = field(default_factory=dict)

    @property
    def live_memories(self) -> int:
        return len(self.memory_kinds)


@dataclass(frozen=True)
class AgentTotals:
    """An agent's persisted running state as a batch leaves it (a copy: the track moves on)."""

    agent_id: str
    version: int
    raw_bytes: int
    stored_bytes: int
    live_memories: int


@dataclass
class MemoryDiff:
    """How an agent's memory id→kind table changes in a batch (replace first, then apply)."""

    replaced: bool = False
    upsert: dict[str, str] = field(default_factory=dict)
    delete: set[str] = field(default_factory=set)

    def store(self, memory_id: str, kind: str) -> None:
        self.upsert[memory_id] = kind
        self.delete.discard(memory_id)

    def forget(self, memory_id: str) -> None:
        self.upsert.pop(memory_id, None)
        self.delete.add(memory_id)

    def replace(self, kinds: dict[str, str]) -> None:
        self.replaced = True
        self.upsert = dict(kinds)
        self.delete.clear()


@dataclass
class EvolutionChanges:
    """A batch's effect on the evolution tables, aggregated before it is written.

    Events fold into minute buckets only; `finish` rolls minutes up into hours and days, so an
    event costs one bucket update, not three.
    """

    points: dict[tuple[str, str, int], EvolutionPoint] = field(default_factory=dict)
    tools: dict[tuple[str, str, int, str], int] = field(default_factory=dict)
    agents: dict[str, AgentTotals] = field(default_factory=dict)  # filled by finish()
    memories: dict[str, MemoryDiff] = field(default_factory=dict)
    _touched: dict[str, AgentTrack] = field(default_factory=dict, repr=False)

    def apply(self, event: ProjectedEvent, track: AgentTrack) -> None:
        """Fold one event into the batch; `track` is the agent's state, updated in place."""
        diff = self.memories.get(event.agent_id)
        if diff is None:
            diff = self.memories[event.agent_id] = MemoryDiff()
        increments = _increments(event, track, diff)
        track.version = event.version
        track.raw_bytes += event.raw_bytes
        track.stored_bytes += event.stored_bytes
        self._touched[event.agent_id] = track
        start = event.ts_us - event.ts_us % MINUTE_US
        key = (event.agent_id, "minute", start)
        point = self.points.get(key)
        if point is None:
            point = self.points[key] = EvolutionPoint(event.agent_id, "minute", start)
        values = point.__dict__  # plain dataclass: its fields are its __dict__ (and faster)
        for name, value in increments.items():
            values[name] += value
        values["version"] = track.version
        values["live_memories"] = track.live_memories
        values["total_raw_bytes"] = track.raw_bytes
        values["total_stored_bytes"] = track.stored_bytes
        if event.type == "tool_call" and isinstance(tool := event.data.get("tool"), str):
            tool_key = (event.agent_id, "minute", start, tool)
            self.tools[tool_key] = self.tools.get(tool_key, 0) + 1

    def finish(self) -> None:
        """Add the hour and day buckets, rolled up from the batch's minutes, and copy the agents'
        totals (the next batch may be folded while this one is still being written)."""
        self.agents = {
            a: AgentTotals(a, t.version, t.raw_bytes, t.stored_bytes, t.live_memories)
            for a, t in self._touched.items()
        }
        minutes = [p for p in self.points.values() if p.bucket == "minute"]
        for bucket in ("hour", "day"):
            for m in minutes:
                key = (m.agent_id, bucket, bucket_start(m.start_us, bucket))
                point = self.points.get(key)
                if point is None:
                    point = self.points[key] = EvolutionPoint(*key)
                into, source = point.__dict__, m.__dict__
                for name in COUNTERS:
                    if value := source[name]:
                        into[name] += value
                if m.version > point.version:
                    for name in GAUGES:
                        into[name] = source[name]
            for (agent_id, size, start, tool), calls in list(self.tools.items()):
                if size == "minute":
                    tool_key = (agent_id, bucket, bucket_start(start, bucket), tool)
                    self.tools[tool_key] = self.tools.get(tool_key, 0) + calls


def _increments(event: ProjectedEvent, track: AgentTrack, diff: MemoryDiff) -> dict[str, int]:
    """The counters one event adds, updating the agent's memory table on the way."""
    out = {"events": 1, "raw_bytes": event.raw_bytes, "stored_bytes": event.stored_bytes}
    data, kinds = event.data, track.memory_kinds
    if event.type == "message":
        out["messages"] = 1
        out[f"messages_{data['role']}"] = 1
        out["tokens"] = estimated_tokens(data)
    elif event.type == "reasoning":
        out["reasoning_steps"] = 1
    elif event.type == "tool_call":
        out["tool_calls"] = 1
    elif event.type == "tool_result":
        out["tool_results"] = 1
        out["tool_errors"] = 1 if data.get("is_error") else 0
    elif event.type == "memory_stored":
        kinds[data["memory_id"]] = data["kind"]
        diff.store(data["memory_id"], data["kind"])
        out["memories_stored"] = 1
        out[f"memories_stored_{data['kind']}"] = 1
    elif event.type == "memory_updated":
        kind = kinds.get(data["memory_id"])
        out["memories_updated"] = 1
        if kind is not None:
            out[f"memories_updated_{kind}"] = 1
    elif event.type == "memory_forgotten":
        kind = kinds.pop(data["memory_id"], None)
        diff.forget(data["memory_id"])
        out["memories_forgotten"] = 1
        if kind is not None:
            out[f"memories_forgotten_{kind}"] = 1
    elif event.type == "memory_linked":
        out["memory_links"] = 1
    elif event.type == "mcp_state":
        out["mcp_updates"] = 1
    elif event.type == CONTEXT_RESTORED:
        memories = event.data["content"].get("memories", {})
        kinds.clear()
        kinds.update({mid: m.get("kind", "") for mid, m in memories.items()})
        diff.replace(kinds)
        out["restores"] = 1
    elif event.type == CHECKPOINT_TAKEN:
        out["checkpoints"] = 1
    return out
