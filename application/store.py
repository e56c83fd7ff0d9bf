"""The context store application: record envelopes, read an agent at any point, page history.

Built on eventsourcing's Application. Writes for many agents go into one transaction; an
event id already in the tenant's index is a duplicate for ever; a version conflict with another
writer is retried from fresh state, so no event is lost or reordered.

Tenants: a caller names an agent by its tenant and agent id; the store knows it by its key
(domain.agent_id), which `key_for` resolves. Every method below that takes an `agent_id` other
than `record` takes that key: for the local tenant it is the agent id itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Compressor, IntegrityError, Mapper, StoredEvent

from ctxstore.application.agent_cache import AgentCache
from ctxstore.application.chain import GENESIS, EventChain
from ctxstore.application.chain_port import ChainIndex
from ctxstore.application.chained_batch import ChainedBatch
from ctxstore.application.connection_scope import ConnectionScope, WriteLock
from ctxstore.application.data_key_port import DataKeys
from ctxstore.application.forget_port import (
    AgentEraser,
    Erased,
    ErasePlan,
    EventIdDigest,
    Tombstone,
)
from ctxstore.application.lru_map import LruMap
from ctxstore.application.operation_log import OperationLog
from ctxstore.application.package_port import PackageRecorder, PackageRow
from ctxstore.application.part_cache import PartCache
from ctxstore.application.part_content import PartContent
from ctxstore.application.part_port import PartStore
from ctxstore.application.ports import (
    AgentRow,
    AgentSummary,
    ChunkedEventWriter,
    ContextIndex,
    EventWriter,
    PointRows,
)
from ctxstore.application.results import EventOutcome, RecordResult
from ctxstore.application.retry import MAX_WRITE_ATTEMPTS, retry_on_conflict
from ctxstore.application.schedule_port import ScheduleStore
from ctxstore.application.snapshot_policy import SnapshotMark, SnapshotPolicy
from ctxstore.application.store_reads import StoreReads, project
from ctxstore.domain.agent_id import (
    LOCAL_TENANT,
    agent_key,
    aggregate_id,
    check_agent_id,
    named_tenant,
    plain_agent_id,
)
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.clock import from_us, to_us
from ctxstore.domain.events import AnyEnvelope
from ctxstore.domain.pages import PartHashes
from ctxstore.domain.state import Content, EventNotApplicable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandedContent:
    """A restore's content handed to the store by its maker: its own (containers no one else
    changes), with its parts' addresses, and the agent it came from."""

    content: Content
    hashes: PartHashes
    source: UUID


class Unread(Enum):
    """`append`'s default: the caller did not read the agent's catalogue row (the store asks
    for its tenant unless it remembers it)."""

    ROW = 0


UNREAD = Unread.ROW

__all__ = ["LOCAL_TENANT", "UNREAD", "ContextStore", "from_us", "project", "to_us"]

MIN_REMEMBERED_AGENTS = 1024
# Events a chunk of a large batch holds where the recorder takes chunks (see _commit).
WRITE_CHUNK = 256


class ContextStore(StoreReads):
    """Agent contexts on an event store; one instance per process, thread-safe for writes."""

    name = "ctxstore"
    is_snapshotting_enabled = True

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        compressor: Compressor | None = None,
        snapshot_interval: int = 100,
        snapshot_growth: float = 0.25,
        cache_bytes: int = 48 * 1024 * 1024,
        cache_agents: int = 10_000,
        part_cache_bytes: int = 64 * 1024 * 1024,
        chain: EventChain | None = None,
        remembered_agents: int | None = None,
    ):
        self._compressor = compressor
        self.chain = chain or EventChain()
        # Per-agent facts remembered to save a query, for this many agents at most (LRU;
        # default: as many as the agent cache, at least MIN_REMEMBERED_AGENTS).
        remembered = remembered_agents or max(cache_agents, MIN_REMEMBERED_AGENTS)
        # Each written agent's last (version, link): the next batch's link follows it without
        # a query. Keyed by version, so a stale entry is never used, only missed.
        self._chain_heads: LruMap[UUID, tuple[int, bytes]] = LruMap(remembered)
        # Folded agents kept between batches and reads (application.agent_cache); 0: none.
        self.agent_cache = (AgentCache(cache_bytes, cache_agents)
                            if cache_bytes > 0 and cache_agents > 0 else None)
        self.snapshot_interval = snapshot_interval
        self.part_cache_bytes = part_cache_bytes
        self.snapshot_policy = SnapshotPolicy(snapshot_interval, snapshot_growth,
                                              max_marks=remembered)
        # A thread waiting for it lets go of its pooled connection first (connection_scope).
        self._write_lock = WriteLock(lambda: self.one_connection.let_go())
        self._owners: LruMap[str, str] = LruMap(remembered)
        self._keys: LruMap[tuple[str, str], str] = LruMap(remembered)
        super().__init__(env)
        recorder = self.recorder
        if not (isinstance(recorder, ContextIndex) and isinstance(recorder, PackageRecorder)
                and isinstance(recorder, OperationLog) and isinstance(recorder, ScheduleStore)
                and isinstance(recorder, ChainIndex) and isinstance(recorder, AgentEraser)):
            raise TypeError(
                "ContextStore needs a recorder with ctxstore's side tables, package table and "
                "operation log and checkpoint schedules; "
                "set APPLICATION_RECORDER_TOPIC to one of infrastructure.persistence's store "
                "recorders"
            )
        # One recorder, seen through the ports the use cases need (DESIGN §1).
        self.index: ContextIndex = recorder
        self.packages: PackageRecorder = recorder
        self.operations: OperationLog = recorder
        self.schedules: ScheduleStore = recorder
        self.chain_index: ChainIndex = recorder
        self.eraser: AgentEraser = recorder
        # Forgotten agents' event ids are kept as digests under the integrity key.
        self.event_id_digest = EventIdDigest(self.chain.key)
        self._writer: EventWriter = cast(EventWriter, recorder)
        # Where the recorder takes a batch in chunks (PostgreSQL), one larger than WRITE_CHUNK
        # goes so: the database inserts a chunk while the next one is stored and linked here.
        self._chunked: ChunkedEventWriter | None = (
            cast(ChunkedEventWriter, recorder)
            if callable(getattr(recorder, "insert_chunks", None)) else None)
        # Per-agent data keys when the store encrypts (set by the composition root).
        self.data_keys: DataKeys | None = None
        # The scope in which one command's statements share one pooled connection, checked
        # once (set by the composition root: infrastructure.persistence.connection_pin).
        self.one_connection = ConnectionScope()

    def use_parts(self, parts: PartStore) -> PartContent:
        """Keep snapshots' and restores' contents as parts of `parts` from now on (the store's
        one part store, application.part_port), compressed and encrypted as events are; and
        read back those kept so. A store not given one writes whole snapshots and copies."""
        mapper: Any = self.mapper
        if not hasattr(mapper, "resolver"):
            raise TypeError("contents kept as parts need the store's mapper "
                            "(MAPPER_TOPIC: infrastructure.persistence.mapper's)")
        cache = PartCache(self.part_cache_bytes) if self.part_cache_bytes > 0 else None
        self.part_content = PartContent(parts, self.packages, self._encode_part,
                                        self._decode_part, cache)
        mapper.resolver = self.part_content.resolved
        return self.part_content

    # Parts are shared by forks within a tenant: under the store key, never an agent's data
    # key (application.data_key_port), which a forget of the source would shred.
    def _encode_part(self, raw: bytes) -> bytes:
        mapper, cipher = self.mapper, self.cipher
        data = mapper.compressor.compress(raw) if mapper.compressor else raw
        return cipher.encrypt(data) if cipher else data

    def _decode_part(self, stored: bytes) -> bytes:
        mapper, cipher = self.mapper, self.cipher
        data = cipher.decrypt(stored) if cipher else stored
        return mapper.compressor.decompress(data) if mapper.compressor else data

    def construct_mapper(self) -> Mapper[UUID]:
        mapper = super().construct_mapper()
        if self._compressor is not None:
            mapper.compressor = self._compressor
        return mapper

    # Tenants ---------------------------------------------------------------------------------
    def key_for(self, tenant: str, agent_id: str) -> str:
        """The key of this tenant's agent: `agent_key(tenant, agent_id)`, except for an agent
        the tenant wrote before agents had namespaces, which kept its agent id as its key (and
        its aggregate id) and is found by it in the agent catalogue with this tenant's name."""
        check_agent_id(agent_id)
        if tenant == LOCAL_TENANT:
            return agent_id
        key = self._keys.get((tenant, agent_id))
        if key is None:
            key = agent_key(tenant, agent_id)
            owners = self._owners_of({key, agent_id})
            if owners[key] is None and owners[agent_id] == tenant:
                key = agent_id
            # New agents of other tenants always get namespaced keys, so this never changes.
            key = self._keys.setdefault((tenant, agent_id), key)
        return key

    def owner(self, key: str) -> str | None:
        """The tenant of an agent (by its key), or None when it has never been written."""
        return self._owner(key)

    def tenant_of(self, key: str) -> str:
        """The tenant of an agent: its owner, else the one its key names (not written yet)."""
        return (self._owner(key) if key else None) or named_tenant(key)

    # Forgetting ------------------------------------------------------------------------------
    def erase(self, plan: ErasePlan) -> Erased:
        """Erase one agent's rows and write its tombstone (application.forget), and forget
        what this process holds of it."""
        key = plan.tombstone.agent_key
        with self._write_lock:
            try:
                return self.eraser.erase_agent(plan)
            finally:
                self._forget_owners([key])
                self._evict(plan.originator_id)
                if self.data_keys is not None:
                    self.data_keys.forget(plan.originator_id)
                self._chain_heads.pop(plan.originator_id, None)

    def prepare_data_key(self, key: str) -> None:
        """Before the store writes rows of an agent other than its events (an imported
        checkpoint, maybe before the agent's first event): its data key, made now if the agent
        is new, so those rows are under the key its later rows will be."""
        if self.data_keys is not None:
            oid = aggregate_id(key)
            written = self._owner(key) is not None
            self.data_keys.prepare(new=[] if written else [oid], existing=[oid] if written else [])

    def reclaim(self) -> None:
        """Make the database give up the bytes erasures freed (AgentEraser.reclaim)."""
        self.eraser.reclaim()

    def tombstone(self, tenant: str, key: str) -> Tombstone | None:
        """The tombstone of this tenant's agent, when it was forgotten."""
        return self.eraser.tombstones(tenant, [key]).get(key)

    def rows_and_tombstones(self, tenant: str, keys: Sequence[str]
                            ) -> tuple[dict[str, AgentSummary | None], dict[str, Tombstone]]:
        """The catalogue rows of these agents by key (None: none) and the tenant's tombstones
        of those without one: what a restore command checks, in one question where the
        recorder asks it so (PostgreSQL: a fork command's round trip fewer)."""
        rows, stones, _ = self.rows_tombstones_and_point(tenant, keys, None)
        return rows, stones

    def rows_tombstones_and_point(self, tenant: str, keys: Sequence[str],
                                  point: tuple[str, int] | None
                                  ) -> tuple[dict[str, AgentSummary | None],
                                             dict[str, Tombstone], PointRows | None]:
        """`rows_and_tombstones`, and `point_rows(*point)` (None: not asked) with them: one
        round trip where the recorder pipelines them (PostgreSQL), for a restore at a version:
        the source's rows are read before it is known that the caller may read them, and
        dropped unused when it may not."""
        both = getattr(self.index, "agents_tombstones_and_point", None)
        wanted = point if self.snapshots is not None else None
        if both is not None:
            rows, stones, read = both(tenant, keys, None if wanted is None else (
                aggregate_id(wanted[0]), wanted[1]))
        else:
            rows = self.index.agents_of(keys)
            missing = [k for k in dict.fromkeys(keys) if k not in rows]
            stones = self.eraser.tombstones(tenant, missing) if missing else {}
            read = self.point_rows(*wanted) if wanted is not None else None
        return {k: rows.get(k) for k in keys}, stones, read

    def _forget_owners(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._owners.pop(key, None)

    def _forgotten(self, envelopes: Sequence[AnyEnvelope], keys: dict[str, str],
                   owners: dict[str, str | None], tenant: str) -> dict[str, EventOutcome]:
        """The envelopes refused because their agent, or their event id, was forgotten.

        Asked only for agents without a catalogue entry (a forgotten agent has none): one for
        an existing agent cannot be a forgotten one's, and its event ids were never a
        forgotten agent's unless a client reused one (a database trigger stops a writer whose
        cache still held a forgotten agent: its retry lands here with the owner dropped)."""
        new = {k for k in keys.values() if owners[k] is None}
        if not new:
            return {}
        forgotten = self.eraser.forgotten(tenant, new)
        stones = forgotten.tombstones
        fresh = [e for e in envelopes if keys[e.agent_id] in new]
        # Digests only where the tenant ever forgot an event id (1.6 µs an event of a new
        # agent, and a statement a batch, otherwise).
        digests = ({self.event_id_digest(tenant, e.event_id): e for e in fresh}
                   if forgotten.event_ids else {})
        reused = self.eraser.forgotten_event_ids(tenant, digests) if digests else set()
        refused: dict[str, EventOutcome] = {}
        for envelope in fresh:
            stone = stones.get(keys[envelope.agent_id])
            if stone is not None:
                refused[envelope.event_id] = EventOutcome(
                    envelope.event_id, envelope.agent_id, "rejected", field="agent_id",
                    reason=str(stone.error()), forgotten=True)
        for digest in reused:
            envelope = digests[digest]
            refused.setdefault(envelope.event_id, EventOutcome(
                envelope.event_id, envelope.agent_id, "rejected", field="event_id",
                reason="this event id was an event of a forgotten agent: it is refused",
                forgotten=True))
        return refused

    # Writing ---------------------------------------------------------------------------------
    def record(self, envelopes: Sequence[AnyEnvelope], *, tenant: str = LOCAL_TENANT
               ) -> RecordResult:
        """Record a batch of validated envelopes, of one or many agents of one tenant, in one
        transaction. Envelopes name agents by agent id; results too."""
        if not envelopes:
            return RecordResult()
        with self._write_lock, self.one_connection.scope():
            try:
                # Agents all in memory or new: first without asking which event ids are
                # known. They nearly never are, and the question is a statement of its own. A
                # known one fails the commit on the event-id index, and the batch is done again
                # at once, asking (which then reads back only agents that get a new event).
                return self._record_fresh(envelopes, tenant, ask_known=False)
            except IntegrityError:
                pass
            return retry_on_conflict(
                lambda: self._record_fresh(envelopes, tenant, retry=True),
                f"gave up after {MAX_WRITE_ATTEMPTS} attempts: other writers kept changing "
                "the same agents")

    def _record_fresh(self, envelopes: Sequence[AnyEnvelope], tenant: str,
                      ask_known: bool = True, retry: bool = False) -> RecordResult:
        agents: dict[str, AgentContext] = {}
        try:
            return self._record_once(envelopes, tenant, agents, ask_known, retry)
        except BaseException:
            # E.g. another writer got there first: forget what we hold, so a retry reads anew.
            for agent in agents.values():
                self._evict(agent.id)
            raise

    def _record_once(
        self, envelopes: Sequence[AnyEnvelope], tenant: str, agents: dict[str, AgentContext],
        ask_known: bool = True, retry: bool = False,
    ) -> RecordResult:
        # Once per agent, not per event: a batch from ingest holds many events of few agents.
        keys = {a: self.key_for(tenant, a) for a in {e.agent_id for e in envelopes}}
        if retry:  # the conflict may be a forgotten agent this process still held
            self._forget_owners(keys.values())
        tenants = self._owners_of(set(keys.values()))  # one query, not one each
        if not ask_known:
            # Asked when an agent written before is not held (after a restart, a redelivery
            # is likely); not for new agents, whose event ids are new unless a client reused
            # one, which the commit refuses and the retry asks about.
            cache = self.agent_cache
            ask_known = cache is None or any(
                tenants[k] is not None and aggregate_id(k) not in cache for k in keys.values())
        known = (self.index.known_event_ids((e.event_id for e in envelopes), tenant)
                 if ask_known else {})
        seen: set[str] = set()
        outcomes: list[EventOutcome] = []
        snapshots: list[tuple[UUID, StoredEvent]] = []
        pending_snapshots: dict[UUID, SnapshotMark] = {}
        policy = self.snapshot_policy
        due_at: dict[UUID, int] = {}  # each agent's next snapshot version (policy.first_due)
        owners: dict[str, str] = {}
        chained = self._chained_batch(owners)
        forgotten = self._forgotten(envelopes, keys, tenants, tenant)
        if self.data_keys is not None:
            written = {keys[e.agent_id] for e in envelopes
                       if e.event_id not in known and e.event_id not in forgotten}
            self.data_keys.prepare(
                new=[aggregate_id(k) for k in written if tenants[k] is None],
                existing=[aggregate_id(k) for k in written if tenants[k] == tenant])
        # Read back, together, the existing agents of this tenant that get a new event.
        loaded = self._load_for_write(list({keys[e.agent_id] for e in envelopes
                                            if e.event_id not in known
                                            and tenants[keys[e.agent_id]] == tenant}))
        now = datetime.now(UTC)
        for envelope in envelopes:
            if envelope.event_id in known or envelope.event_id in seen:
                where = known.get(envelope.event_id)
                outcomes.append(EventOutcome(envelope.event_id, envelope.agent_id, "duplicate",
                                             version=where[1] if where else None))
                continue
            key = keys[envelope.agent_id]
            refused = forgotten.get(envelope.event_id)
            if refused is not None:
                outcomes.append(refused)
                continue
            agent = agents.get(key)
            if agent is None:
                # Keys of other tenants are namespaced, but a local agent id is also the key
                # an agent written with API keys before namespaces kept: never write into it.
                owner = tenants[key]
                if owner is not None and owner != tenant:
                    outcomes.append(EventOutcome(
                        envelope.event_id, envelope.agent_id, "rejected", field="agent_id",
                        reason=f"agent {envelope.agent_id!r} belongs to another tenant"))
                    continue
                owners[key] = owner or tenant
                agent = agents[key] = loaded.get(key) or AgentContext.start(key)
            timestamp = agent.next_timestamp(envelope.occurred_at or now)
            try:
                agent.record(event_id=envelope.event_id, type=envelope.type,
                             data=envelope.data_dict(), timestamp=timestamp,
                             session_id=envelope.session_id)
            except EventNotApplicable as e:
                outcomes.append(EventOutcome(envelope.event_id, envelope.agent_id, "rejected",
                                             field=e.field, reason=str(e)))
                continue
            seen.add(envelope.event_id)
            outcomes.append(EventOutcome.recorded(envelope.event_id, envelope.agent_id,
                                                  agent.version))
            due = due_at.get(agent.id)
            if due is None:
                due = due_at[agent.id] = policy.first_due(agent.id, agent.version,
                                                          pending_snapshots)
            if agent.version >= due:
                snapshot = self._snapshot_now(agent, chained.link_now(agent), owners[key])
                snapshots.append((agent.id, snapshot))
                pending_snapshots[agent.id] = SnapshotMark(agent.version, len(snapshot.state))
                due_at[agent.id] = policy.first_due(agent.id, agent.version + 1,
                                                    pending_snapshots)
        self._commit(list(agents.values()), snapshots, chained)
        # Set by an agent's first write, for good (as in append): its next write asks no one.
        # Not for an agent all of whose events were refused: it was not written.
        self._owners.put_all({a.agent_id: owners[a.agent_id] for a in agents.values()
                             if a.version})
        versions = {plain_agent_id(a.agent_id): a.version for a in agents.values()}
        return RecordResult(outcomes=outcomes, versions=versions)

    def append(self, agent: AgentContext, *, tenant: str = LOCAL_TENANT,
               package_rows: Sequence[PackageRow] = (),
               pruned_package_ids: Sequence[str] = (),
               handed: HandedContent | None = None,
               row: AgentSummary | None | Unread = UNREAD) -> None:
        """Commit the pending store-made events (restore, checkpoint) of an agent.

        A checkpoint's package rows and the ids retention deletes commit in the same
        transaction as the events that announce them. IntegrityError when another writer
        changed the agent first (see application.retry). `handed`: a restore by reference's
        content (the shell's), handed over by its maker, which the restored agent is then
        cached with. `row`: the agent's catalogue row as the caller read it for this write
        (None: it had none), so its tenant is not asked again; were it created or forgotten
        since, the commit fails as any write after another's does.
        """
        with self._write_lock:
            try:
                known_owner = (self._owner(agent.agent_id) if row is UNREAD
                               else self._owners.get(agent.agent_id)
                               or (row.tenant if row is not None else None))
                owner = known_owner or tenant
                if self.data_keys is not None:
                    self.data_keys.prepare(new=[agent.id] if known_owner is None else [],
                                           existing=[agent.id] if known_owner else [])
                chained = self._chained_batch({agent.agent_id: owner})
                snapshots = []
                # A shell (a restore by reference) has no content to snapshot.
                if agent.pending_events and not agent.is_shell \
                        and self.snapshot_policy.due(agent.id, agent.version):
                    snapshots.append((agent.id, self._snapshot_now(
                        agent, chained.link_now(agent), owner)))
                self._commit([agent], snapshots, chained,
                             package_rows=package_rows, pruned_package_ids=pruned_package_ids,
                             handed=handed)
                if known_owner is None:
                    self._owners[agent.agent_id] = owner  # set by this first write, for good
            except IntegrityError:
                self._evict(agent.id)
                # Another writer got there first, or the agent was forgotten meanwhile (the
                # catalogue's trigger): the latter is final, not worth a retry.
                self._forget_owners([agent.agent_id])
                stone = self.eraser.tombstones(owner, [agent.agent_id]).get(agent.agent_id)
                if stone is not None:
                    raise stone.error() from None
                raise
            except BaseException:
                self._evict(agent.id)
                raise

    def _commit(
        self,
        agents: list[AgentContext],
        snapshots: list[tuple[UUID, StoredEvent]],
        chained: ChainedBatch,
        *,
        package_rows: Sequence[PackageRow] = (),
        pruned_package_ids: Sequence[str] = (),
        handed: HandedContent | None = None,
    ) -> None:
        batches = [(agent, events) for agent in agents if (events := agent.collect_events())]
        if not batches:
            return
        owners = chained.owners

        def agent_rows(heads: dict[UUID, tuple[int, bytes]]) -> list[AgentRow]:
            return [AgentRow(a.agent_id, a.id, a.version, to_us(a.created_on),
                             to_us(a.modified_on), owners[a.agent_id],
                             heads[a.id][1] if a.id in heads else None)
                    for a in agents]

        count = sum(len(events) for _, events in batches)
        if self._chunked is not None and count > WRITE_CHUNK and not package_rows \
                and not pruned_package_ids:
            self._chunked.insert_chunks(chained.chunks(batches, WRITE_CHUNK),
                                        lambda: agent_rows(chained.heads))
            heads, sizes = chained.heads, chained.sizes
        else:
            stored, index_rows, heads, sizes = chained.finish(batches)
            self._writer.insert_events(stored, index_rows=index_rows,
                                       agent_rows=agent_rows(heads), package_rows=package_rows,
                                       pruned_package_ids=pruned_package_ids)
        if self.agent_cache is not None:
            self._cache_committed(batches, sizes, handed)
        self._remember_heads(heads)
        self.snapshot_policy.recorded(count, sum(sizes.values()))
        if snapshots and self.snapshots is not None:
            # Snapshots are derived data: the events are committed, so a failure here costs
            # read speed only and must not make the caller think the batch failed.
            try:
                self.snapshots.recorder.insert_events([s for _, s in snapshots])
            except Exception as e:  # noqa: BLE001
                log.warning("snapshots not stored (reads replay more events): %s", e)
            else:
                for originator_id, snapshot in snapshots:
                    self.snapshot_policy.taken(originator_id, snapshot.originator_version,
                                               len(snapshot.state))

    def _links_before(self, firsts: list[tuple[UUID, int]]) -> dict[UUID, bytes]:
        """The chain link before each agent's first new version: remembered from its last
        write, else read (all of a batch's in one query)."""
        previous: dict[UUID, bytes] = {}
        missing: dict[UUID, int] = {}
        for originator_id, first in firsts:
            held = self._chain_heads.get(originator_id)
            if first == 1:
                previous[originator_id] = GENESIS
            elif held is not None and held[0] == first - 1:
                previous[originator_id] = held[1]
            else:
                missing[originator_id] = first - 1
        if missing:
            found = self.chain_index.chain_links(missing)
            # None found: a chain already broken behind the store's back; `verify` names it.
            previous.update({i: found.get(i, GENESIS) for i in missing})
        return previous

    def chain_link(self, originator_id: UUID, version: int) -> str | None:
        """The hex link of an agent's version (None: none stored, a chain broken behind the
        store's back): what a checkpoint of that version commits to."""
        held = self._chain_heads.get(originator_id)
        if version == 0:
            link: bytes | None = GENESIS
        elif held is not None and held[0] == version:
            link = held[1]
        else:
            link = self.chain_index.chain_links({originator_id: version}).get(originator_id)
        return link.hex() if link is not None else None

    def _remember_heads(self, heads: dict[UUID, tuple[int, bytes]]) -> None:
        self._chain_heads.put_all(heads)  # the least recently written go first

    def _cache_committed(self, batches: list[tuple[AgentContext, Sequence[Any]]],
                         sizes: dict[UUID, int], handed: HandedContent | None) -> None:
        """Grow each committed agent's cache entry by the stored bytes of its new events."""
        assert self.agent_cache is not None
        for agent, events in batches:
            size = sizes[agent.id]
            if agent.is_shell:
                self._cache_restored(agent, events, size, handed)
                continue
            self.agent_cache.grow(agent.id, agent, size, len(events))

    def _cache_restored(self, shell: AgentContext, events: Sequence[Any], size: int,
                        handed: HandedContent | None) -> None:
        """A restore by reference appended to a shell (no content): when its maker handed
        its content over, fold the restore onto the agent the cache held just before it
        (none: a new agent), so the target's next write or read neither folds its snapshot
        and events nor reads its parts (a LangGraph fork writes at once after its rewind).

        It is counted as its source is cached, plus its event (`size`), not as its event's
        few bytes: the content is the source's at some version, folded from no more stored
        bytes than the source's latest. Without the content, the cache's previous version of
        the target or the source's size, the entry is dropped: the next reader folds it."""
        assert self.agent_cache is not None
        cache, before = self.agent_cache, shell.version - len(events)
        base = cache.get(shell.id) if before else None
        held = cache.size_of(handed.source) if handed is not None else None
        if handed is None or held is None or (
                before and (base is None or base.version != before)):
            cache.evict(shell.id)
            return
        try:
            # Folds onto the cached object itself: a failure leaves it half-folded.
            agent = project(base, (e.resolved(handed.content, handed.hashes)
                                   if isinstance(e, AgentContext.ContextRestored) else e
                                   for e in events))
        except Exception as e:  # noqa: BLE001 - committed already: the next reader folds it
            log.debug("restored agent %s not cached: %s", shell.id, e)
            cache.evict(shell.id)
            return
        cache.put(shell.id, agent, held + size)

    def _chained_batch(self, owners: dict[str, str]) -> ChainedBatch:
        return ChainedBatch(self.mapper.to_stored_event, self.chain, self._links_before, owners)

    def _snapshot_now(self, agent: AgentContext, link: bytes, tenant: str) -> StoredEvent:
        # Serialise at once: the agent keeps changing after this point in the batch.
        ref = None
        if self.part_content is not None:
            try:
                # Only the parts the store lacks are written; the snapshot holds their root.
                ref = self.part_content.keep(tenant, agent.id, agent.content,
                                             agent.part_hashes).ref
            except Exception as e:  # noqa: BLE001 - derived data: a whole snapshot instead
                log.warning("snapshot parts not stored (the snapshot holds the content): %s", e)
        snapshot = agent.take_snapshot(chain_head=link.hex(), content_ref=ref)
        return self.mapper.to_stored_event(snapshot)

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshots are taken inside record(), as the SnapshotPolicy says."""

    def _owner(self, agent_id: str) -> str | None:
        # An agent's tenant is set by its first write and never changes: remember it.
        owner = self._owners.get(agent_id)
        if owner is None:
            summary = self.index.agent(agent_id)
            if summary is not None:
                owner = self._owners[agent_id] = summary.tenant
        return owner

    def _owners_of(self, agent_ids: set[str]) -> dict[str, str | None]:
        """The tenant of each agent (None: never written), remembered or in one query."""
        found = self._owners.get_all(agent_ids)
        missing = [a for a, owner in found.items() if owner is None]
        if missing:
            fetched = self.index.owners(missing)
            self._owners.put_all(fetched)
            found.update(fetched)
        return found

    def _load_for_write(self, agent_ids: Sequence[str]) -> dict[str, AgentContext]:
        """The latest state of agents about to be written: cached, or all read in one query
        (and cached with the stored bytes they were folded from).

        No fast-forward query for cached ones: a stale copy fails the commit with
        IntegrityError, which evicts it, and record() retries from fresh state.
        """
        found: dict[str, AgentContext] = {}
        missing: dict[UUID, str] = {}
        cache = self.agent_cache
        for agent_id in agent_ids:
            originator_id = aggregate_id(agent_id)
            cached = cache.get(originator_id) if cache is not None else None
            if cached is not None:
                found[agent_id] = cast(AgentContext, cached)
            else:
                missing[originator_id] = agent_id
        if missing:
            for originator_id, (agent, size) in self.fold_heads(list(missing)).items():
                found[missing[originator_id]] = agent
                if cache is not None:
                    cache.put(originator_id, agent, size)
        return found

    def _evict(self, originator_id: UUID) -> None:
        if self.agent_cache is not None:
            self.agent_cache.evict(originator_id)
