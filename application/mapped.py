"""Stored events mapped on first read, so a recorder can send its other statements first.

Encoding and compressing a batch's events is most of a write's client time. Handed over
unmapped, the events are encoded by the recorder after it has queued the side rows, while the
database already works on those: the two overlap instead of adding up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from eventsourcing.persistence import StoredEvent


class MappedEvents(Sequence[StoredEvent]):
    """`to_stored(e)` of each event, computed once, all together, when first needed."""

    def __init__(self, events: Sequence[Any], to_stored: Callable[[Any], StoredEvent]):
        self._events = events
        self._to_stored = to_stored
        self._stored: list[StoredEvent] | None = None

    def _all(self) -> list[StoredEvent]:
        if self._stored is None:
            self._stored = [self._to_stored(e) for e in self._events]
        return self._stored

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> StoredEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[StoredEvent]: ...

    def __getitem__(self, index: int | slice) -> StoredEvent | Sequence[StoredEvent]:
        return self._all()[index]

    def __iter__(self) -> Iterator[StoredEvent]:
        return iter(self._all())
