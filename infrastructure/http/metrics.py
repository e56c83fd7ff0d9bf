"""Prometheus metrics of one API process, in a registry of its own (one per app instance).

The seed plan's figures (capture and restore attempts by outcome and trigger, their durations,
checkpoint sizes, compression ratio, bytes saved, restore success rate) are read from the
store's operation log at scrape time (`observe_operations`), so they count every process's
operations, automatic captures included, and survive restarts; the histograms below them
time this process's HTTP captures and restores only.

Stored-vs-raw bytes come from a compressor wrapper: it sees every event and snapshot this process
writes, before (raw) and after (stored) compression. Dead letters are the message count of the
NATS `CTX_DLQ` stream, read at scrape time, since the ingest workers that write them are other
processes.

Several server workers (`ctxstore serve --workers N`) share their figures through
prometheus-client's multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set (serve sets it before
it starts the workers) each process writes its values to files there and `/metrics`, whichever
worker answers it, sums the counters and histograms of all, the open WebSockets of the live
ones, and gives the store-wide gauges as last set (`mostrecent`).
"""

from __future__ import annotations

import math
import os
from typing import Any, Final

from eventsourcing.persistence import Compressor
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ctxstore.application.operation_log import (
    OPERATIONS,
    OUTCOMES,
    OperationGroup,
    PerformanceSummary,
)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
LAST_SET: Final = "mostrecent"  # a store-wide figure, set at scrape time by the worker scraped

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_recorded = Counter("ctxstore_events_recorded", "Events recorded.",
                                       registry=r)
        self.events_duplicate = Counter("ctxstore_events_duplicate",
                                        "Events already recorded (same event_id).", registry=r)
        self.events_rejected = Counter("ctxstore_events_rejected",
                                       "Envelopes rejected by the HTTP API.", ["reason"],
                                       registry=r)
        self.dead_letters = Gauge("ctxstore_dead_letters",
                                  "Messages in the NATS dead-letter stream CTX_DLQ "
                                  "(-1 when NATS cannot be reached).", registry=r,
                                  multiprocess_mode=LAST_SET)
        self.capture_seconds = Histogram("ctxstore_capture_seconds", "Checkpoint capture time.",
                                         buckets=DURATION_BUCKETS, registry=r)
        self.restore_seconds = Histogram("ctxstore_restore_seconds", "Restore time.",
                                         buckets=DURATION_BUCKETS, registry=r)
        self.raw_bytes = Counter("ctxstore_raw_bytes",
                                 "Bytes of events and snapshots before compression.", registry=r)
        self.stored_bytes = Counter("ctxstore_stored_bytes",
                                    "Bytes of events and snapshots after compression.",
                                    registry=r)
        self.requests = Counter("ctxstore_http_requests", "HTTP requests.",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("ctxstore_http_request_seconds", "HTTP request time.",
                                         ["method", "route"], buckets=DURATION_BUCKETS,
                                         registry=r)
        self.websockets = Gauge("ctxstore_websockets", "Open WebSocket connections.",
                                registry=r, multiprocess_mode="livesum")
        store = "(every process's, from the store's operation log)"
        self.operations = Gauge("ctxstore_operations",
                                f"Capture and restore attempts by outcome {store}.",
                                ["operation", "outcome", "trigger"], registry=r,
                                multiprocess_mode=LAST_SET)
        self.operation_ms = Gauge("ctxstore_operation_duration_ms_sum",
                                  f"Total time of those attempts, in ms {store}.",
                                  ["operation", "outcome", "trigger"], registry=r,
                                  multiprocess_mode=LAST_SET)
        self.checkpoint_bytes = Gauge("ctxstore_checkpoint_bytes",
                                      f"Sizes of the checkpoints captured {store}: original, "
                                      "compressed, saved (original - compressed).", ["kind"],
                                      registry=r, multiprocess_mode=LAST_SET)
        self.compression_ratio = Gauge("ctxstore_checkpoint_compression_ratio",
                                       "Average compressed / original size of the checkpoints "
                                       f"captured {store} (NaN before any).", registry=r,
                                       multiprocess_mode=LAST_SET)
        self.restore_success_rate = Gauge("ctxstore_restore_success_rate",
                                          "Restores succeeded / (succeeded + failed); rejected "
                                          f"requests are not failures {store} (NaN before any).",
                                          registry=r, multiprocess_mode=LAST_SET)

    def exposition(self) -> bytes:
        """The Prometheus text of this process, or of every worker's in multiprocess mode."""
        directory = os.environ.get(MULTIPROC_DIR)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)

    def observe_operations(self, summary: PerformanceSummary) -> None:
        """Set the store-wide gauges from the operation log's summary (every label set, so a
        series reads 0 rather than vanishing)."""
        totals: dict[tuple[str, str, bool], OperationGroup] = {
            (g.operation, g.outcome, g.automatic): g for g in summary.groups}
        for operation in OPERATIONS:
            for outcome in OUTCOMES:
                for automatic, trigger in ((False, "request"), (True, "automatic")):
                    group = totals.get((operation, outcome, automatic))
                    labels = (operation, outcome, trigger)
                    self.operations.labels(*labels).set(group.count if group else 0)
                    self.operation_ms.labels(*labels).set(group.duration_ms if group else 0)
        self.checkpoint_bytes.labels("original").set(summary.total_original_bytes)
        self.checkpoint_bytes.labels("compressed").set(summary.total_compressed_bytes)
        self.checkpoint_bytes.labels("saved").set(summary.total_storage_saved_bytes)
        self.compression_ratio.set(_or_nan(summary.avg_compression_ratio))
        self.restore_success_rate.set(_or_nan(summary.restore_success_rate))


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


class CountingCompressor(Compressor):
    """Wraps the store's compressor to count raw and stored bytes; everything else delegates."""

    def __init__(self, inner: Compressor, metrics: Metrics):
        self.inner = inner
        self.metrics = metrics

    def compress(self, data: bytes) -> bytes:
        out = self.inner.compress(data)
        self.metrics.raw_bytes.inc(len(data))
        self.metrics.stored_bytes.inc(len(out))
        return out

    def decompress(self, data: bytes) -> bytes:
        return self.inner.decompress(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def instrument_store(store: Any, metrics: Metrics) -> None:
    """Put the counting wrapper around the store's compressor (once)."""
    if not isinstance(store.compressor, CountingCompressor):
        store.wrap_compressor(lambda compressor: CountingCompressor(compressor, metrics))
