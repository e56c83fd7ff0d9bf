"""The part store as files under CONTEXT_STORAGE_PATH (application.part_port): `hybrid`'s.

Layout: `<root>/<scope>/<aa>/<address>`, where scope is a hash of the tenant and the data key's
fingerprint (so names reveal neither, and a part is found only within its tenant and key) and
`aa` the address's first two hex digits. A part is written to a temporary file in its folder,
fsynced, renamed over its name (atomic) and the folder fsynced: a reader finds the whole part
or none. Deletions hold the tenant's part lock (persistence.part_lock: an advisory lock on a
connection of the store's pool), so a capture of the same content, whose `ensure` takes the
same lock after its row commits, always finds its parts or writes them again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from ctxstore.application.package_port import PackageRecorder
from ctxstore.application.part_port import PART_OWNER, PartMissing, PartStore, check_address
from ctxstore.infrastructure.persistence.part_lock import PartLock


def key_scope(key: str | None) -> str:
    """A fingerprint of the data key (`plain` without one): parts under another key are
    another store's."""
    if not key:
        return "plain"
    return hashlib.sha256(b"ctxstore-part-scope\0" + key.encode()).hexdigest()[:16]


class FilePartStore(PartStore):
    def __init__(self, root: Path, scope: str, rows: PackageRecorder, lock: PartLock):
        self.root = root
        self.scope = scope
        self.rows = rows
        self.lock = lock

    def _folder(self, tenant: str) -> Path:
        name = hashlib.sha256(f"{tenant}\0{self.scope}".encode()).hexdigest()[:32]
        return self.root / name

    def path(self, tenant: str, address: str) -> Path:
        return self._folder(tenant) / address[:2] / check_address(address)

    def held(self, tenant: str, addresses: Collection[str]) -> set[str]:
        return {a for a in addresses if self.path(tenant, a).exists()}

    def put_many(self, tenant: str, parts: Mapping[str, bytes]) -> None:
        for address, data in sorted(parts.items()):
            self._write(self.path(tenant, address), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            os.utime(path)  # young again: collect leaves it to the row about to commit
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def get(self, tenant: str, address: str) -> bytes:
        try:
            return self.path(tenant, address).read_bytes()
        except FileNotFoundError:
            raise PartMissing(f"part {address} is missing from {self.root}") from None

    def ensure(self, tenant: str, addresses: Collection[str],
               encode: Callable[[str], bytes]) -> None:
        if not addresses:
            return
        with self.lock(tenant):
            for address in sorted(set(addresses)):
                path = self.path(tenant, address)
                if not path.exists():
                    self._write(path, encode(address))

    def release(self, tenant: str, addresses: Collection[str]) -> list[str]:
        removed: list[str] = []
        if not addresses:
            return removed
        with self.lock(tenant):
            todo = set(addresses)
            while todo:
                # Asked after the lock: every reference committed before it is seen.
                kept = {a for _, a in self.rows.part_references(tenant, todo)}
                gone = []
                for address in sorted(todo - kept):
                    try:
                        self.path(tenant, address).unlink()
                    except FileNotFoundError:
                        continue
                    gone.append(address)
                removed.extend(gone)
                # What the removed parts referred to goes too, when nothing else refers to it.
                todo = self.rows.drop_part_references(tenant, [PART_OWNER + a for a in gone])
        return sorted(removed)

    def collect(self, min_age_seconds: float = 3600) -> list[str]:
        references = self.rows.part_references()
        kept = {self.path(t, a) for t, a in references}
        tenants = {self._folder(t): t for t, _ in references}
        removed: list[str] = []
        if not self.root.exists():
            return removed
        old = time.time() - min_age_seconds
        for path in sorted(self.root.glob("*/*/*")):
            if path in kept or path.stat().st_mtime > old:
                continue
            if path.name.startswith(".part-"):  # a writer's leftover temporary file
                path.unlink(missing_ok=True)
                continue
            tenant = tenants.get(path.parent.parent)
            if tenant is not None:
                # A tenant with references: under its lock, as `release` does.
                removed.extend(self.release(tenant, [path.name]))
                continue
            path.unlink(missing_ok=True)  # nothing of its tenant refers to anything
            removed.append(path.name)
        return removed

    def count(self, tenant: str | None = None) -> int:
        root = self._folder(tenant) if tenant is not None else self.root
        pattern = "*/*" if tenant is not None else "*/*/*"
        return sum(1 for p in root.glob(pattern) if not p.name.startswith(".part-"))
