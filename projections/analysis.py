"""Context-evolution analysis over a period: is the context growing, is it compressing well,
what is being remembered and forgotten, which tools are used.

Works on the evolution read model (one row per bucket), never on the event log, so analysing a
year costs a few hundred rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ctxstore.application.store import from_us
from ctxstore.projections.evolution import BUCKETS, ROLES, EvolutionPoint, ToolUse, check_bucket
from ctxstore.projections.views import ContextViews

FLAT_FRACTION = 0.01  # a change under 1 % of the starting value is "flat"


@dataclass(frozen=True)
class Trend:
    """How one measure moved over the period (least-squares slope per hour of real time)."""

    first: float | None
    last: float | None
    change: float | None
    slope_per_hour: float | None
    direction: str  # growing, shrinking, flat, unknown

    @classmethod
    def of(cls, samples: list[tuple[int, float]]) -> Trend:
        """`samples`: (time in us, value), in time order."""
        if not samples:
            return cls(None, None, None, None, "unknown")
        first, last = samples[0][1], samples[-1][1]
        change = last - first
        slope = _slope(samples)
        if len(samples) < 2 or abs(change) <= FLAT_FRACTION * max(abs(first), 1e-12):
            direction = "flat"
        else:
            direction = "growing" if change > 0 else "shrinking"
        return cls(first, last, change, slope, direction)


def _slope(samples: list[tuple[int, float]]) -> float | None:
    if len(samples) < 2:
        return None
    xs = [t / 3.6e9 for t, _ in samples]  # hours
    ys = [v for _, v in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


@dataclass(frozen=True)
class Window:
    """One bucket of the period: what was added, removed and used, and the size after it."""

    start_us: int
    version: int  # the agent's version after the window
    events: int
    messages: int
    roles: dict[str, int]  # messages by role
    tokens: int
    memories_added: int
    memories_updated: int
    memories_forgotten: int
    live_memories: int
    tool_calls: int
    tool_errors: int
    checkpoints: int
    restores: int
    raw_bytes: int  # of this window's events
    stored_bytes: int
    context_raw_bytes: int  # of the agent's whole history after the window
    context_stored_bytes: int
    compression_ratio: float | None
    tools: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"start": from_us(self.start_us).isoformat(), **asdict(self)}


@dataclass(frozen=True)
class EvolutionAnalysis:
    agent_id: str
    bucket: str
    windows: list[Window]
    size_trend: Trend  # stored bytes of the agent's history after each window
    raw_size_trend: Trend
    compression_trend: Trend  # stored/raw of each window's events (compressed ÷ original)
    memory_trend: Trend  # live memories after each window
    tool_mix: dict[str, int] = field(default_factory=dict)  # calls per tool, most used first

    @property
    def memories_added(self) -> int:
        return sum(w.memories_added for w in self.windows)

    @property
    def memories_forgotten(self) -> int:
        return sum(w.memories_forgotten for w in self.windows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "bucket": self.bucket,
            "since": from_us(self.windows[0].start_us).isoformat() if self.windows else None,
            "until": (from_us(self.windows[-1].start_us + BUCKETS[self.bucket]).isoformat()
                      if self.windows else None),
            "size_trend": asdict(self.size_trend),
            "raw_size_trend": asdict(self.raw_size_trend),
            "compression_trend": asdict(self.compression_trend),
            "memory_trend": asdict(self.memory_trend),
            "memories_added": self.memories_added,
            "memories_forgotten": self.memories_forgotten,
            "tool_mix": self.tool_mix,
            "windows": [w.as_dict() for w in self.windows],
        }


def analyse_points(agent_id: str, bucket: str, points: list[EvolutionPoint],
                   tools: list[ToolUse]) -> EvolutionAnalysis:
    """The analysis of an agent's buckets (in time order) and its tool use in them."""
    by_window: dict[int, Counter[str]] = {}
    for use in tools:
        by_window.setdefault(use.start_us, Counter())[use.tool] += use.calls
    windows = [
        Window(
            start_us=p.start_us, version=p.version, events=p.events, messages=p.messages,
            roles={role: getattr(p, f"messages_{role}") for role in ROLES}, tokens=p.tokens,
            memories_added=p.memories_stored, memories_updated=p.memories_updated,
            memories_forgotten=p.memories_forgotten, live_memories=p.live_memories,
            tool_calls=p.tool_calls, tool_errors=p.tool_errors, checkpoints=p.checkpoints,
            restores=p.restores, raw_bytes=p.raw_bytes, stored_bytes=p.stored_bytes,
            context_raw_bytes=p.total_raw_bytes,
            context_stored_bytes=p.total_stored_bytes, compression_ratio=p.compression_ratio,
            tools=dict(by_window.get(p.start_us, Counter()).most_common()),
        )
        for p in points
    ]
    mix: Counter[str] = Counter()
    for use in tools:
        mix[use.tool] += use.calls
    return EvolutionAnalysis(
        agent_id=agent_id,
        bucket=bucket,
        windows=windows,
        size_trend=Trend.of([(w.start_us, w.context_stored_bytes) for w in windows]),
        raw_size_trend=Trend.of([(w.start_us, w.context_raw_bytes) for w in windows]),
        compression_trend=Trend.of([(w.start_us, w.compression_ratio) for w in windows
                                    if w.compression_ratio is not None]),
        memory_trend=Trend.of([(w.start_us, w.live_memories) for w in windows]),
        tool_mix=dict(mix.most_common()),
    )


def analyse(views: ContextViews, agent_id: str, bucket: str = "hour",
            since_us: int | None = None, until_us: int | None = None) -> EvolutionAnalysis:
    """Analyse an agent over [since, until) from the evolution read model."""
    check_bucket(bucket)
    points = views.evolution(agent_id, bucket, since_us, until_us)
    tools = views.tool_mix(agent_id, bucket, since_us, until_us)
    return analyse_points(agent_id, bucket, points, tools)
