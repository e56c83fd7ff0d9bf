"""What checkpoints need from persistence: a package table beside the events.

A captured checkpoint's row is written by the recorder's `insert_events` in the same
transaction as its `CheckpointTaken` event (pass `package_rows=` and `pruned_package_ids=` to
`ContextStore.append`), so the catalogue event and the package body commit together or not at
all, and retention's deletions commit with the event that announces them. Imported packages
have no event here (their history lives in another store) and are written alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import Cipher

from ctxstore.domain.agent_id import LOCAL_TENANT


@dataclass(frozen=True)
class PackageRow:
    """One stored package. `meta` and `body` are encoded (compressed, and encrypted when the
    store encrypts) canonical JSON: the checkpoint metadata and the agent state."""

    package_id: str
    agent_id: str
    version: int
    event_version: int | None  # version of its CheckpointTaken event; None when imported
    created_us: int
    meta: bytes
    body: bytes | None = None  # None when listed without bodies
    tenant: str = LOCAL_TENANT  # whose package id it is (ids are namespaced by tenant)
    # The body's address in the part store when it is kept there (`hybrid`), else None and
    # the body is in the row (application.part_port).
    body_part: str | None = None
    # Every part the package refers to (its body part, the `semantic` strategy's pieces): the
    # part-reference rows written with it, which keep those parts alive. Not read back.
    parts: tuple[str, ...] = ()


class PackageRecorder(ABC):
    """Reads and stand-alone writes of the package table (see the module docstring)."""

    @abstractmethod
    def insert_package(self, row: PackageRow) -> None:
        """Write one package in its own transaction (imports); a repeated id is an error."""

    @abstractmethod
    def select_package(self, package_id: str, *, tenant: str = LOCAL_TENANT,
                       with_body: bool = True) -> PackageRow | None:
        """One tenant's package of that id, or None."""

    @abstractmethod
    def select_package_rows(self, package_id: str) -> list[PackageRow]:
        """Every tenant's package of that id, without bodies (for readers of shared ones)."""

    @abstractmethod
    def select_packages(self, agent_id: str | None = None) -> list[PackageRow]:
        """Packages (of one agent, when given) without bodies, oldest first."""

    @abstractmethod
    def part_references(self, tenant: str | None = None,
                        addresses: Collection[str] | None = None) -> set[tuple[str, str]]:
        """The (tenant, address) pairs of the part store that committed rows refer to (of one
        tenant, or among some addresses, when given): what the part store must keep."""

    @abstractmethod
    def package_parts(self, tenant: str, package_ids: Collection[str]) -> set[str]:
        """The addresses these packages of the tenant refer to (also those of the other
        owners of reference rows: `agent:<id>`, `part:<address>`, application.part_content)."""

    @abstractmethod
    def drop_part_references(self, tenant: str, owners: Collection[str]) -> set[str]:
        """Delete the tenant's reference rows of these owners; the addresses they referred
        to (which the caller then releases)."""

    @abstractmethod
    def insert_part_references(self, tenant: str, refs: Collection[tuple[str, str]]) -> None:
        """Commit reference rows (owner, address) of the tenant beside the package rows' own,
        in one transaction; a row already there stays as it is. Owners other than packages
        (application.part_content) have a ':' in their names, which package ids never have."""


class PackageCodec(Protocol):
    """How package bodies and metadata become stored bytes and back (the byte format lives in
    infrastructure.persistence.body_codec)."""

    @property
    def cipher(self) -> Cipher | None:
        """The store's cipher (exports encrypt with it too), or None."""

    @property
    def is_encrypted(self) -> bool: ...

    @property
    def strategy(self) -> str:
        """How bodies are compressed, e.g. `zstd-3+dict-1234` (shown in the metadata)."""

    def encode(self, raw: bytes, owner: UUID | None = None) -> bytes:
        """`owner`: the aggregate id of the agent whose own data this is (encrypted under
        its data key, application.data_key_port); None: the store's (parts shared by forks)."""

    def decode(self, data: bytes, owner: UUID | None = None) -> bytes: ...
