"""Which checkpoints retention removes: past their age, or beyond the count kept per agent."""

from __future__ import annotations

from datetime import datetime, timedelta

from ctxstore.application.package_port import PackageRow
from ctxstore.domain.clock import to_us


def retention_due(rows: list[PackageRow], now: datetime, *, max_per_agent: int,
                  days: float | None, adding: int = 0, own_limit: bool = False
                  ) -> tuple[list[str], str]:
    """Ids of one agent's captured checkpoints (`rows`, oldest first) that retention removes
    when `adding` more are about to be kept, and why. Imported ones are never removed."""
    captured = [r for r in rows if r.event_version is not None]
    expired: list[PackageRow] = []
    if days is not None:
        cutoff = to_us(now - timedelta(days=days))
        expired = [r for r in captured if r.created_us < cutoff]
    kept = [r for r in captured if r not in expired]
    excess = kept[: max(0, len(kept) + adding - max_per_agent)]
    reasons = []
    if expired:
        reasons.append(f"older than {days:g} days (CONTEXT_RETENTION_DAYS)")
    if excess:
        reasons.append(f"over {max_per_agent} per agent ("
                       + ("its automatic checkpoint schedule's maximum" if own_limit
                          else "CONTEXT_MAX_CHECKPOINTS_PER_AGENT") + ")")
    return [r.package_id for r in expired + excess], "; ".join(reasons)
