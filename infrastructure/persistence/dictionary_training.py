"""Training a zstd dictionary on recent events, and what the dictionaries achieve.

The codec (the store's compressor, infrastructure.persistence.zstd_compressor) trains,
activates and reads frame headers; the catalog (application.dictionary_port) keeps every
dictionary ever trained.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import StoredEvent

from ctxstore.application.dictionary_port import (
    DEFAULT_DICTIONARY_SIZE,
    DEFAULT_SAMPLES,
    CompressionDictionary,
    CompressionError,
    DictionaryCatalog,
    DictionaryCodec,
)
from ctxstore.application.store import ContextStore
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.state import canonical_json


def codec_of(store: ContextStore) -> DictionaryCodec:
    """The store's compressor, when it can take dictionaries."""
    compressor: Any = store.compressor
    for name in ("train", "add_dictionary", "activate", "frame_dictionary_id"):
        if not hasattr(compressor, name):
            raise CompressionError("this store's compressor does not support dictionaries")
    return compressor  # type: ignore[no-any-return]


def payload(store: ContextStore, stored: StoredEvent) -> bytes:
    """The bytes the compressor was given for a stored event (decrypted, decompressed)."""
    state = frame_of(store, stored)
    compressor = store.compressor
    return compressor.decompress(state) if compressor is not None else state


def frame_of(store: ContextStore, stored: StoredEvent) -> bytes:
    """The compressed frame of a stored event (decrypted when the store encrypts)."""
    return store.decrypt_state(stored)


@dataclass(frozen=True)
class TrainResult:
    dictionary: CompressionDictionary
    sample_bytes: int
    previous_dictionary_id: int | None


def train_dictionary(
    store: ContextStore,
    catalog: DictionaryCatalog,
    *,
    samples: int = DEFAULT_SAMPLES,
    size: int = DEFAULT_DICTIONARY_SIZE,
) -> TrainResult:
    """Train a dictionary on recent events, keep it, and make new writes use it."""
    if samples < 1:
        raise CompressionError(f"samples must be 1 or more, not {samples}")
    if size < 256:
        raise CompressionError(f"size must be 256 bytes or more, not {size}")
    codec = codec_of(store)
    stored = store.recent_stored_events(samples)
    if not stored:
        raise CompressionError("no events recorded yet: record some before training")
    data = [payload(store, s) for s in stored]
    raw = codec.train(data, size)
    dict_id = codec.add_dictionary(raw)
    dictionary = CompressionDictionary(dict_id=dict_id, created_at=datetime.now(UTC),
                                       size=len(raw), sample_count=len(data), data=raw)
    catalog.add(dictionary)
    previous = codec.active_dictionary_id
    codec.activate(dict_id)
    return TrainResult(dictionary, sum(len(d) for d in data), previous)


@dataclass
class CompressionStats:
    events: int = 0
    stored_bytes: int = 0
    raw_json_bytes: int = 0
    payload_bytes: int = 0
    active_dictionary_id: int | None = None
    by_dictionary: dict[int, int] = field(default_factory=dict)  # 0: no dictionary
    stored_bytes_by_dictionary: dict[int, int] = field(default_factory=dict)
    encrypted: bool = False

    @property
    def ratio(self) -> float | None:
        """Stored bytes over raw canonical JSON bytes (lower is better)."""
        return self.stored_bytes / self.raw_json_bytes if self.raw_json_bytes else None

    def as_dict(self) -> dict[str, Any]:
        per = (lambda total: round(total / self.events, 1)) if self.events else (lambda _: None)
        return {
            "events": self.events,
            "stored_bytes_per_event": per(self.stored_bytes),
            "raw_json_bytes_per_event": per(self.raw_json_bytes),
            "ratio": round(self.ratio, 4) if self.ratio is not None else None,
            "encrypted": self.encrypted,
            "active_dictionary": self.active_dictionary_id,
            "events_by_dictionary": {str(k): v for k, v in sorted(self.by_dictionary.items())},
            "stored_bytes_per_event_by_dictionary": {
                str(k): round(self.stored_bytes_by_dictionary[k] / n, 1)
                for k, n in sorted(self.by_dictionary.items())
            },
        }


def wire_json(event: Any) -> bytes:
    """An event's raw canonical JSON: the envelope it came in as (store-made events: fields)."""
    if isinstance(event, AgentContext.Recorded):
        wire: dict[str, Any] = {"event_id": event.event_id, "agent_id": event.agent_id,
                                "type": event.type, "occurred_at": event.timestamp.isoformat(),
                                "data": event.data}
        if event.session_id is not None:
            wire["session_id"] = event.session_id
        return canonical_json(wire)
    fields = {k: v for k, v in vars(event).items()
              if k not in ("originator_id", "originator_version")}
    fields["type"] = type(event).__name__
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def compression_stats(store: ContextStore, *, limit: int = 10_000) -> CompressionStats:
    """Bytes per event stored against raw canonical JSON, over the `limit` latest events."""
    codec = codec_of(store)
    stats = CompressionStats(active_dictionary_id=codec.active_dictionary_id,
                             encrypted=store.cipher is not None)
    by_dict: Counter[int] = Counter()
    bytes_by_dict: Counter[int] = Counter()
    for stored in store.recent_stored_events(limit):
        frame = frame_of(store, stored)
        dict_id = codec.frame_dictionary_id(frame)
        by_dict[dict_id] += 1
        bytes_by_dict[dict_id] += len(stored.state)
        stats.events += 1
        stats.stored_bytes += len(stored.state)
        stats.payload_bytes += len(codec.decompress(frame))
        stats.raw_json_bytes += len(wire_json(store.decode(stored)))
    stats.by_dictionary = dict(by_dict)
    stats.stored_bytes_by_dictionary = dict(bytes_by_dict)
    return stats
