"""Serialised agent states by (agent, version): a version's state never changes (history is
append-only; a restore is a new version), so a cached answer is always right. Byte-bounded LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class StateCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, agent_id: str, version: int) -> bytes | None:
        with self._lock:
            data = self._items.get((agent_id, version))
            if data is not None:
                self._items.move_to_end((agent_id, version))
            return data

    def put(self, agent_id: str, version: int, data: bytes) -> None:
        if len(data) > self.max_bytes // 4:
            return  # one huge state would push everything else out
        with self._lock:
            key = (agent_id, version)
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = data
            self._bytes += len(data)
            while self._bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted)
