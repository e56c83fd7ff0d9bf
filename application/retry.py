"""One way to retry a write that lost a race: another writer changed the same agent first.

Every write path (recording a batch, restoring, capturing, pruning) reads fresh state, builds
its events and commits; a commit that meets a newer version fails with IntegrityError and is
simply redone from fresh state after a short, jittered, growing pause.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import IntegrityError

from ctxstore.application.errors import WriteConflict

T = TypeVar("T")
MAX_WRITE_ATTEMPTS = 20


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt `attempt + 1`: exponential, capped, full jitter."""
    return min(0.5, 0.005 * 2**attempt) * random.random()


def retry_on_conflict(write: Callable[[], T], gave_up: str,
                      attempts: int = MAX_WRITE_ATTEMPTS) -> T:
    """Run `write` (which must start from fresh state each time) until it commits without a
    conflict; after `attempts` conflicts, raise WriteConflict(`gave_up`)."""
    for attempt in range(attempts):
        try:
            return write()
        except IntegrityError:
            time.sleep(backoff(attempt))
    raise WriteConflict(gave_up)
