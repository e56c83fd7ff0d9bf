"""The seed's `analyze_context_evolution(agent_id, time_period)`: over the last `time_period`,
how many packages (checkpoints) the agent has, how their size and compression moved, and how
its content evolved; beside it, our per-bucket analysis of the same period (projections.analysis).

The package measures come from the checkpoints created in the period (as the seed's
`search_contexts(created_after=now - time_period)`); the content measures from the evolution
read model, so they hold even for an agent that took no checkpoint in the period.
`compression_ratio` is the seed's: compressed ÷ original (smaller is better), from the sizes.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.context_search import ContextSearch, ContextSearchQuery
from ctxstore.application.errors import InvalidRequest
from ctxstore.application.store import to_us
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.projections.analysis import Trend, analyse
from ctxstore.projections.evolution import bucket_start
from ctxstore.projections.views import ContextViews

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=36_600)  # a century: `now - period` stays a valid time
_SHORT = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
                  r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
                  re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_period(text: str, field: str = "time_period") -> timedelta:
    """A period as ISO 8601 (`P7D`, `PT12H`), a number and unit (`7d`, `12h`, `30m`, `2w`) or
    seconds (`3600`); InvalidRequest naming `field` otherwise, or when not in (0, a century]."""
    raw = text.strip()
    seconds: float | None = None
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    elif match := _SHORT.match(raw):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    elif (match := _ISO.match(raw)) and raw.upper() not in ("P", "PT") and any(match.groups()):
        weeks, days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + secs
    if seconds is None:
        raise InvalidRequest(f"{field}: {raw[:64]!r} is not a period (ISO 8601 like P7D or "
                             "PT12H, or 30m, 12h, 7d, 2w, or seconds)")
    return check_period(timedelta(seconds=min(seconds, MAX_PERIOD.total_seconds() + 1)), field)


def check_period(period: timedelta, field: str = "time_period") -> timedelta:
    if period <= timedelta(0):
        raise InvalidRequest(f"{field}: must be longer than zero")
    if period > MAX_PERIOD:
        raise InvalidRequest(f"{field}: at most {MAX_PERIOD.days} days")
    return period


def iso_period(period: timedelta) -> str:
    """ISO 8601 of a period: `P7D`, `PT12H`, `P1DT30M`, `PT1.5S`."""
    days, rest = period.days, period.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    secs = seconds + period.microseconds / 1e6
    time = "".join(f"{v:g}{unit}" for v, unit in ((hours, "H"), (minutes, "M"), (secs, "S"))
                   if v)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def auto_bucket(period: timedelta) -> str:
    """The bucket that gives a period tens to hundreds of windows."""
    if period <= timedelta(hours=6):
        return "minute"
    if period <= timedelta(days=14):
        return "hour"
    return "day"


def _ratio(checkpoint: Checkpoint) -> float | None:
    if not checkpoint.original_size_bytes:
        return None
    return checkpoint.compressed_size_bytes / checkpoint.original_size_bytes


def _trend(packages: list[Checkpoint], value: Any) -> dict[str, Any]:
    samples = [(to_us(c.created_at), float(v)) for c in packages
               if (v := value(c)) is not None]
    return asdict(Trend.of(samples))


def size_trend(packages: list[Checkpoint]) -> dict[str, Any]:
    """How big the agent's packages grew: original (state) and compressed bytes."""
    return {
        **_trend(packages, lambda c: c.original_size_bytes),
        "compressed": _trend(packages, lambda c: c.compressed_size_bytes),
        "points": [{"package_id": c.package_id, "created_at": c.created_at.isoformat(),
                    "version": c.version, "original_size_bytes": c.original_size_bytes,
                    "compressed_size_bytes": c.compressed_size_bytes} for c in packages],
    }


def compression_efficiency(packages: list[Checkpoint]) -> dict[str, Any]:
    """The packages' compression: average, best and worst ratio, bytes saved, and its trend."""
    ratios = [r for c in packages if (r := _ratio(c)) is not None]
    original = sum(c.original_size_bytes for c in packages)
    compressed = sum(c.compressed_size_bytes for c in packages)
    overall = compressed / original if original else None
    return {
        "average_compression_ratio": sum(ratios) / len(ratios) if ratios else None,
        "best_compression_ratio": min(ratios) if ratios else None,
        "worst_compression_ratio": max(ratios) if ratios else None,
        "overall_compression_ratio": overall,
        "space_saving": 1 - overall if overall is not None else None,
        "original_size_bytes": original,
        "compressed_size_bytes": compressed,
        "bytes_saved": original - compressed,
        "trend": _trend(packages, _ratio),
    }


def content_evolution(packages: list[Checkpoint], period_analysis: dict[str, Any]
                      ) -> dict[str, Any]:
    """What the agent holds, package to package, and what it did in the period."""
    return {
        "messages": _trend(packages, lambda c: c.message_count),
        "memories": _trend(packages, lambda c: c.memory_count),
        "reasoning_threads": _trend(packages, lambda c: c.reasoning_thread_count),
        "tool_invocations": _trend(packages, lambda c: c.tool_invocation_count),
        "messages_in_period": sum(w["messages"] for w in period_analysis["windows"]),
        "tokens_in_period": sum(w["tokens"] for w in period_analysis["windows"]),
        "tool_calls_in_period": sum(w["tool_calls"] for w in period_analysis["windows"]),
        "memories_added": period_analysis["memories_added"],
        "memories_forgotten": period_analysis["memories_forgotten"],
        "memory_trend": period_analysis["memory_trend"],
        "tool_mix": period_analysis["tool_mix"],
    }


def analyze_context_evolution(search: ContextSearch, views: ContextViews, agent_key: str,
                              time_period: timedelta, *, tenant: str,
                              bucket: str | None = None,
                              now: datetime | None = None) -> dict[str, Any]:
    """The seed's ContextEvolutionAnalysis of an agent (by its store key) as plain JSON, with
    our per-bucket analysis of the same period under `analysis`."""
    check_period(time_period)
    until = now or datetime.now(UTC)
    since = until - time_period
    packages = sorted(search.search_contexts(ContextSearchQuery(agent_id=agent_key,
                                                                created_after=since), tenant),
                      key=lambda c: (c.created_at, c.package_id))
    packages = [c for c in packages if c.created_at <= until]
    chosen = bucket or auto_bucket(time_period)
    # Whole buckets: the one holding `since` too (its events may be partly before it).
    detail = analyse(views, agent_key, chosen, bucket_start(to_us(since), chosen),
                     to_us(until) + 1).as_dict()
    detail["agent_id"] = plain_agent_id(agent_key)
    return {
        "agent_id": plain_agent_id(agent_key),
        "time_period": iso_period(time_period),
        "time_period_seconds": time_period.total_seconds(),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "total_packages": len(packages),
        "size_trend": size_trend(packages),
        "compression_efficiency": compression_efficiency(packages),
        "content_evolution": content_evolution(packages, detail),
        "analysis": detail,
        "position": views.position(),
    }
