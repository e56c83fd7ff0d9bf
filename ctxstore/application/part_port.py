"""The content-addressed part store: one store of immutable parts for every use that shares
content (DESIGN §4).

A part is stored bytes (compressed, and encrypted when the store encrypts) addressed by the
SHA-256 of its raw content, so the same content is kept once. Parts are shared only within a
tenant and under one data key: the address space of a part is (tenant, key scope, address),
so neither another tenant nor a store under another key can ever read or count a part by its
hash. Its uses: `hybrid`'s checkpoint bodies (one part per body, the row keeps the address),
semantic compression's repeated pieces, and the size-independent snapshots' parts.

A part lives while a row refers to it. Writers put the part before the row that refers to it
commits, and call `ensure` after, so a concurrent release of the same content (which deletes
only under the part's lock, once no committed row refers to it) can never leave a committed
row without its part. `collect` removes what no row refers to (a crashed writer's parts),
leaving young parts alone: their rows may not have committed yet.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod

from ctxstore.application.errors import ContextStoreError


class PartMissing(ContextStoreError):
    """A row refers to a part the store does not hold."""


def part_address(raw: bytes) -> str:
    """The address of content: the hex SHA-256 of its raw bytes."""
    return hashlib.sha256(raw).hexdigest()


class PartStore(ABC):
    @abstractmethod
    def put(self, tenant: str, address: str, data: bytes) -> None:
        """Keep `data` (the stored form of the content at `address`) durably, before the row
        that refers to it commits; a part already held is kept as it is."""

    @abstractmethod
    def get(self, tenant: str, address: str) -> bytes:
        """The stored bytes of a part. Raises PartMissing."""

    @abstractmethod
    def ensure(self, tenant: str, address: str, data: bytes) -> None:
        """After the referring row committed: put the part again if a concurrent release
        removed it in between."""

    @abstractmethod
    def release(self, tenant: str, address: str) -> bool:
        """After a referring row was deleted: remove the part when no row refers to it any
        more. True when removed."""

    @abstractmethod
    def collect(self, min_age_seconds: float = 3600) -> list[str]:
        """Remove the parts no row refers to that are older than `min_age_seconds`; their
        addresses."""
