"""A dict bounded by its number of entries, dropping the least recently used.

For what a process remembers per agent to save a query (an agent's tenant, a tenant's key of an
agent, its last snapshot's mark): kept whole, these grew with every agent the process ever
touched. Each is a pure cache of something the store can look up again, so a dropped entry only
costs that lookup.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar, overload

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")
_MISSING: Any = object()


class LruMap(MutableMapping[K, V]):
    """At most `max_entries` entries; reading or writing one makes it the most recent."""

    def __init__(self, max_entries: int):
        if max_entries < 1:
            raise ValueError("an LruMap holds at least one entry")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()  # readers and the writer share it

    def __getitem__(self, key: K) -> V:
        with self._lock:
            value = self._entries[key]
            self._entries.move_to_end(key)
            return value

    @overload
    def get(self, key: K, default: None = None) -> V | None: ...

    @overload
    def get(self, key: K, default: V | D) -> V | D: ...

    def get(self, key: K, default: Any = None) -> Any:
        # Not MutableMapping's (__getitem__ and a KeyError for each miss): asked per event
        # on the write path (the snapshot policy's marks), where most agents have none.
        with self._lock:
            value = self._entries.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._entries.move_to_end(key)
            return value

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_all(self, keys: Iterable[K]) -> dict[K, V | None]:
        """Each key's value (None: not held), under one hold of the lock: asked for every
        agent of a batch, which from ingest holds hundreds."""
        with self._lock:
            entries, found = self._entries, {}
            for key in keys:
                value = found[key] = entries.get(key)
                if value is not None:
                    entries.move_to_end(key)
            return found

    def put_all(self, items: Mapping[K, V]) -> None:
        """Every entry of `items` (the last ones the most recent), under one hold of the lock;
        MutableMapping's update takes it once an entry."""
        with self._lock:
            entries = self._entries
            for key, value in items.items():
                entries[key] = value
                entries.move_to_end(key)
            while len(entries) > self.max_entries:
                entries.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        with self._lock:
            del self._entries[key]

    def __iter__(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
