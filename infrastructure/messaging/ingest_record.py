"""Recording an ingest batch: one transaction, retried in place while the failure is transient.

A batch that keeps failing for another reason is recorded one event at a time, so the one event
the store cannot take is dead-lettered with the store's error and the others are recorded.
Each tenant's part of a batch is its own transaction, through the same command as every door
(`Commands.record_parsed`) acting for the tenant the subjects named; a part is retried alone,
so a part already committed is never recorded again as a run of duplicates (which would lose
its announcements).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import psycopg
from eventsourcing.persistence import (
    DataError,
    NotSupportedError,
    PersistenceError,
    ProgrammingError,
)
from nats.aio.msg import Msg

from ctxstore.application.commands import Caller, Commands
from ctxstore.application.errors import WriteConflict
from ctxstore.application.results import EventOutcome
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.events import AnyEnvelope
from ctxstore.infrastructure.messaging.ingest_options import IngestOptions, IngestStats

log = logging.getLogger("ctxstore.infrastructure.messaging.ingest")


def is_transient(error: BaseException) -> bool:
    """Errors worth retrying the same batch for: the database or its connection, not the data."""
    if isinstance(error, DataError | ProgrammingError | NotSupportedError):
        return False
    return isinstance(error, PersistenceError | psycopg.OperationalError | psycopg.InterfaceError
                      | WriteConflict | OSError | TimeoutError)


class BatchRecorder:
    def __init__(self, commands: Commands, options: IngestOptions, stats: IngestStats):
        self.commands = commands
        self.options = options
        self.stats = stats

    def _record_now(self, caller: Caller, envelopes: Sequence[AnyEnvelope]
                    ) -> list[EventOutcome]:
        return self.commands.record_parsed(caller, envelopes)

    async def record(self, envelopes: Sequence[AnyEnvelope], msgs: Sequence[Msg],
                     tenant: str = LOCAL_TENANT) -> list[EventOutcome]:
        """Record the tenant's envelopes in one transaction, retrying transient failures for
        as long as they last; one outcome each, in order."""
        caller = Caller(tenant=tenant, keyed=tenant != LOCAL_TENANT)
        delay = self.options.retry_initial
        last_progress = time.monotonic()
        failures = 0
        while True:
            try:
                return await asyncio.to_thread(self._record_now, caller, envelopes)
            except Exception as e:  # noqa: BLE001 - classified below
                failures += 1
                self.stats.retries += 1
                self.stats.last_error = f"{type(e).__name__}: {e}"
                if not is_transient(e) and failures >= 3:
                    return await self._record_one_by_one(caller, envelopes, msgs)
                log.warning("recording %d events failed (%s); retrying in %.2fs",
                            len(envelopes), self.stats.last_error, delay)
            if time.monotonic() - last_progress > 10:
                # Keep the server from redelivering what this worker still holds.
                for m in msgs:
                    await m.in_progress()
                last_progress = time.monotonic()
            await asyncio.sleep(delay)
            delay = min(self.options.retry_max, delay * 2)

    async def _record_one_by_one(self, caller: Caller, envelopes: Sequence[AnyEnvelope],
                                 msgs: Sequence[Msg]) -> list[EventOutcome]:
        """A batch that keeps failing for a non-transient reason: find and reject the culprit."""
        outcomes: list[EventOutcome] = []
        for envelope in envelopes:
            delay = self.options.retry_initial
            while True:
                try:
                    outcomes.extend(await asyncio.to_thread(self._record_now, caller,
                                                            [envelope]))
                    break
                except Exception as e:  # noqa: BLE001 - this one event may not be storable
                    if not is_transient(e):
                        outcomes.append(EventOutcome(
                            envelope.event_id, envelope.agent_id, "rejected",
                            reason=f"store error {type(e).__name__}: {e}"))
                        break
                    for m in msgs:
                        await m.in_progress()
                    await asyncio.sleep(delay)
                    delay = min(self.options.retry_max, delay * 2)
        return outcomes
