"""Prometheus metrics of one API process, in a registry of its own (one per app instance).

Stored-vs-raw bytes come from a compressor wrapper: it sees every event and snapshot this process
writes, before (raw) and after (stored) compression. Dead letters are the message count of the
NATS `CTX_DLQ` stream, read at scrape time, since the ingest workers that write them are other
processes.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Compressor
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
                                  "(-1 when NATS cannot be reached).", registry=r)
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
                                registry=r)


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
