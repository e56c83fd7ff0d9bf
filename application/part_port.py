"""The content-addressed part store: one store of immutable parts for every use that shares
content (DESIGN §4).

A part is stored bytes (compressed, and encrypted when the store encrypts) addressed by the
SHA-256 of its raw content, so the same content is kept once. Parts are shared only within a
tenant and under one data key: the address space of a part is (tenant, key scope, address),
so neither another tenant nor a store under another key can ever read or count a part by its
hash. Its uses: `hybrid`'s checkpoint bodies (one part per body), the `semantic` strategy's
repeated pieces (system prompts, tool schemas, tool outputs), and the size-independent
snapshots' parts. Two implementations: files under CONTEXT_STORAGE_PATH (`hybrid`,
persistence.part_files) and a table beside the events (the other backends,
persistence.part_table).

A part lives while a reference to it is committed: the part-reference table (migration 3)
holds one row per (tenant, package, address), written and deleted in the transaction of the
package row it belongs to. Writers put parts before the row that refers to them commits, and
call `ensure` after, so a concurrent release of the same content (which deletes only under the
tenant's part lock, once no committed reference is left) can never leave a committed reference
without its part. A writer that holds that lock shared while it writes its rows and parts (one
transaction, `referring`) needs no `ensure`: a release waits for it. `collect` removes what
nothing refers to (a crashed writer's parts), leaving young parts alone: their rows may not
have committed yet.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext

from ctxstore.application.errors import ContextStoreError
from ctxstore.application.package_port import PackageRecorder

# Owners of reference rows other than packages (whose ids never hold ':'): an agent referring
# to its contents' roots, and a part (a content's root or group node) referring to its
# children (application.part_content). Releasing a part releases what it referred to.
AGENT_OWNER = "agent:"
PART_OWNER = "part:"
# A root's base (`PartStore.bases`): (base:<root>, <an older root>) stands for the root's rows
# to every top the two share; the root has `part:` rows to its other tops only.
BASE_OWNER = "base:"

#: What a stored root refers to, from its stored bytes (the application's codec and tree rule).
Children = Callable[[bytes], Collection[str]]


class PartMissing(ContextStoreError):
    """A row refers to a part the store does not hold."""


def part_address(raw: bytes) -> str:
    """The address of content: the hex SHA-256 of its raw bytes."""
    return hashlib.sha256(raw).hexdigest()


def is_address(address: object) -> bool:
    # strip() leaves nothing of a lowercase hex string: the check costs one C call.
    return type(address) is str and len(address) == 64 and not address.strip(
        "0123456789abcdef")


def check_address(address: str) -> str:
    if not is_address(address):
        raise PartMissing(f"{str(address)[:80]!r} is not a part address")
    return address


class PartStore(ABC):
    @abstractmethod
    def held(self, tenant: str, addresses: Collection[str]) -> set[str]:
        """Which of these parts the store holds now (a writer encodes only the others; `ensure`
        covers one released meanwhile)."""

    @abstractmethod
    def put_many(self, tenant: str, parts: Mapping[str, bytes]) -> None:
        """Keep parts (address -> stored bytes) durably, before the row that refers to them
        commits; a part already held is kept as it is."""

    def refer_then_held(self, refs: PackageRecorder, tenant: str,
                        rows: Collection[tuple[str, str]], addresses: Collection[str]
                        ) -> set[str]:
        """Insert the reference rows (owner, address) into `refs`, then which of `addresses`
        are held. Here the rows commit first, so a part found held stays; a store that keeps
        both tables in one database may do both in one transaction, a release in between
        then being what the writer's `ensure` puts back (application.part_content)."""
        refs.insert_part_references(tenant, rows)
        return self.held(tenant, addresses) if addresses else set()

    def put_levels(self, tenant: str, levels: Iterable[Mapping[str, bytes]]) -> None:
        """`put_many` each level in turn (a tree's leaves, its group nodes, its root): a part
        is held only once what it refers to is. A store that writes them all at once (one
        transaction) may do so."""
        for level in levels:
            if level:
                self.put_many(tenant, level)

    def put_then_ensure(self, tenant: str, levels: Iterable[Mapping[str, bytes]],
                        relied: Collection[str], encode: Callable[[str], bytes]) -> None:
        """`put_levels`, then `ensure` the parts put and those `relied` on (found held). A
        store that can do both in one transaction under the tenant's part lock may: no release
        runs between, and a part put is held once that commits."""
        levels = list(levels)
        self.put_levels(tenant, levels)
        self.ensure(tenant, {a for level in levels for a in level} | set(relied), encode)

    def referring(self, tenant: str) -> AbstractContextManager[bool]:
        """Within: this thread's `refer_then_held` and `put_many` calls share one transaction,
        which commits at the end (a tree's levels and its parts: one commit, not five). Only a
        store whose rows and parts sit in one database may share it. It gives True when no
        release of the tenant's parts can run until that commit (the tenant's part lock held
        shared): what was found held then stays, the committed rows keeping it, and the parts
        put need no `ensure`. False: `ensure` after covers a release in between."""
        return nullcontext(False)

    def bases(self, children: Children) -> bool:
        """Whether a root kept within `referring` (True) may refer to a held older root by one
        `base:` row instead of a `part:` row to each top the two share (a fork at an earlier
        version: ~140 rows at 100k events, each a B-tree insert of two indexes). A store that
        says yes rebases in `release`: a root that only `base:` rows keep (its agent
        forgotten) is not kept by them; each root based on it gets its `part:` rows (what it
        refers to: `children` of its stored bytes) and loses its base, so nothing outlives
        every content that holds it. No by default."""
        return False

    def put(self, tenant: str, address: str, data: bytes) -> None:
        self.put_many(tenant, {address: data})

    @abstractmethod
    def get(self, tenant: str, address: str) -> bytes:
        """The stored bytes of a part. Raises PartMissing."""

    def get_many(self, tenant: str, addresses: Collection[str]) -> dict[str, bytes]:
        """Several parts' stored bytes. Raises PartMissing."""
        return {a: self.get(tenant, a) for a in addresses}

    def reading(self) -> AbstractContextManager[None]:
        """Within: this thread's `get_many` calls share one connection and read transaction
        (a tree is read level by level: one round trip per level, not three)."""
        return nullcontext()

    @abstractmethod
    def ensure(self, tenant: str, addresses: Collection[str],
               encode: Callable[[str], bytes]) -> None:
        """After the referring row committed, under the tenant's part lock: put again (with
        `encode(address)`) any part a concurrent release removed in between."""

    @abstractmethod
    def release(self, tenant: str, addresses: Collection[str]) -> list[str]:
        """After referring rows were deleted, under the tenant's part lock: remove the parts
        no committed reference is left to, and (their `part:` rows deleted with them) the
        parts they referred to that nothing else refers to, down the tree; the addresses
        removed."""

    @abstractmethod
    def collect(self, min_age_seconds: float = 3600) -> list[str]:
        """Remove the parts nothing refers to that are older than `min_age_seconds`; their
        addresses. A store that may hold `base:` rows also drops those whose node is gone (a
        release before bases left them) and releases what only they kept."""

    @abstractmethod
    def count(self, tenant: str | None = None) -> int:
        """How many parts are held (of one tenant, when given), under this store's key."""
