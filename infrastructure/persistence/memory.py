"""The store's ports in memory: events, side tables, packages and dictionaries in one process.

Built on eventsourcing's POPO recorders (plain Python objects under one lock), with the side
tables and the package table of the SQLite and PostgreSQL recorders kept as dicts, written in
the same locked step as the events: a batch that fails any uniqueness check (a version taken,
an event id the tenant already recorded, a package id it already holds) changes nothing, as a
rolled-back transaction would. They pass the same contract tests as the database recorders
(tests/persistence/test_recorder_cases.py, tests/restore/test_restore_recorder_cases.py,
tests/persistence/test_port_contracts.py), so the application's tests can run on them.

Nothing survives the process: this is for tests and experiments (bootstrap.memory_services),
not a storage backend a user can choose.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    StoredEvent,
)
from eventsourcing.popo import POPOAggregateRecorder, POPOApplicationRecorder, POPOFactory

from ctxstore.application.chain import ChainRow
from ctxstore.application.chain_port import ChainHead, ChainIndex
from ctxstore.application.dictionary_port import CompressionDictionary, DictionaryCatalog
from ctxstore.application.forget_port import (
    AgentEraser,
    Erased,
    ErasePlan,
    Forgotten,
    Tombstone,
)
from ctxstore.application.package_port import PackageRecorder, PackageRow
from ctxstore.application.part_content import agent_owner
from ctxstore.application.part_port import PART_OWNER, PartMissing, PartStore
from ctxstore.application.ports import AgentRow, AgentSummary, ContextIndex, EventIndexRow
from ctxstore.domain.agent_id import LOCAL_TENANT, plain_agent_id
from ctxstore.infrastructure.persistence.operation_log import MemoryOperationLog
from ctxstore.infrastructure.persistence.schedules import MemorySchedules
from ctxstore.infrastructure.persistence.side_rows import DeclaredSideRows


class MemoryStoreRecorder(DeclaredSideRows, POPOApplicationRecorder, ContextIndex, ChainIndex,
                          PackageRecorder, MemoryOperationLog, MemorySchedules, AgentEraser):
    """The store's whole recorder in memory: the events (and their snapshots, for `heads`),
    the side tables, the package table, the operation log and the forgotten agents'
    tombstones."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshots = POPOAggregateRecorder()
        self._event_ids: dict[tuple[str, str], tuple[UUID, int]] = {}  # (tenant, event id)
        self._timestamps: dict[UUID, dict[int, int]] = {}  # originator -> version -> time
        self._agents: dict[str, AgentSummary] = {}
        self._links: dict[UUID, dict[int, bytes]] = {}  # originator -> version -> chain link
        self._chain_heads: dict[str, tuple[UUID, bytes | None]] = {}  # agent -> (id, head)
        self._packages: dict[tuple[str, str], PackageRow] = {}  # (tenant, package id)
        # Reference rows of owners other than packages: (tenant, owner, address).
        self._refs: set[tuple[str, str, str]] = set()
        self._operation_rows = []
        self._schedules = {}
        self._schedules_lock = threading.Lock()
        self._tombstones: dict[str, Tombstone] = {}
        self._forgotten_ids: set[tuple[str, bytes]] = set()
        self._data_keys: dict[UUID, bytes] = {}  # persistence.data_keys.DataKeyTable

    # Writing (the EventWriter port) ----------------------------------------------------------
    # The library's POPO recorders check everything, then change everything, under one lock
    # (`_insert_events`): the side rows join both steps, as its process recorder's tracking does.
    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], *,
                           index_rows: Sequence[EventIndexRow] = (),
                           package_rows: Sequence[PackageRow] = (),
                           pruned_package_ids: Sequence[str] = (), **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        self._check_index_rows(index_rows)
        held = set(self._packages) - set(self._prunable(pruned_package_ids))
        self._check_new_packages(package_rows, held)

    def _update_table(self, stored_events: Sequence[StoredEvent], *,
                      index_rows: Sequence[EventIndexRow] = (),
                      agent_rows: Sequence[AgentRow] = (),
                      package_rows: Sequence[PackageRow] = (),
                      pruned_package_ids: Sequence[str] = (), **kwargs: Any
                      ) -> Sequence[int] | None:
        ids = super()._update_table(stored_events, **kwargs)
        for row in index_rows:
            self._event_ids[(row.tenant, row.event_id)] = (row.originator_id, row.version)
            self._timestamps.setdefault(row.originator_id, {})[row.version] = row.timestamp_us
            self._links.setdefault(row.originator_id, {})[row.version] = row.link
        for agent in agent_rows:
            self._upsert_agent(agent)
        for key in self._prunable(pruned_package_ids):
            del self._packages[key]
        for package in package_rows:
            self._packages[(package.tenant, package.package_id)] = _kept(package)
        return ids

    def _prunable(self, package_ids: Sequence[str]) -> list[tuple[str, str]]:
        """The rows retention deletes: captured ones (with an event) of those ids, of any
        tenant (an imported copy of an export keeps its id and stays), as the SQL recorders'."""
        wanted = set(package_ids)
        return [key for key, row in self._packages.items()
                if key[1] in wanted and row.event_version is not None]

    def _check_index_rows(self, rows: Sequence[EventIndexRow]) -> None:
        ids = {(r.tenant, r.event_id) for r in rows}
        versions = {(r.originator_id, r.version) for r in rows}
        if len(ids) < len(rows) or len(versions) < len(rows):
            raise IntegrityError("event ids or versions repeat within the batch")
        for tenant, event_id in ids:
            if (tenant, event_id) in self._event_ids:
                raise IntegrityError(f"event id {event_id!r} already recorded for {tenant!r}")
        for originator_id, version in versions:
            if version in self._timestamps.get(originator_id, {}):
                raise IntegrityError(f"version {version} of {originator_id} already indexed")

    def _check_new_packages(self, rows: Sequence[PackageRow],
                            held: set[tuple[str, str]]) -> None:
        keys = [(r.tenant, r.package_id) for r in rows]
        if len(set(keys)) < len(keys):
            raise IntegrityError("package ids repeat within the batch")
        for tenant, package_id in keys:
            if (tenant, package_id) in held:
                raise IntegrityError(f"package {package_id!r} already held by {tenant!r}")

    def _upsert_agent(self, row: AgentRow) -> None:
        if row.agent_id in self._tombstones:  # as the SQL recorders' trigger
            raise IntegrityError(f"agent {row.agent_id!r} was forgotten")
        held = self._agents.get(row.agent_id)
        if held is None or row.version > held.version:
            self._chain_heads[row.agent_id] = (row.originator_id, row.chain_head)
        if held is None:
            self._agents[row.agent_id] = AgentSummary(
                row.agent_id, row.version, row.created_us, row.updated_us, row.tenant)
        else:  # as the SQL recorders' upsert: the highest version, the latest update
            self._agents[row.agent_id] = replace(
                held, version=max(held.version, row.version), updated_us=row.updated_us)

    # The side tables (the ContextIndex port) -------------------------------------------------
    def known_event_ids(self, event_ids: Iterable[str], tenant: str = LOCAL_TENANT
                        ) -> dict[str, tuple[UUID, int]]:
        with self._database_lock:
            return {e: self._event_ids[(tenant, e)] for e in dict.fromkeys(event_ids)
                    if (tenant, e) in self._event_ids}

    def version_at(self, originator_id: UUID, timestamp_us: int) -> int:
        with self._database_lock:
            recorded = self._timestamps.get(originator_id, {})
            return max((v for v, ts in recorded.items() if ts <= timestamp_us), default=0)

    def timestamps(self, originator_id: UUID, versions: Sequence[int]) -> dict[int, int]:
        with self._database_lock:
            recorded = self._timestamps.get(originator_id, {})
            return {v: recorded[v] for v in versions if v in recorded}

    def agents(self, tenant: str | None = None) -> list[AgentSummary]:
        with self._database_lock:
            return sorted((a for a in self._agents.values()
                           if tenant is None or a.tenant == tenant), key=lambda a: a.agent_id)

    def agents_page(self, tenant: str, after: str | None, limit: int) -> list[AgentSummary]:
        rows = sorted(((plain_agent_id(a.agent_id), a) for a in self.agents(tenant)),
                      key=lambda row: row[0])
        return [a for plain, a in rows if after is None or plain > after][:limit]

    def agent(self, agent_id: str) -> AgentSummary | None:
        with self._database_lock:
            return self._agents.get(agent_id)

    def owners(self, agent_ids: Sequence[str]) -> dict[str, str]:
        with self._database_lock:
            return {a: self._agents[a].tenant for a in agent_ids if a in self._agents}

    def heads(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        heads: dict[UUID, list[StoredEvent]] = {}
        with self._database_lock:
            for originator_id in dict.fromkeys(originator_ids):
                snapshot = self.snapshots.select_events(originator_id, desc=True, limit=1)
                after = snapshot[0].originator_version if snapshot else 0
                rows = [*snapshot, *self.select_events(originator_id, gt=after)]
                if rows:
                    heads[originator_id] = rows
        return heads

    # The hash chain (the ChainIndex port) -----------------------------------------------------
    def chain_links(self, wanted: Mapping[UUID, int]) -> dict[UUID, bytes]:
        with self._database_lock:
            return {i: link for i, v in wanted.items()
                    if (link := self._links.get(i, {}).get(v))}

    def chain_heads(self, agent_ids: list[str] | None = None) -> list[ChainHead]:
        with self._database_lock:
            return [ChainHead(a, self._chain_heads[a][0], self._agents[a].version,
                              self._chain_heads[a][1])
                    for a in sorted(self._agents) if agent_ids is None or a in agent_ids]

    def chain_rows(self, originator_id: UUID) -> Iterator[ChainRow]:
        with self._database_lock:
            events = {e.originator_version: e for e in self.select_events(originator_id)}
            links = dict(self._links.get(originator_id, {}))
        for version in sorted(events.keys() | links.keys()):
            event = events.get(version)
            yield ChainRow(version, event.topic if event else None,
                           event.state if event else None, links.get(version) or None)

    # The package table (the PackageRecorder port) --------------------------------------------
    def insert_package(self, row: PackageRow) -> None:
        with self._database_lock:
            self._check_new_packages([row], set(self._packages))
            self._packages[(row.tenant, row.package_id)] = _kept(row)

    def select_package(self, package_id: str, *, tenant: str = LOCAL_TENANT,
                       with_body: bool = True) -> PackageRow | None:
        with self._database_lock:
            row = self._packages.get((tenant, package_id))
        if row is None:
            return None
        return row if with_body else replace(row, body=None)

    def select_package_rows(self, package_id: str) -> list[PackageRow]:
        with self._database_lock:
            rows = [r for (_, p), r in self._packages.items() if p == package_id]
        return [replace(r, body=None) for r in sorted(rows, key=lambda r: (r.created_us,
                                                                           r.tenant))]

    def select_packages(self, agent_id: str | None = None) -> list[PackageRow]:
        with self._database_lock:
            rows = [r for r in self._packages.values()
                    if agent_id is None or r.agent_id == agent_id]
        rows.sort(key=lambda r: (r.created_us, r.package_id, r.tenant))
        return [replace(r, body=None) for r in rows]

    def part_references(self, tenant: str | None = None,
                        addresses: Collection[str] | None = None) -> set[tuple[str, str]]:
        wanted = set(addresses) if addresses is not None else None
        with self._database_lock:
            return {(r.tenant, a) for r in self._packages.values()
                    for a in (*r.parts, *((r.body_part,) if r.body_part else ()))
                    if tenant in (None, r.tenant) and (wanted is None or a in wanted)} | {
                (t, a) for t, _, a in self._refs
                if tenant in (None, t) and (wanted is None or a in wanted)}

    def drop_part_references(self, tenant: str, owners: Collection[str]) -> set[str]:
        wanted = set(owners)
        with self._database_lock:
            gone = {r for r in self._refs if r[0] == tenant and r[1] in wanted}
            self._refs -= gone
        return {a for _, _, a in gone}

    def insert_part_references(self, tenant: str, refs: Collection[tuple[str, str]]) -> None:
        with self._database_lock:
            self._refs.update((tenant, owner, a) for owner, a in refs)

    def package_parts(self, tenant: str, package_ids: Collection[str]) -> set[str]:
        wanted = set(package_ids)
        with self._database_lock:
            return {a for package_id in package_ids
                    if (row := self._packages.get((tenant, package_id))) is not None
                    for a in (*row.parts, *((row.body_part,) if row.body_part else ()))} | {
                a for t, owner, a in self._refs if t == tenant and owner in wanted}


    # Forgetting (the AgentEraser port) ------------------------------------------------------
    def erase_agent(self, plan: ErasePlan) -> Erased:
        stone, oid = plan.tombstone, plan.originator_id
        with self._database_lock, self._schedules_lock:
            events = _drop_events(self, oid)
            snapshots = _drop_events(self.snapshots, oid)
            ids = [k for k, (o, _) in self._event_ids.items() if o == oid]
            for k in ids:
                del self._event_ids[k]
                self._forgotten_ids.add((k[0], plan.digest(k[1])))
            self._timestamps.pop(oid, None)
            self._links.pop(oid, None)
            self._agents.pop(stone.agent_key, None)
            self._chain_heads.pop(stone.agent_key, None)
            gone = [k for k, r in self._packages.items()
                    if r.agent_id == stone.agent_key and r.tenant == stone.tenant]
            own = {r for r in self._refs if r[0] == stone.tenant and r[1] == agent_owner(oid)}
            self._refs -= own
            parts = frozenset(a for k in gone for r in [self._packages.pop(k)]
                              for a in (*r.parts, *((r.body_part,) if r.body_part else ()))
                              ) | {a for _, _, a in own}
            schedule = self._schedules.pop(stone.agent_key, None)
            self._operation_rows[:] = [
                r for r in self._operation_rows if not (
                    r.tenant == stone.tenant and r.agent_id in (stone.agent_key,
                                                                plain_agent_id(stone.agent_key)))]
            self._tombstones.setdefault(stone.agent_key, stone)
            self._data_keys.pop(oid, None)
        return Erased(events=events, snapshots=snapshots, checkpoints=len(gone),
                      event_ids=len(ids), schedules=int(schedule is not None), parts=parts)

    def wrapped_keys(self, originator_ids: Collection[UUID]) -> dict[UUID, bytes]:
        with self._database_lock:
            return {i: self._data_keys[i] for i in originator_ids if i in self._data_keys}

    def add_wrapped_keys(self, wrapped: Mapping[UUID, bytes]) -> set[UUID]:
        with self._database_lock:
            inserted = {i for i in wrapped if i not in self._data_keys}
            for i in inserted:
                self._data_keys[i] = wrapped[i]
        return inserted

    def tombstones(self, tenant: str, agent_keys: Collection[str]) -> dict[str, Tombstone]:
        with self._database_lock:
            return {k: s for k in agent_keys
                    if (s := self._tombstones.get(k)) is not None and s.tenant == tenant}

    def forgotten(self, tenant: str, agent_keys: Collection[str]) -> Forgotten:
        with self._database_lock:
            ids = any(t == tenant for t, _ in self._forgotten_ids)
        return Forgotten(self.tombstones(tenant, agent_keys), ids)

    def forgotten_event_ids(self, tenant: str, digests: Collection[bytes]) -> set[bytes]:
        with self._database_lock:
            return {d for d in digests if (tenant, d) in self._forgotten_ids}

    def reclaim(self) -> None:
        """Nothing on disk."""


def _drop_events(recorder: POPOAggregateRecorder, originator_id: UUID) -> int:
    """Remove an aggregate's stored events from a POPO recorder (its caller holds the lock).
    In memory only: the notification ids of later events shift down."""
    held: list[StoredEvent] = recorder._stored_events  # noqa: SLF001
    kept = [e for e in held if e.originator_id != originator_id]
    dropped = len(held) - len(kept)
    held[:] = kept
    index = recorder._stored_events_index  # noqa: SLF001
    index.clear()
    for position, e in enumerate(kept):
        index[str(e.originator_id)][e.originator_version] = position
    return dropped


def _kept(row: PackageRow) -> PackageRow:
    """A row as the tables keep it: a body always (empty when written without one)."""
    return row if row.body is not None else replace(row, body=b"")


class MemoryFactory(POPOFactory):
    """eventsourcing's POPO factory with the store's recorder; its snapshots are the ones that
    recorder reads back in `heads` (set PERSISTENCE_MODULE to this class's topic)."""

    def application_recorder(self) -> ApplicationRecorder:
        self._store_recorder = MemoryStoreRecorder()
        return self._store_recorder

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        store_recorder: MemoryStoreRecorder | None = getattr(self, "_store_recorder", None)
        if purpose == "snapshots" and store_recorder is not None:
            return store_recorder.snapshots
        return super().aggregate_recorder(purpose)


class MemoryDictionaryCatalog(DictionaryCatalog):
    """Every dictionary trained in this process, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dictionaries: dict[int, CompressionDictionary] = {}

    def add(self, dictionary: CompressionDictionary) -> None:
        with self._lock:  # the first of an id stays, as the tables' ON CONFLICT DO NOTHING
            self._dictionaries.setdefault(dictionary.dict_id, dictionary)

    def all(self) -> list[CompressionDictionary]:
        with self._lock:
            return sorted(self._dictionaries.values(), key=lambda d: (d.created_at, d.dict_id))

    def get(self, dict_id: int) -> CompressionDictionary | None:
        with self._lock:
            return self._dictionaries.get(dict_id)


class MemoryPartStore(PartStore):
    """The part store in memory, for the memory recorder: the parts in a dict, their
    references read from the recorder's package rows, one lock for everything."""

    def __init__(self, packages: MemoryStoreRecorder):
        self._packages = packages
        self._parts: dict[tuple[str, str], tuple[bytes, float]] = {}  # -> (bytes, added at)
        self._lock = threading.RLock()

    def held(self, tenant: str, addresses: Collection[str]) -> set[str]:
        with self._lock:
            return {a for a in addresses if (tenant, a) in self._parts}

    def put_many(self, tenant: str, parts: Mapping[str, bytes]) -> None:
        with self._lock:
            for address, data in parts.items():
                self._parts.setdefault((tenant, address), (data, time.time()))

    def get(self, tenant: str, address: str) -> bytes:
        with self._lock:
            found = self._parts.get((tenant, address))
        if found is None:
            raise PartMissing(f"part {address} is missing")
        return found[0]

    def ensure(self, tenant: str, addresses: Collection[str],
               encode: Callable[[str], bytes]) -> None:
        with self._lock:
            self.put_many(tenant, {a: encode(a) for a in addresses
                                   if (tenant, a) not in self._parts})

    def release(self, tenant: str, addresses: Collection[str]) -> list[str]:
        removed: list[str] = []
        with self._lock:
            todo = set(addresses)
            while todo:
                kept = {a for _, a in self._packages.part_references(tenant, todo)}
                gone = sorted(a for a in todo - kept if (tenant, a) in self._parts)
                for address in gone:
                    del self._parts[(tenant, address)]
                removed.extend(gone)
                todo = self._packages.drop_part_references(
                    tenant, [PART_OWNER + a for a in gone])
            return sorted(removed)

    def collect(self, min_age_seconds: float = 3600) -> list[str]:
        before = time.time() - min_age_seconds
        with self._lock:
            kept = self._packages.part_references()
            gone = [key for key, (_, at) in self._parts.items()
                    if at < before and key not in kept]
            for key in gone:
                del self._parts[key]
            return sorted(address for _, address in gone)

    def count(self, tenant: str | None = None) -> int:
        with self._lock:
            return sum(1 for t, _ in self._parts if tenant in (None, t))
