"""Serialised agent states by (agent, version, variant): a version's state never changes
(history is append-only; a restore is a new version), so a cached answer is always right; the
variant tells a window or a change list of that version from its whole state (ReadContext.variant).
Byte-bounded LRU.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class StateCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int, str], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, agent_id: str, version: int, variant: str = "") -> bytes | None:
        with self._lock:
            key = (agent_id, version, variant)
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, agent_id: str, version: int, data: bytes, variant: str = "") -> None:
        if len(data) > self.max_bytes // 4:
            return  # one huge state would push everything else out
        with self._lock:
            key = (agent_id, version, variant)
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = data
            self._bytes += len(data)
            while self._bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted)


def etag(key: str, version: int, package_id: str | None, variant: str) -> str:
    """A strong ETag of a read: a version fully identifies a state (and a checkpoint the state
    it holds), so the agent's key, that point and the read's variant identify the answer's
    bytes, known before anything is read or encoded."""
    text = "\0".join((key, str(version), package_id or "", variant))
    return '"' + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32] + '"'


def none_match(header: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names this tag (`*` names any; a weak `W/` form
    compares as its strong one, the weak comparison RFC 9110 asks of If-None-Match)."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or tag in tags
