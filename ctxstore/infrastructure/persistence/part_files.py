"""The part store as files under CONTEXT_STORAGE_PATH (application.part_port): `hybrid`'s.

Layout: `<root>/<scope>/<aa>/<address>`, where scope is a hash of the tenant and the data key's
fingerprint (so names reveal neither, and a part is found only within its tenant and key) and
`aa` the address's first two hex digits. A part is written to a temporary file in its folder,
fsynced, renamed over its name (atomic) and the folder fsynced: a reader finds the whole part
or none. Deletions hold the part's lock (an advisory lock of the database the rows live in),
so a capture of the same content, whose `ensure` takes the same lock after its row commits,
always finds its part or writes it again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psycopg

from ctxstore.application.package_port import PackageRecorder
from ctxstore.application.part_port import PartMissing, PartStore

PartLock = Callable[[str], AbstractContextManager[None]]


def key_scope(key: str | None) -> str:
    """A fingerprint of the data key (`plain` without one): parts under another key are
    another store's."""
    if not key:
        return "plain"
    return hashlib.sha256(b"ctxstore-part-scope\0" + key.encode()).hexdigest()[:16]


def postgres_part_lock(dsn: str, schema: str) -> PartLock:
    """A session advisory lock per part, in the database whose rows refer to the parts."""

    @contextmanager
    def lock(name: str) -> Iterator[None]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))",
                         (f"ctxstore-part:{schema}:{name}",))
            yield  # closing the session releases it

    return lock


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
        if len(address) != 64 or any(ch not in "0123456789abcdef" for ch in address):
            raise PartMissing(f"{address!r} is not a part address")
        return self._folder(tenant) / address[:2] / address

    def put(self, tenant: str, address: str, data: bytes) -> None:
        path = self.path(tenant, address)
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

    def ensure(self, tenant: str, address: str, data: bytes) -> None:
        with self.lock(f"{address}:{tenant}"):
            if not self.path(tenant, address).exists():
                self.put(tenant, address, data)

    def release(self, tenant: str, address: str) -> bool:
        with self.lock(f"{address}:{tenant}"):
            if self.rows.body_parts(tenant, address):
                return False
            try:
                self.path(tenant, address).unlink()
            except FileNotFoundError:
                return False
            return True

    def collect(self, min_age_seconds: float = 3600) -> list[str]:
        kept = {self.path(t, a) for t, a in self.rows.body_parts()}
        tenants = {self._folder(t): t for t, _ in self.rows.body_parts()}
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
                # A tenant with rows: the part's lock, as `release` takes it.
                if self.release(tenant, path.name):
                    removed.append(path.name)
                continue
            path.unlink(missing_ok=True)  # no row of its tenant refers to anything
            removed.append(path.name)
        return removed
