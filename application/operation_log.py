"""What captures and restores did, kept in the store: the seed plan's metrics and its performance
summary, counted across every process that writes to the store.

The capture and restore use cases record one row per attempt (automatic captures too) through
the `OperationLog` port, whatever door called them (HTTP, WebSocket, NATS, CLI, the checkpoint
runner). Figures are then read back from the store, so two API processes, a worker and a CLI
command all add to the same totals, and a restart loses nothing; one process's memory (the
plan's sketch keeps lists in a Python object) could not give that.

Outcomes: `succeeded`; `failed` when the store let the caller down (an integrity mismatch, a
storage error, a write conflict that kept recurring); `rejected` when the request itself was
wrong (an unknown agent, point or checkpoint, a bad argument, a package over the limit: a 4xx).
The success rate is succeeded ÷ (succeeded + failed): a client's mistake is not the store's
failure.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from ctxstore.application.errors import ContextStoreError, IntegrityMismatch, WriteConflict
from ctxstore.domain.agent_id import InvalidAgentId
from ctxstore.domain.clock import to_us

log = logging.getLogger(__name__)

Operation = Literal["capture", "restore"]
Outcome = Literal["succeeded", "failed", "rejected"]
OPERATIONS: tuple[str, ...] = get_args(Operation)
OUTCOMES: tuple[str, ...] = get_args(Outcome)


@dataclass(frozen=True)
class OperationRecord:
    """One capture or restore attempt, as the log keeps it."""

    operation: Operation
    outcome: Outcome
    tenant: str
    agent_id: str  # the agent's key (captured, or restored into)
    automatic: bool  # a capture by the checkpoint runner, not a request
    recorded_us: int
    duration_ms: float
    package_id: str | None = None
    original_size_bytes: int | None = None  # a succeeded capture's sizes
    compressed_size_bytes: int | None = None
    error: str | None = None  # the error's kind, for failed and rejected attempts


@dataclass(frozen=True)
class OperationGroup:
    """The log's rows of one (operation, outcome, automatic), added up by the store."""

    operation: Operation
    outcome: Outcome
    automatic: bool
    count: int
    duration_ms: float  # sum
    original_bytes: int = 0  # sums over rows with sizes
    compressed_bytes: int = 0
    ratio_sum: float = 0.0  # sum of compressed ÷ original over rows with sizes
    sized: int = 0  # rows with sizes


class OperationLog(ABC):
    """Where capture and restore outcomes are kept (infrastructure.persistence.operation_log)."""

    @abstractmethod
    def record_operation(self, record: OperationRecord) -> None:
        """Keep one outcome (its own transaction)."""

    @abstractmethod
    def operation_groups(self, tenant: str | None = None) -> list[OperationGroup]:
        """The totals per (operation, outcome, automatic) of one tenant, or of all (None)."""


@dataclass
class Attempt:
    """What the use case fills in while the attempt runs (sizes of a capture, the package)."""

    package_id: str | None = None
    original_size_bytes: int | None = None
    compressed_size_bytes: int | None = None


def outcome_of(error: Exception) -> Outcome:
    """Failed (the store's fault) or rejected (the request's), by the error's kind."""
    if isinstance(error, IntegrityMismatch | WriteConflict):
        return "failed"
    if isinstance(error, ContextStoreError | InvalidAgentId):
        return "rejected"
    return "failed"  # storage errors, and anything unexpected


@contextmanager
def recorded(operations: OperationLog | None, operation: Operation,
             agent_id: Callable[[], str], tenant: Callable[[], str], *,
             automatic: bool = False) -> Iterator[Attempt]:
    """Time the block and record its outcome; the block's own error is re-raised unchanged.

    `agent_id` and `tenant` are asked for once the block has ended (a restore learns its
    target on the way). Recording is best effort: an attempt that succeeded is not undone
    because its row could not be written (that is logged)."""
    started = time.perf_counter()
    attempt = Attempt()

    def record(outcome: Outcome, error: str | None) -> None:
        if operations is not None:
            _record(operations, operation, outcome, error, attempt, agent_id, tenant,
                    automatic, (time.perf_counter() - started) * 1000)

    try:
        yield attempt
    except Exception as e:  # not KeyboardInterrupt and the like: no outcome to speak of
        record(outcome_of(e), type(e).__name__)
        raise
    record("succeeded", None)


def _record(operations: OperationLog, operation: Operation, outcome: Outcome,
            error: str | None, attempt: Attempt, agent_id: Callable[[], str],
            tenant: Callable[[], str], automatic: bool, duration_ms: float) -> None:
    try:
        operations.record_operation(OperationRecord(
            operation=operation, outcome=outcome, tenant=tenant(), agent_id=agent_id(),
            automatic=automatic, recorded_us=to_us(datetime.now(UTC)),
            duration_ms=round(duration_ms, 3), package_id=attempt.package_id,
            original_size_bytes=attempt.original_size_bytes,
            compressed_size_bytes=attempt.compressed_size_bytes, error=error))
    except Exception:  # noqa: BLE001 - the operation's own outcome stands
        log.warning("could not record the %s %s of %s", operation, outcome, agent_id(),
                    exc_info=True)


@dataclass(frozen=True)
class Counts:
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0

    @property
    def attempted(self) -> int:
        return self.succeeded + self.failed + self.rejected

    @property
    def success_rate(self) -> float | None:
        """Succeeded ÷ (succeeded + failed); None before any attempt that was not rejected."""
        judged = self.succeeded + self.failed
        return round(self.succeeded / judged, 6) if judged else None


@dataclass(frozen=True)
class PerformanceSummary:
    """The seed plan's `get_performance_summary()` (its five `avg_*`/`total_*` figures, None
    where there is nothing to average yet), with the counts behind them.

    Averages are over succeeded attempts (automatic captures included); sizes and ratios are of
    the checkpoints captured (`avg_storage_size_bytes` the compressed size); bytes saved is
    original − compressed, summed."""

    avg_capture_time_ms: float | None
    avg_compression_ratio: float | None
    avg_restoration_time_ms: float | None
    avg_storage_size_bytes: float | None
    total_storage_saved_bytes: int
    avg_space_saving: float | None
    total_original_bytes: int
    total_compressed_bytes: int
    captures: Counts
    automatic_captures: int
    restores: Counts
    restore_success_rate: float | None
    capture_success_rate: float | None
    groups: list[OperationGroup] = field(default_factory=list)

    @classmethod
    def of(cls, groups: Sequence[OperationGroup]) -> PerformanceSummary:
        def counts(operation: str) -> Counts:
            by = {o: sum(g.count for g in groups if g.operation == operation and g.outcome == o)
                  for o in OUTCOMES}
            return Counts(**by)

        ok_captures = [g for g in groups if g.operation == "capture" and g.outcome == "succeeded"]
        ok_restores = [g for g in groups if g.operation == "restore" and g.outcome == "succeeded"]
        original = sum(g.original_bytes for g in ok_captures)
        compressed = sum(g.compressed_bytes for g in ok_captures)
        sized = sum(g.sized for g in ok_captures)
        ratio = _mean(sum(g.ratio_sum for g in ok_captures), sized)
        captures, restores = counts("capture"), counts("restore")
        return cls(
            avg_capture_time_ms=_mean(sum(g.duration_ms for g in ok_captures),
                                      sum(g.count for g in ok_captures)),
            avg_compression_ratio=ratio,
            avg_restoration_time_ms=_mean(sum(g.duration_ms for g in ok_restores),
                                          sum(g.count for g in ok_restores)),
            avg_storage_size_bytes=_mean(compressed, sized),
            total_storage_saved_bytes=original - compressed,
            avg_space_saving=None if ratio is None else round(1 - ratio, 4),
            total_original_bytes=original,
            total_compressed_bytes=compressed,
            captures=captures,
            automatic_captures=sum(g.count for g in ok_captures if g.automatic),
            restores=restores,
            restore_success_rate=restores.success_rate,
            capture_success_rate=captures.success_rate,
            groups=list(groups),
        )


    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the plan's figures first, counts with their attempts and rates."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "groups"}
        for name in ("captures", "restores"):
            counts: Counts = out[name]
            out[name] = {**asdict(counts), "attempted": counts.attempted,
                         "success_rate": counts.success_rate}
        return out


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 4) if n else None


def performance_summary(operations: OperationLog, tenant: str | None) -> PerformanceSummary:
    """The summary of one tenant's operations (None: every tenant's, for operators)."""
    return PerformanceSummary.of(operations.operation_groups(tenant))
