"""Folded agents kept in memory, bounded by the bytes they were built from (issue 17 item 2).

A count bound alone lets memory grow with the contexts: ten thousand agents of a few KB are
nothing, ten thousand of a few MB are the machine. So each entry carries the stored bytes of the
snapshot and events it was folded from (what a reader or writer already holds in hand when it
folds, so the estimate costs a `len` per stored event and never a walk of the object), and the
cache evicts least recently used agents until both the byte budget and the count bound hold.

Stored bytes are compressed (and maybe encrypted): the folded objects take several times that in
memory. The budget is therefore a budget of stored bytes; the README gives the measured factor.

An entry's size is only trusted while it describes the object held: `grow` adds the bytes of
events folded onto exactly the version the entry was put at; anything else drops the entry, so
the next read folds it afresh and measures it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass
class _Entry:
    agent: Any
    version: int  # the agent's version when its size was last counted
    size: int


class AgentCache:
    """LRU of folded agents by aggregate id, at most `max_bytes` stored bytes and `max_agents`
    agents. An agent bigger than the whole budget is served by whoever folded it, not kept."""

    def __init__(self, max_bytes: int, max_agents: int):
        if max_bytes < 0 or max_agents < 0:
            raise ValueError("cache bounds must not be negative")
        self.max_bytes = max_bytes
        self.max_agents = max_agents
        self._entries: OrderedDict[UUID, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    @property
    def bytes(self) -> int:
        """Stored bytes of the agents held now (never above max_bytes)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        # An empty cache is still a cache (truth must not depend on the entries).
        return True

    def __contains__(self, key: object) -> bool:
        """Whether `key` is held (without making it the most recently used)."""
        return key in self._entries

    def get(self, key: UUID) -> Any | None:
        """The cached agent (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.agent

    def size_of(self, key: UUID) -> int | None:
        """The stored bytes `key`'s agent was counted at (None: not held)."""
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry.size

    def put(self, key: UUID, agent: Any, size: int) -> bool:
        """Keep `agent`, folded from `size` stored bytes, in place of what `key` held; False
        when it was not kept (bigger than the budget)."""
        with self._lock:
            self._drop(key)
            if size > self.max_bytes or self.max_agents == 0:
                return False
            self._entries[key] = _Entry(agent, agent.version, size)
            self._bytes += size
            self._shrink()
            return True

    def grow(self, key: UUID, agent: Any, added: int, folded: int) -> bool:
        """`agent` is what `key` held plus `folded` more events of `added` stored bytes (or
        only those events, for an agent they created): keep it with its size grown. When the
        entry is gone or held another version (its size would be a guess), drop it instead
        and return False."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                base = 0 if agent.version == folded else None
            else:
                base = entry.size if entry.version + folded == agent.version else None
            if base is None:
                self._drop(key)
                return False
            size = base + added
        return self.put(key, agent, size)

    def evict(self, key: UUID) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: UUID) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def _shrink(self) -> None:
        while self._entries and (self._bytes > self.max_bytes
                                 or len(self._entries) > self.max_agents):
            _, entry = self._entries.popitem(last=False)
            self._bytes -= entry.size
            self.evictions += 1
