"""Parts kept decoded in memory, bounded by their bytes (issue 16 items 1 and 3).

A part is immutable and named by the hash of its bytes, so once decoded it serves every content
that holds it: every version of an agent after the page filled, every fork and rewind of it.
Reading an agent at an earlier version, forking it there or reading a fork then costs the
parts not yet decoded (the few its last events touched) and assembling the lists from pages,
instead of fetching, decompressing and parsing the whole content each time.

The values are shared by every content assembled from them, so they are never changed: the
fold replaces an item it changes (domain.state) and `content_of_tree` gives each content its
own containers. Entries are keyed by tenant too: a part is only ever read within the tenant
whose tree names it, as from the part store. The bound counts the parts' JSON bytes; the
objects take a few times that (README, `CONTEXT_PART_CACHE_BYTES`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable
from typing import Any


class PartCache:
    """LRU of decoded parts by (tenant, address), at most `max_bytes` of their JSON bytes; a
    part bigger than the whole budget is not kept."""

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError("the part cache's bound must not be negative")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def bytes(self) -> int:
        """JSON bytes of the parts held now (never above max_bytes)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def found(self, tenant: str, addresses: Iterable[str]) -> dict[str, Any]:
        """Those of `addresses` held (now the most recently used), by address."""
        out: dict[str, Any] = {}
        with self._lock:
            entries = self._entries
            for address in addresses:
                key = (tenant, address)
                entry = entries.get(key)
                if entry is not None:
                    entries.move_to_end(key)
                    out[address] = entry[0]
            self.hits += len(out)
        return out

    def put(self, tenant: str, address: str, value: Any, size: int) -> None:
        """Keep the decoded part `value` of `size` JSON bytes."""
        if size > self.max_bytes:
            return
        key = (tenant, address)
        with self._lock:
            self.misses += 1
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def evict(self, tenant: str, addresses: Collection[str]) -> None:
        """Forget these parts of the tenant (released from the part store)."""
        with self._lock:
            for address in addresses:
                old = self._entries.pop((tenant, address), None)
                if old is not None:
                    self._bytes -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
