"""Trained compression dictionaries as the application sees them: the catalog port and errors.

Agent events repeat the same keys, roles and phrasing; a zstd dictionary trained on recent
events lets each small event compress against that shared vocabulary instead of from scratch.
The catalog keeps every dictionary ever trained: frames name theirs, so old events stay
readable. Training and the byte formats are infrastructure.persistence.dictionary_training's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ctxstore.application.errors import ContextStoreError

DEFAULT_SAMPLES = 5000
# 256 KiB: on the real traces, held-out events shrink to 0.22x raw JSON at level 3 (0.20x at
# level 9), against 0.25x with zstd's own 110 KiB default (bench/restore.py).
DEFAULT_DICTIONARY_SIZE = 262_144


class CompressionError(ContextStoreError):
    """A dictionary cannot be trained or used as asked."""


@dataclass(frozen=True)
class CompressionDictionary:
    dict_id: int
    created_at: datetime
    size: int
    sample_count: int
    data: bytes = field(repr=False)


class DictionaryCatalog(ABC):
    """Every dictionary this store has trained, kept beside its events."""

    @abstractmethod
    def add(self, dictionary: CompressionDictionary) -> None:
        """Keep a dictionary (a no-op when this very dictionary is already kept)."""

    @abstractmethod
    def all(self) -> list[CompressionDictionary]:
        """All dictionaries, oldest first."""

    @abstractmethod
    def get(self, dict_id: int) -> CompressionDictionary | None: ...


class DictionaryCodec(Protocol):
    """What these use cases need from the store's compressor."""

    @property
    def active_dictionary_id(self) -> int | None: ...

    def train(self, samples: Sequence[bytes], size: int) -> bytes: ...

    def add_dictionary(self, data: bytes, expected_id: int | None = None) -> int: ...

    def activate(self, dict_id: int | None) -> None: ...

    def frame_dictionary_id(self, frame: bytes) -> int: ...

    def decompress(self, data: bytes) -> bytes: ...


