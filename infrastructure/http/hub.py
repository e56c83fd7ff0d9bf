"""Wake-ups for live followers: writers (in worker threads) tell WebSocket tasks which agents
changed, so events recorded through this process reach followers at once. Followers also poll
the agent catalogue, which covers events recorded elsewhere (NATS ingest workers)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable


class Subscription:
    def __init__(self, hub: EventHub, loop: asyncio.AbstractEventLoop):
        self.hub = hub
        self.loop = loop
        self.agent_ids: set[str] = set()
        self.changed = asyncio.Event()

    def close(self) -> None:
        self.hub._remove(self)


class EventHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()

    def subscribe(self) -> Subscription:
        sub = Subscription(self, asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def notify(self, agent_ids: Iterable[str]) -> None:
        """Callable from any thread."""
        changed = set(agent_ids)
        with self._lock:
            subs = [s for s in self._subs if s.agent_ids & changed]
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.changed.set)
            except RuntimeError:  # its loop has closed: the socket is gone
                self._remove(sub)
