"""Helpers of the restore tests: a store with its restore use cases, event builders, and raw
SQL on the store's own database (to damage stored rows the way a disk or a person could)."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.settings import Settings
from devtools.services import libpq_dsn


@dataclass
class Kit:
    settings: Settings
    store: ContextStore
    services: Services

    @property
    def checkpoints(self) -> Any:
        return self.services.checkpoints

    @property
    def restore(self) -> Any:
        return self.services.restore

    def version(self, agent_id: str) -> int:
        summary = self.store.index.agent(agent_id)
        return summary.version if summary else 0

    def hash(self, agent_id: str, version: int | None = None) -> str:
        return str(self.store.context(agent_id, version=version)["content_hash"])

    def table(self, name: str) -> str:
        """The real table name of `events`, `snapshots`, `packages`, `parts` or `part_refs` in
        this store."""
        if self.settings.engine == "sqlite":
            return {"events": "stored_events", "snapshots": "stored_snapshots",
                    "packages": "stored_packages", "parts": "stored_parts",
                    "part_refs": "stored_part_refs"}[name]
        return f'"{self.settings.database_schema}"."ctxstore_{name}"'

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL on the store's database (`?` placeholders; rewritten for PostgreSQL)."""
        if self.settings.engine == "sqlite":
            lite = sqlite3.connect(self.settings.sqlite_file)
            try:
                rows = lite.execute(query, params).fetchall()
                lite.commit()
                return rows
            finally:
                lite.close()
        with psycopg.connect(libpq_dsn(self.settings.database_url), autocommit=True) as conn:
            cur = conn.execute(sql.SQL(query.replace("?", "%s")), params)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []

    def body_file(self, package_id: str) -> Path | None:
        """Where `hybrid` keeps a package's body (None: in its row)."""
        rows = self.sql(f"SELECT tenant, body_part FROM {self.table('packages')} "
                        "WHERE package_id = ?", (package_id,))
        parts = self.services.checkpoints.parts
        if not rows or rows[0][1] is None or parts is None:
            return None
        return parts.path(rows[0][0], rows[0][1])  # type: ignore[attr-defined, no-any-return]

    def stored_body(self, package_id: str) -> bytes:
        """A package's body as stored, wherever the backend keeps it."""
        path = self.body_file(package_id)
        if path is not None:
            return path.read_bytes()
        rows = self.sql(f"SELECT body FROM {self.table('packages')} WHERE package_id = ?",
                        (package_id,))
        return bytes(rows[0][0])

    def set_stored_body(self, package_id: str, body: bytes) -> None:
        """Overwrite a package's stored body (a damaged disk, a forger)."""
        path = self.body_file(package_id)
        if path is not None:
            path.write_bytes(body)
            return
        self.sql(f"UPDATE {self.table('packages')} SET body = ? WHERE package_id = ?",
                 (body, package_id))

    def uuid_param(self, value: uuid.UUID) -> Any:
        return value.hex if self.settings.engine == "sqlite" else value


# Some restore tests place wire events in the future, so that checkpoints (stamped "now" by
# the store) fall before them and every point in time names one version: they stand for a
# store whose CONTEXT_MAX_CLOCK_SKEW_SECONDS allows it.
WIDE_CLOCK_SKEW_SECONDS = 10 * 366 * 86_400


def env(agent: str, type_: str, data: dict[str, Any], *, at: datetime | None = None,
        session: str | None = None) -> AnyEnvelope:
    return make_envelope(agent, type_, data, event_id=str(uuid.uuid4()), occurred_at=at,
                         session_id=session, max_clock_skew_seconds=WIDE_CLOCK_SKEW_SECONDS)


def msg(agent: str, text: str, *, message_id: str | None = None, at: datetime | None = None,
        role: str = "user") -> AnyEnvelope:
    data: dict[str, Any] = {"role": role, "content": text}
    if message_id:
        data["message_id"] = message_id
    return env(agent, "message", data, at=at)


def new_agent(prefix: str = "a") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def snapshot_versions(kit: Kit, agent: str) -> list[int]:
    rows = kit.sql(f"SELECT originator_version FROM {kit.table('snapshots')} "
                   "WHERE originator_id = ? ORDER BY originator_version",
                   (kit.uuid_param(aggregate_id(agent)),))
    return [int(r[0]) for r in rows]


@dataclass
class ReleaseMeanwhile:
    """Stands in for the part store's `refer_then_held`: the first time a keep asks about
    `address`, a release of it starts in another thread, and the keep goes on once that
    release waits for the tenant's part lock (PostgreSQL's advisory lock, which the keep holds
    shared): what the release then finds is what the keep committed. `removed`: what it
    released."""

    kit: Kit
    address: str
    removed: list[list[str]] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def patch(self, monkeypatch: Any) -> None:
        parts = self.kit.store.part_content.parts  # type: ignore[union-attr]
        refer_then_held: Callable[..., set[str]] = parts.refer_then_held

        def held_then_released(refs: Any, tenant: str, rows: Any, addresses: Any) -> set[str]:
            found = refer_then_held(refs, tenant, rows, addresses)
            if self.address in addresses and not self._threads:
                self._threads.append(threading.Thread(
                    target=lambda: self.removed.append(parts.release(tenant, [self.address]))))
                self._threads[0].start()
                deadline = time.monotonic() + 60
                while not self._waiting_for_the_lock():
                    assert time.monotonic() < deadline and self._threads[0].is_alive()
                    time.sleep(0.01)
            return found

        monkeypatch.setattr(parts, "refer_then_held", held_then_released)

    def _waiting_for_the_lock(self) -> bool:
        return bool(self.kit.sql("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND NOT granted"))

    def join(self) -> list[str]:
        """What the release removed, once it is done."""
        assert self._threads, "no keep asked about the address"
        self._threads[0].join(timeout=60)
        return self.removed[0]
