"""Per-agent data keys wrapped by the store key (envelope encryption; application.data_key_port).

A data key is 32 random bytes, stored AES-GCM-wrapped under the store key (CONTEXT_ENCRYPTION_
KEY) and bound to its agent's aggregate id, in the recorder's key table (`DataKeyTable`). The
mapper asks `KeyRing` for the cipher of each stored event's originator; package bodies and
metadata too (persistence.body_codec). Unwrapped keys are kept in a bounded cache, so the
hot path (an agent this process already wrote or read) costs no statement; a batch asks for the
keys it lacks in one (`prepare`).

Agents written before data keys existed have no key row: their rows stay under the store key
until `ctxstore rotate-key`, which gives each such agent a key row holding the old store key
(wrapped under the new one), so their rows decrypt unchanged and the old key alone opens
nothing else of the store. Parts (application.part_port), shared by forks within a tenant, stay
under the store key: forget deletes them when no row refers to them any more.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Cipher

from ctxstore.infrastructure.persistence.cipher import ContextCipher

DATA_KEY_BYTES = 32


class DataKeyTable(Protocol):
    """The recorder's table of wrapped data keys (persistence.erasure's SQL mixins, memory)."""

    def wrapped_keys(self, originator_ids: Collection[UUID]) -> dict[UUID, bytes]: ...

    def add_wrapped_keys(self, wrapped: Mapping[UUID, bytes]) -> set[UUID]:
        """Insert keys for agents that have none, in one transaction; the agents whose key
        was inserted (a key already there stays: the first writer's wins, and the caller
        reads it back)."""


class KeyRing:
    """The store's data keys, unwrapped on demand and cached (at most `cached` agents, the
    oldest dropped first)."""

    def __init__(self, store_cipher: ContextCipher, table: DataKeyTable, cached: int = 50_000):
        self.store_cipher = store_cipher
        self.table = table
        self.cached = cached
        # None: an agent written before data keys (its rows are under the store key).
        self._ciphers: dict[UUID, ContextCipher | None] = {}
        self._lock = threading.Lock()

    # DataKeys ---------------------------------------------------------------------------------
    def prepare(self, new: Collection[UUID], existing: Collection[UUID]) -> None:
        held = self._ciphers
        fresh = [i for i in new if i not in held]
        older = [i for i in existing if i not in held]
        if fresh:
            # Never written (no catalogue row), so no key yet, unless another writer is
            # making its first write too: the first key stays, and the read below gets it.
            made = {i: os.urandom(DATA_KEY_BYTES) for i in fresh}
            inserted = self.table.add_wrapped_keys(
                {i: self.store_cipher.wrap(k, i.bytes) for i, k in made.items()})
            for i in inserted:  # one statement in the common case: nothing to read back
                self._keep(i, ContextCipher.of_key(made[i]))
            older += [i for i in fresh if i not in inserted]
        if older:
            found = self._load(older)
            for i in older:
                if i not in found:
                    self._keep(i, None)

    def forget(self, originator_id: UUID) -> None:
        with self._lock:
            self._ciphers.pop(originator_id, None)

    # The mapper's and the codec's ------------------------------------------------------------
    def cipher_for(self, originator_id: UUID) -> Cipher:
        """The cipher of an agent's rows: its data key, else (no key row) the store key.

        Once per stored event: a plain dict read (atomic under the GIL), no lock, no LRU
        bookkeeping; eviction drops the longest-held keys (`_keep`)."""
        cipher = self._ciphers.get(originator_id, _MISSING)
        if cipher is _MISSING:
            # No row is not remembered: the agent may be about to get its first write.
            cipher = self._load([originator_id]).get(originator_id)
        return cipher if isinstance(cipher, ContextCipher) else self.store_cipher

    def _load(self, originator_ids: list[UUID]) -> dict[UUID, ContextCipher | None]:
        found: dict[UUID, ContextCipher | None] = {}
        for i, wrapped in self.table.wrapped_keys(originator_ids).items():
            found[i] = self._keep(i, ContextCipher.of_key(
                self.store_cipher.unwrap(wrapped, i.bytes)))
        return found

    def _keep(self, originator_id: UUID, cipher: ContextCipher | None) -> ContextCipher | None:
        with self._lock:
            held = self._ciphers
            held[originator_id] = cipher
            if len(held) > self.cached:  # the oldest quarter goes, at once
                for old in list(held)[: max(1, self.cached // 4)]:
                    del held[old]
        return cipher


_MISSING = object()
