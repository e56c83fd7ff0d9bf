"""Per-agent data keys (crypto-shredding), as the store's writes see them.

When the store encrypts, each agent's events, snapshots and checkpoint bodies are encrypted
under a data key of its own, kept wrapped by the store key (infrastructure.persistence.
data_keys); forgetting the agent deletes that key in the erasure's transaction, so copies of its
rows elsewhere (WAL archives, backups without the key table) no longer decrypt.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol
from uuid import UUID


class DataKeys(Protocol):
    def prepare(self, new: Collection[UUID], existing: Collection[UUID]) -> None:
        """Before a write: agents written for the first time get a data key (made here, in a
        transaction of its own, before any row is encrypted under it); existing agents' keys
        are looked up in one statement when not already held. An existing agent without one
        (written before data keys) keeps the store key."""

    def forget(self, originator_id: UUID) -> None:
        """Drop what this process holds of an agent's key (its row went with the erasure)."""
