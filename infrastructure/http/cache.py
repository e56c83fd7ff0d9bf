"""Serialised agent states by (agent, version, variant): a version's state never changes
(history is append-only; a restore is a new version), so a cached answer is always right; the
variant tells a window or a change list of that version from its whole state (ReadContext.variant).
The agent's key is the tenant's namespaced one, so one tenant's entry never answers another.
Byte-bounded LRU.

Concurrent misses of one entry make it once (`get_or_make`): when an agent gets a new version,
twenty clients asking for it would otherwise each read and encode the same state at once, on
the same GIL, and all wait twenty times as long.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import orjson
import pydantic_core

DEFAULT_MAX_BYTES = 64 * 1024 * 1024

Key = tuple[str, int, str]


class StateCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._making: dict[Key, Future[bytes]] = {}
        self.made = 0  # entries made (misses that read and encoded), for tests and benchmarks

    def get(self, agent_id: str, version: int, variant: str = "") -> bytes | None:
        with self._lock:
            return self._get((agent_id, version, variant))

    def _get(self, key: Key) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, agent_id: str, version: int, data: bytes, variant: str = "") -> None:
        with self._lock:
            self._put((agent_id, version, variant), data)

    def _put(self, key: Key, data: bytes) -> None:
        if len(data) > self.max_bytes // 4:
            return  # one huge state would push everything else out
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._items[key] = data
        self._bytes += len(data)
        while self._bytes > self.max_bytes and self._items:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= len(evicted)

    def get_or_make(self, agent_id: str, version: int, variant: str,
                    make: Callable[[], bytes], *, count: bool = True) -> bytes:
        """The entry, made by `make` when missing; callers that miss while another is making
        it wait for that one (blocking: call from a worker thread). Should the maker fail,
        each waiter makes it itself, so an error is raised in the thread that caused it.
        `count`: a made entry counts in `made` (not a compressed form of one, made from
        bytes in hand, which reads and encodes nothing)."""
        key = (agent_id, version, variant)
        with self._lock:
            data = self._get(key)
            if data is not None:
                return data
            pending = self._making.get(key)
            if pending is None:
                mine: Future[bytes] = Future()
                self._making[key] = mine
        if pending is not None:
            try:
                return pending.result()
            except Exception:  # noqa: BLE001 - the maker's failure is the maker's to report
                return make()
        try:
            data = make()
        except BaseException as e:
            with self._lock:
                del self._making[key]
            mine.set_exception(e)
            raise
        with self._lock:  # stored before it stops being made: no later caller misses it
            self._put(key, data)
            del self._making[key]
            self.made += count
        mine.set_result(data)
        return data


def encode_json(value: Any) -> bytes:
    """JSON bytes of a read's answer: orjson (a third of pydantic's time on a large state);
    what orjson refuses (a key that is not a string, an integer past 64 bits) pydantic
    encodes, as before."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return pydantic_core.to_json(value)


def etag(key: str, version: int, package_id: str | None, variant: str) -> str:
    """A strong ETag of a read: a version fully identifies a state (and a checkpoint the state
    it holds), so the agent's key, that point and the read's variant identify the answer's
    bytes, known before anything is read or encoded."""
    text = "\0".join((key, str(version), package_id or "", variant))
    return '"' + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32] + '"'


def none_match(header: str | None, tag: str, *others: str) -> str | None:
    """The tag an If-None-Match header names among `tag` and `others` (the answer's
    representations), None when it names none: `*` names any (`tag` is given back for it); a
    weak `W/` form compares as its strong one, the weak comparison RFC 9110 asks of
    If-None-Match."""
    if not header:
        return None
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    if "*" in tags:
        return tag
    return next((t for t in (tag, *others) if t in tags), None)
