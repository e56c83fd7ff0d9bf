"""Record already-validated envelopes of imported agents in batches, reporting progress."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ctxstore.application.store import LOCAL_TENANT, ContextStore
from ctxstore.domain.events import AnyEnvelope


@dataclass
class ImportSummary:
    agents: dict[str, int] = field(default_factory=dict)  # agent id -> version after import
    events: int = 0
    recorded: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)


def record_in_batches(
    store: ContextStore,
    envelopes: Sequence[AnyEnvelope] | Iterable[AnyEnvelope],
    *,
    batch_size: int = 1000,
    tenant: str = LOCAL_TENANT,
    progress: Callable[[int], None] | None = None,
    summary: ImportSummary | None = None,
) -> ImportSummary:
    """Record envelopes batch by batch (each batch one transaction); re-running records nothing.

    `progress` is called with the number of envelopes handled after each batch.
    """
    summary = summary or ImportSummary()
    batch: list[AnyEnvelope] = []

    def flush() -> None:
        result = store.record(batch, tenant=tenant)
        summary.events += len(batch)
        summary.recorded += result.recorded
        summary.duplicates += result.duplicates
        summary.rejected.extend(f"{o.event_id}: {o.reason}" for o in result.rejected)
        for agent_id in {e.agent_id for e in batch}:
            version = result.versions.get(agent_id)
            if version is None:
                known = store.summary(store.key_for(tenant, agent_id))
                version = known.version if known else 0
            summary.agents[agent_id] = version
        if progress:
            progress(len(batch))
        batch.clear()

    for envelope in envelopes:
        batch.append(envelope)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return summary
