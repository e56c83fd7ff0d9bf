"""Forget an agent (right to erasure): every row of it goes in one transaction, a tombstone
stays, and nothing it published can bring it back.

The store erases the rows (application.forget_port), then the part store releases the parts
only the agent's checkpoints referred to (a fork's references keep theirs), then the doors'
purges run (the NATS streams' copies of its envelopes, when NATS is configured) and the
database gives up the freed bytes (secure delete, vacuum). The tombstone keeps the agent key,
who and when; its event ids are kept only as digests (keyed by the integrity key when there is
one, so whoever reads the database cannot test guesses of ids), which is what refuses a
redelivered event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ctxstore.application.checkpoint_bodies import CheckpointBodies
from ctxstore.application.forget_port import ErasePlan, Tombstone
from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import aggregate_id, plain_agent_id
from ctxstore.domain.clock import from_us, to_us
from ctxstore.domain.pages import forget_recent

log = logging.getLogger(__name__)

#: What a door adds to a forget: (tenant, agent id) -> messages it removed (None: not run).
Purge = Callable[[str, str], int | None]


@dataclass(frozen=True)
class ForgetResult:
    """What a forget removed. `stream_messages` is what the NATS purge removed (None when no
    purge ran: NATS is not configured for this process); `purge_error` says why a purge
    failed, `reclaim_error` why the database kept the freed bytes (a VACUUM, the WAL): the
    rows are gone all the same, and the README says what to run by hand."""

    agent_id: str
    forgotten_at: str
    forgotten_by: str
    events: int
    snapshots: int
    checkpoints: int
    event_ids: int
    parts_released: int
    view_rows: int
    schedules: int
    stream_messages: int | None = None
    purge_error: str | None = None
    reclaim_error: str | None = None


class ForgetService:
    def __init__(self, store: ContextStore, bodies: CheckpointBodies,
                 purges: Sequence[Purge] = ()):
        self.store = store
        self.bodies = bodies
        self.purges = list(purges)

    def forget(self, key: str, tenant: str, by: str) -> ForgetResult:
        """Erase the agent of this key (the caller checked it is the tenant's and exists)."""
        now = to_us(datetime.now(UTC))
        digest = self.store.event_id_digest
        plan = ErasePlan(Tombstone(key, tenant, now, by), aggregate_id(key),
                         lambda event_id: digest(tenant, event_id))
        erased = self.store.erase(plan)
        # The bytes of the parts this process hashed last may be its content's.
        forget_recent()
        # Those a fork (or another checkpoint) still refers to stay.
        gone = self.bodies.released(tenant, erased.parts)
        if self.store.part_content is not None:
            self.store.part_content.released(tenant, gone)
        released = len(gone)
        purged: int | None = None
        failed: str | None = None
        for purge in self.purges:
            try:
                count = purge(tenant, plain_agent_id(key))
            except Exception as e:  # noqa: BLE001 - the rows are gone; say what was not
                failed = f"{type(e).__name__}: {e}"
                log.error("forget %s: purging its messages failed (%s)", key, failed)
                continue
            if count is not None:
                purged = (purged or 0) + count
        reclaim_error: str | None = None
        try:
            self.store.reclaim()
        except Exception as e:  # noqa: BLE001 - the rows are gone; the freed bytes wait
            reclaim_error = f"{type(e).__name__}: {e}"
            log.error("forget %s: the database did not give up the freed bytes (%s)", key,
                      reclaim_error)
        return ForgetResult(
            agent_id=plain_agent_id(key), forgotten_at=from_us(now).isoformat(),
            forgotten_by=by, events=erased.events, snapshots=erased.snapshots,
            checkpoints=erased.checkpoints, event_ids=erased.event_ids,
            parts_released=released, view_rows=erased.view_rows, schedules=erased.schedules,
            stream_messages=purged, purge_error=failed, reclaim_error=reclaim_error)

__all__ = ["ForgetResult", "ForgetService", "Purge"]
