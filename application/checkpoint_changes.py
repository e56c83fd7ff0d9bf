"""Which agents changed since their last checkpoint: what automatic capture captures.

Read by topic, newest first, so nothing is decoded: a checkpoint event ends the search (no
change since), a prune event is skipped (it changes no content), anything else is a change.
"""

from __future__ import annotations

from collections.abc import Iterable

from ctxstore.application.package_port import PackageRow
from ctxstore.application.store import ContextStore
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.topics import topics_of

_TAKEN = topics_of(AgentContext.CheckpointTaken)
_PRUNED = topics_of(AgentContext.CheckpointsPruned)


def changed_agents(store: ContextStore, packages: Iterable[PackageRow], only: str | None = None
                   ) -> list[str]:
    """Agents (keys) whose content changed after their newest captured checkpoint (`packages`:
    every package row, or the agent's when `only` names one), or that have none."""
    last: dict[str, int] = {}
    for row in packages:
        if row.event_version is not None:
            last[row.agent_id] = max(last.get(row.agent_id, 0), row.event_version)
    summary = store.summary(only) if only is not None else None
    agents = store.agents() if only is None else [summary] if summary is not None else []
    return [a.agent_id for a in agents
            if a.version > last.get(a.agent_id, 0)
            and changed_after(store, a.agent_id, last.get(a.agent_id, 0))]


def changed_after(store: ContextStore, agent_id: str, version: int) -> bool:
    """Whether a content event comes after `version` and after the agent's latest
    checkpoint event."""
    for event in store.stored_events(agent_id, after_version=version, newest_first=True,
                                     page=20):
        if event.topic in _TAKEN:
            return False
        if event.topic not in _PRUNED:
            return True
    return False
