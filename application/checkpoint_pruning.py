"""Retention: which checkpoints of an agent go (by age, then by count), and pruning them.

Pruning appends one `CheckpointsPruned` event per agent with the deletions it lists (history
stays append-only), then lets the part store release what no row refers to any more. An agent
with its own automatic checkpoint schedule keeps that schedule's maximum.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from ctxstore.application.checkpoint_model import PruneReport
from ctxstore.application.checkpoint_reads import CheckpointReads
from ctxstore.application.checkpoint_retention import retention_due
from ctxstore.application.errors import ContextStoreError, InvalidRequest
from ctxstore.application.package_port import PackageRow
from ctxstore.application.retry import retry_on_conflict
from ctxstore.application.schedule_port import DEFAULT_SCHEDULE
from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import check_agent_key

log = logging.getLogger(__name__)


class CheckpointPruning(CheckpointReads):
    """Retention over the package table (CheckpointService sets the limits)."""

    store: ContextStore
    max_checkpoints_per_agent: int
    retention_days: float | None

    # Retention -------------------------------------------------------------------------------
    def _retention(self, rows: list[PackageRow], now: datetime, *, adding: int = 0,
                   retention_days: float | None = None,
                   limits: dict[str, int] | None = None) -> tuple[list[str], str]:
        """What retention removes of one agent's `rows`: an agent with its own automatic
        checkpoint schedule keeps its schedule's maximum (`limits` by agent key, read from
        the store when not given), any other CONTEXT_MAX_CHECKPOINTS_PER_AGENT."""
        days = self.retention_days if retention_days is None else retention_days
        if not rows:
            return [], ""
        agent_id = rows[0].agent_id
        if limits is None:
            limits = self.schedule_limits(agent_id)
        own = limits.get(agent_id)
        return retention_due(rows, now, max_per_agent=own or self.max_checkpoints_per_agent,
                             days=days, adding=adding, own_limit=own is not None)

    def schedule_limits(self, agent_id: str | None = None) -> dict[str, int]:
        """The maximum kept of each agent with its own schedule (of one agent, when given)."""
        schedules = self.store.schedules
        if agent_id is not None:
            held = schedules.select_schedule(agent_id)
            return {agent_id: held.max_checkpoints} if held is not None else {}
        return {s.agent_id: s.max_checkpoints for s in schedules.select_schedules()
                if s.agent_id != DEFAULT_SCHEDULE}

    def due_for_pruning(self, agent_id: str | None = None, *, now: datetime | None = None,
                        retention_days: float | None = None) -> dict[str, list[str]]:
        """What `prune` would remove now: package ids by agent (nothing is written)."""
        now = now or datetime.now(UTC)
        rows: dict[str, list[PackageRow]] = {}
        for row in self.packages.select_packages(agent_id):
            rows.setdefault(row.agent_id, []).append(row)
        limits = self.schedule_limits(agent_id)
        due = {a: self._retention(r, now, retention_days=retention_days, limits=limits)[0]
               for a, r in rows.items()}
        return {a: ids for a, ids in due.items() if ids}

    def prune(self, agent_id: str | None = None, *, now: datetime | None = None,
              retention_days: float | None = None) -> PruneReport:
        """Apply retention (age, then count) to every agent's checkpoints, or one agent's:
        per agent, one `CheckpointsPruned` event commits with the deletions it lists.

        `now` and `retention_days` default to the clock and the service's setting.
        """
        if agent_id is not None:
            check_agent_key(agent_id)
        if retention_days is not None and retention_days <= 0:
            raise InvalidRequest("retention_days must be positive")
        report = PruneReport()
        for agent in self.due_for_pruning(agent_id, now=now, retention_days=retention_days):
            try:
                pruned = self._prune_agent(agent, now, retention_days)
            except ContextStoreError as e:
                log.warning("pruning the checkpoints of %s failed: %s", agent, e)
                report.failed[agent] = str(e)
                continue
            if pruned:
                report.pruned[agent] = pruned
        return report

    def _prune_agent(self, agent_id: str, now: datetime | None,
                     retention_days: float | None) -> list[str]:
        def prune_once() -> list[str]:
            agent = self.store.agent_at(agent_id)
            at = agent.next_timestamp(datetime.now(UTC))
            held = self.packages.select_packages(agent_id)
            ids, reason = self._retention(held, now or at, retention_days=retention_days)
            if not ids:
                return []
            referenced = self._referenced(held, ids)
            agent.note_checkpoints_pruned(event_id=f"prune-{uuid.uuid4().hex}",
                                          package_ids=ids, reason=reason, timestamp=at)
            self.store.append(agent, pruned_package_ids=ids)
            self._release(held, ids, referenced)
            return ids

        return retry_on_conflict(
            prune_once, f"could not prune the checkpoints of {agent_id!r}: it kept changing")

    def _release(self, rows: Sequence[PackageRow], deleted: Sequence[str],
                 referenced: dict[str, set[str]]) -> None:
        """After the deletion of `deleted` committed: their parts no row refers to go."""
        gone = set(deleted)
        for tenant in sorted({r.tenant for r in rows if r.package_id in gone}):
            self.bodies.released(tenant, referenced.get(tenant, set()))

    def _referenced(self, rows: Sequence[PackageRow], ids: Sequence[str]) -> dict[str, set[str]]:
        """Before deleting `ids`: the parts they refer to, by tenant."""
        chosen = set(ids)
        by_tenant: dict[str, set[str]] = {}
        for row in rows:
            if row.package_id in chosen:
                by_tenant.setdefault(row.tenant, set()).add(row.package_id)
        return {t: self.packages.package_parts(t, p) for t, p in by_tenant.items()}
