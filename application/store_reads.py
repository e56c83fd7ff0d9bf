"""Reading a store: an agent at any point, its history, its stored bytes (DESIGN §2).

The read half of ContextStore (application.store), kept apart so each file holds one concern;
it is the only code besides the write half that touches the eventsourcing repository, event
store, snapshots and mapper.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from copy import deepcopy
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Cipher, Compressor, Notification, StoredEvent

from ctxstore.application.agent_cache import AgentCache
from ctxstore.application.chain import Commitment
from ctxstore.application.connection_scope import ConnectionScope
from ctxstore.application.errors import (
    AgentNotFound,
    CorruptedSnapshot,
    InvalidRequest,
    PointNotFound,
)
from ctxstore.application.part_content import PartContent
from ctxstore.application.part_port import PartMissing
from ctxstore.application.ports import AgentSummary, ContextIndex, PointRows
from ctxstore.application.results import HistoryItem
from ctxstore.domain.agent_id import aggregate_id, plain_agent_id
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.bounds import OutOfBounds, check_version
from ctxstore.domain.clock import from_us, to_us
from ctxstore.domain.content_tree import InPart, NotRead, unread_in
from ctxstore.domain.pages import PAGE
from ctxstore.domain.state import own_containers
from ctxstore.domain.window import WindowIndex, tail_window

log = logging.getLogger(__name__)

# A held agent's window walks its whole history below this many messages and tool calls (a
# few milliseconds), and keeps an index of it from there on, for this many agents at most.
WINDOW_INDEX_FROM = 2_000
WINDOW_INDEXES = 16
# A window of a past version reads only its lists' last pages once they hold this many items.
WINDOW_IN_PART_FROM = 64 * PAGE


def window_in_part(tail: int) -> InPart:
    """How a window of `tail` messages reads a snapshot: the pages its last `tail` messages,
    tool calls and reasoning steps can be on, and one more (where the calls its messages name
    nearly always are); the pages of the open calls the snapshot knows of; the links, which a
    window holds whole, whole."""
    return InPart(pages=-(-tail // PAGE) + 1, from_items=WINDOW_IN_PART_FROM,
                  whole=frozenset({"memory_links"}), open_calls=True, needs_open_calls=True)
T = TypeVar("T")


def valid_version(value: int | None, field: str) -> None:
    """A version argument within 0..INT64_MAX, else InvalidRequest naming `field`: the bound
    every door (HTTP, WebSocket, NATS, CLI) meets here before a database driver could fail on
    it with an OverflowError."""
    if value is not None:
        try:
            check_version(value, field)
        except OutOfBounds as e:
            raise InvalidRequest(str(e)) from None


class ContentHashes:
    """The content hash of each (agent key, version) read lately: a version's content never
    changes (history is append-only, a restore is a new version), so a read of a version
    already read does not hash its whole content again (issue 16 item 4). Bounded LRU of
    short strings: MAX entries take a few MB."""

    MAX = 50_000

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, key: str, version: int) -> str | None:
        with self._lock:
            found = self._items.get((key, version))
            if found is not None:
                self._items.move_to_end((key, version))
            return found

    def put(self, key: str, version: int, digest: str) -> None:
        with self._lock:
            self._items[(key, version)] = digest
            while len(self._items) > self.MAX:
                self._items.popitem(last=False)


def project(agent: Any, events: Any) -> Any:
    """Apply events in turn: eventsourcing's project_aggregate without its per-event
    ``isinstance`` against a runtime-checkable Protocol, which cost more than the fold."""
    for event in events:
        agent = event.mutate(agent)
    return agent


class StoreReads(Application[UUID]):
    """What every reader of agents needs; ContextStore adds the writes."""

    index: ContextIndex
    _write_lock: AbstractContextManager[Any]
    agent_cache: AgentCache | None = None
    one_connection: ConnectionScope  # the scope of a read's statements (connection_scope)
    # Contents kept as parts (application.part_content): set by ContextStore.use_parts.
    part_content: PartContent | None = None

    @cached_property
    def window_indexes(self) -> dict[UUID, tuple[weakref.ref[AgentContext], WindowIndex]]:
        """The window rule's index of held agents with long histories (domain.window), each
        beside a weak reference to the agent it indexes (used under the write lock)."""
        return {}

    def _window_index(self, originator_id: UUID, agent: AgentContext) -> WindowIndex:
        """The index of this held agent: made for it, kept while it is held. An index holds
        the agent's lists, so one whose agent left the cache goes at the next window read,
        and at most WINDOW_INDEXES are kept (the least recently used go)."""
        indexes = self.window_indexes
        for gone in [k for k, (ref, _) in indexes.items() if ref() is None]:
            del indexes[gone]
        entry = indexes.pop(originator_id, None)
        if entry is None or entry[0]() is not agent:
            entry = (weakref.ref(agent), WindowIndex())
        indexes[originator_id] = entry  # the most recent last
        while len(indexes) > WINDOW_INDEXES:
            del indexes[next(iter(indexes))]
        return entry[1]

    @cached_property
    def content_hashes(self) -> ContentHashes:
        return ContentHashes()

    # Reading ---------------------------------------------------------------------------------
    def agent_at(self, agent_id: str, version: int | None = None) -> AgentContext:
        """The agent at a version (None: now); version 0 is the empty context."""
        valid_version(version, "version")
        originator_id = aggregate_id(agent_id)
        if version == 0:
            return AgentContext.start(agent_id)
        if version is None:
            with self._write_lock:
                agent = self._latest(originator_id)
            if agent is None:
                raise AgentNotFound(plain_agent_id(agent_id))
            return agent
        return self._agent_at(agent_id, version)

    def _agent_at(self, agent_id: str, version: int, tail: InPart | None = None
                  ) -> AgentContext:
        """The agent at a version from its latest snapshot there (`tail`: read in part,
        domain.content_tree; NotRead when an event after the snapshot looks at an item not
        read) and the events after it."""
        rows = self.point_rows(agent_id, version)
        snapshot = self.snapshot_at(agent_id, version, tail, rows)
        base, after = (snapshot, snapshot.version) if snapshot is not None else (None, 0)
        agent, _ = self.replay(agent_id, base, after=after, upto=version, tail=tail, rows=rows)
        if agent is None:
            raise PointNotFound(f"agent {plain_agent_id(agent_id)!r} has no version {version}")
        if agent.version != version:
            latest = agent.version
            raise PointNotFound(
                f"agent {plain_agent_id(agent_id)!r} has no version {version} (latest is {latest})"
            )
        return agent

    def _latest(self, originator_id: UUID) -> AgentContext | None:
        """The agent now, for a caller that may change it (a copy)."""
        agent = self._current(originator_id)
        return None if agent is None else deepcopy(agent)

    def with_latest(self, agent_id: str, use: Callable[[AgentContext], T],
                    version: int | None = None) -> T | None:
        """`use(agent)` on the agent now as this store holds it folded, not a copy (None: no
        such agent): `use` must not change it, and runs under the write lock so no writer of
        this process changes it meanwhile. What a fork of the latest version reads: the
        cached agent already knows its parts' addresses, so nothing is decoded or copied.
        `version`: the latest the caller just read in the catalogue; a cached agent there is
        taken as it is, without asking for events after it."""
        with self._write_lock:
            agent = self._current(aggregate_id(agent_id), version)
            return None if agent is None else use(agent)

    def _current(self, originator_id: UUID, known: int | None = None) -> AgentContext | None:
        """The agent now (the caller holds the write lock): from the cache brought up to date
        with the events recorded since (by any process), else folded from its latest snapshot
        and the events after it, and cached with their stored bytes. `known`: a version the
        caller read as the latest; a cached agent at it is not brought up to date."""
        cache = self.agent_cache
        agent = cache.get(originator_id) if cache is not None else None
        if agent is None:
            agent, size = self.fold_heads([originator_id]).get(originator_id, (None, 0))
            if agent is None:
                return None
            if cache is not None:
                cache.put(originator_id, agent, size)
        elif agent.version != known:
            assert cache is not None
            newer = self.recorder.select_events(originator_id, gt=agent.version)
            if newer:
                try:
                    # Folds onto the cached object itself: a failure leaves it half-folded.
                    agent = project(agent, map(self.mapper.to_domain_event, newer))
                except BaseException:
                    cache.evict(originator_id)
                    raise
                cache.grow(originator_id, agent, sum(len(s.state) for s in newer), len(newer))
        return agent

    def fold_heads(self, originator_ids: Sequence[UUID]) -> dict[UUID, tuple[AgentContext, int]]:
        """Each of these agents that exists, folded from its latest snapshot and the events
        after it (all read in one query), with the stored bytes it was folded from."""
        to_domain_event = self.mapper.to_domain_event
        keeper = self.part_content

        def decode(stored: StoredEvent) -> Any:
            event = to_domain_event(stored)
            return keeper.resolve_snapshot(event) if keeper is not None else event

        found: dict[UUID, tuple[AgentContext, int]] = {}
        for originator_id, stored in self.index.heads(list(originator_ids)).items():
            try:
                agent = project(None, map(decode, stored))
            except PartMissing as e:
                # A snapshot is derived data: without its parts the agent is folded from its
                # events (slower, but it stays readable and writable).
                log.warning("snapshot of %s not read, folding its events: %s", originator_id, e)
                stored = list(self.recorder.select_events(originator_id))
                agent = project(None, map(to_domain_event, stored))
            if agent is not None:
                found[originator_id] = (agent, sum(len(s.state) for s in stored))
        return found

    def point_rows(self, agent_id: str, version: int) -> PointRows | None:
        """The rows a read at `version` needs, asked at once where the index can (its latest
        snapshot there, that snapshot's chain link and the events after it): for
        `snapshot_at` and `replay`. None: they ask apart."""
        if self.snapshots is None:
            return None
        return self.index.point_rows(aggregate_id(agent_id), version)

    def snapshot_at(self, agent_id: str, version: int, tail: InPart | None = None,
                    rows: PointRows | None = None) -> AgentContext | None:
        """The agent as its latest snapshot at or before `version` holds it (None: no
        snapshot; `tail`: a content kept as parts read in part, domain.content_tree; `rows`:
        `point_rows(agent_id, version)`, read already). Raises CorruptedSnapshot when that
        snapshot's bytes cannot be read."""
        if self.snapshots is None:
            return None
        if rows is not None and rows.upto == version:
            stored: Sequence[StoredEvent] = [rows.snapshot] if rows.snapshot else []
        else:
            rows = None
            stored = self.snapshots.recorder.select_events(aggregate_id(agent_id), lte=version,
                                                           desc=True, limit=1)
        if not stored:
            return None
        where = f"snapshot of {agent_id!r} at version {stored[0].originator_version}"
        try:
            snapshot = self.mapper.to_domain_event(stored[0])
            if self.part_content is not None:
                snapshot = self.part_content.resolve_snapshot(snapshot, tail)
            agent = snapshot.mutate(None)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - unreadable bytes mean a damaged snapshot
            raise CorruptedSnapshot(f"{where} cannot be read ({type(e).__name__}: {e})") from e
        # One indexed lookup (none when this process wrote that version last): a snapshot
        # built from a history the chain no longer holds is not read from.
        head = getattr(snapshot, "chain_head", None)
        if head is not None and head != (self.chain_link(agent.id, agent.version)
                                         if rows is None else rows.link_hex):
            raise CorruptedSnapshot(
                f"{where} was built from another history (its chain head is not the chain's "
                "link at that version; run ctxstore verify)")
        return cast(AgentContext, agent)

    def chain_link(self, originator_id: UUID, version: int) -> str | None:
        """The hex link of an agent's version in its hash chain (application.store)."""
        raise NotImplementedError

    def snapshot_commitments(self, agent_id: str, page: int = 20) -> Iterator[Commitment]:
        """The chain head each stored snapshot of an agent (by key) committed to (`ctxstore
        verify`), a page of snapshots in memory at a time."""
        if self.snapshots is None:
            return
        originator_id, after = aggregate_id(agent_id), 0
        while True:
            stored = self.snapshots.recorder.select_events(originator_id, gt=after, limit=page)
            for s in stored:
                try:
                    head = getattr(self.mapper.to_domain_event(s), "chain_head", None)
                except Exception:  # noqa: BLE001 - encrypted without the key, or damaged
                    yield Commitment("snapshot", "", s.originator_version, None, readable=False)
                    continue
                yield Commitment("snapshot", "", s.originator_version, head)
            if len(stored) < page:
                return
            after = stored[-1].originator_version

    def replay(self, agent_id: str, base: AgentContext | None, *, after: int = 0,
               upto: int | None = None, tail: InPart | None = None,
               rows: PointRows | None = None) -> tuple[AgentContext | None, int]:
        """The one way a past state is rebuilt: fold the agent's events after version `after`
        (up to `upto`) onto `base` (a snapshot's or a checkpoint's state, or None: from the
        start); returns the agent and how many events were folded. `tail`: a restore's
        content kept as parts is read in part (PartContent.restores_in_part; NotRead when an
        event after it looks at an item not read). `rows`: `point_rows` read already, used
        when they hold those events."""
        keeper = self.part_content
        with (keeper.restores_in_part(tail) if tail is not None and keeper is not None
              else nullcontext()):
            if rows is not None and rows.upto == upto and rows.after <= after:
                to_event = self.events.mapper.to_domain_event
                events: Iterable[Any] = (to_event(s) for s in rows.events
                                         if s.originator_version > after)
            else:
                events = self.events.get(aggregate_id(agent_id), gt=after, lte=upto)
            agent, count = base, 0
            for event in events:
                agent = event.mutate(agent)  # type: ignore[attr-defined]
                count += 1
        return agent, count

    def version_at(self, agent_id: str, at: datetime) -> int:
        """The agent's version at a time: after the last event recorded at or before it."""
        return self.index.version_at(aggregate_id(agent_id), to_us(at))

    def context(self, agent_id: str, *, version: int | None = None,
                at: datetime | None = None, tail: int | None = None) -> dict[str, Any]:
        """The state of DESIGN §2 now, at a version, or at a time; with `tail`, its window
        (domain.window). Its items may be the held agent's own (see `_held`): encode or show
        it, or copy it (domain.state.copy_content) before changing an item."""
        if version is not None and at is not None:
            raise PointNotFound("give a version or a time, not both")
        with self.one_connection.scope():
            return self._context(agent_id, version, at, tail)

    def _context(self, agent_id: str, version: int | None, at: datetime | None,
                 tail: int | None) -> dict[str, Any]:
        if at is not None:
            if self.index.agent(agent_id) is None:
                raise AgentNotFound(plain_agent_id(agent_id))
            version = self.version_at(agent_id, at)
        if version != 0:
            held = self._held(agent_id, version, tail)
            if held is not None:
                return held
            if tail is not None:
                # Not held (this process's first read of it, another process's agent): the
                # latest version's window too is read in part, not by folding the whole
                # content to hold it (at 100k real-trace events ~10 ms against ~500). The
                # doors locate a version first (application.commands.read); the store's own
                # callers may not.
                point = version if version is not None else self._latest_version(agent_id)
                if point is not None:
                    window = self._window_in_part(agent_id, point, tail)
                    if window is not None:
                        return window
        agent = self.agent_at(agent_id, version)
        state = self._state(agent_id, agent)
        return state if tail is None else tail_window(state, tail, agent.open_calls())

    def _latest_version(self, agent_id: str) -> int | None:
        """The agent's latest version in the catalogue, when a window of it can be read in
        part (a part store and a written agent); None otherwise (the caller's whole read then
        says what is missing)."""
        if self.part_content is None:
            return None
        summary = self.index.agent(agent_id)
        return summary.version if summary is not None and summary.version > 0 else None

    def _state(self, agent_id: str, agent: AgentContext) -> dict[str, Any]:
        known = self.content_hashes.known(agent_id, agent.version)
        state = agent.state(known)
        if known is None:
            self.content_hashes.put(agent_id, agent.version, state["content_hash"])
        return state

    def _window_in_part(self, agent_id: str, version: int, tail: int
                        ) -> dict[str, Any] | None:
        """The window of a past version read from its snapshot's last pages alone (None when
        that cannot be: no part store, a snapshot from before open calls were kept with it, or
        an item not read is needed, by an event after the snapshot or by the window rule). So
        a window of any version costs what it holds and the events after its snapshot, not
        the history before."""
        if self.part_content is None:
            return None
        valid_version(version, "version")
        try:
            agent = self._agent_at(agent_id, version, window_in_part(tail))
            state = self._state(agent_id, agent)
            window = tail_window(state, tail, agent.open_calls())
        except NotRead:
            return None
        lists = [window["messages"], window["tool_calls"], *window["reasoning"].values()]
        if any(unread_in(items) for items in lists):
            return None
        return window

    def _held(self, agent_id: str, version: int | None, tail: int | None
              ) -> dict[str, Any] | None:
        """The state (with `tail`, its window) of the agent as this store holds it folded,
        when it is at `version` (None: the latest); None when it is not held there. Neither
        its parts are read nor its bytes copied: the answer has containers of its own and
        shares their items with the agent held, which its fold never changes in place
        (domain.state.own_containers), so the answer stays as it was while the agent goes on.
        Its readers encode or show it; none changes it. A window of the latest version (what
        an agent acting reads) then costs the window and the window rule's walk; the whole
        state, its items' count (a copy of the 100k real-trace agent's window took 3.9 ms, of
        its whole state 68 ms)."""
        cache = self.agent_cache
        if cache is None:
            return None
        originator_id = aggregate_id(agent_id)
        with self._write_lock:
            agent = cache.get(originator_id)
            if agent is None or (version is not None and agent.version > version):
                return None
            if version is None or agent.version < version:
                agent = self._current(originator_id)  # brought up to date
            if agent is None or (version is not None and agent.version != version):
                return None
            state = self._state(agent_id, agent)
            if tail is None:
                view = state
            elif len(state["messages"]) + len(state["tool_calls"]) < WINDOW_INDEX_FROM:
                view = tail_window(state, tail, agent.open_calls())
            else:
                view = self._window_index(originator_id, agent).window(state, tail)
            # Containers of its own, made under the lock (the fold changes the agent's).
            return {**view, **own_containers(view), "sessions": deepcopy(view["sessions"])}

    def agents(self, tenant: str | None = None) -> list[AgentSummary]:
        return self.index.agents(tenant)

    def agents_page(self, tenant: str, after: str | None = None, limit: int = 100
                    ) -> list[AgentSummary]:
        """The tenant's agents by agent id, `limit` at most, after `after` (index.agents_page)."""
        return self.index.agents_page(tenant, after, limit)

    def summary(self, agent_id: str) -> AgentSummary | None:
        """An agent's catalogue entry by its key (None: never written)."""
        return self.index.agent(agent_id)

    def summaries(self, agent_ids: Sequence[str]) -> dict[str, AgentSummary | None]:
        """The catalogue entries of several agents by key (None: never written), asked
        together."""
        found = self.index.agents_of(agent_ids)
        return {a: found.get(a) for a in agent_ids}

    def summaries_with_point(self, agent_ids: Sequence[str], agent_id: str, version: int
                             ) -> tuple[dict[str, AgentSummary | None], PointRows | None]:
        """`summaries` and `point_rows(agent_id, version)` asked together (one round trip
        where the index pipelines them), for a caller that will read `agent_id` at `version`
        if its row says it may: the rows are read before that is known, and dropped then
        when it may not."""
        if self.snapshots is None:
            return self.summaries(agent_ids), None
        found, rows = self.index.agents_with_point(agent_ids, aggregate_id(agent_id), version)
        return {a: found.get(a) for a in agent_ids}, rows

    def timestamps(self, agent_id: str, versions: Sequence[int]) -> dict[int, datetime]:
        """When the given versions of an agent were recorded."""
        found = self.index.timestamps(aggregate_id(agent_id), versions)
        return {v: from_us(us) for v, us in found.items()}

    def history(
        self,
        agent_id: str,
        *,
        after_version: int = 0,
        limit: int = 100,
        types: Sequence[str] | None = None,
    ) -> list[HistoryItem]:
        """A page of an agent's events in order, optionally only some types."""
        wanted = set(types) if types else None
        items: list[HistoryItem] = []
        for item in self.iter_history(agent_id, after_version=after_version):
            if wanted is None or item.type in wanted:
                items.append(item)
                if len(items) >= limit:
                    break
        return items

    def iter_history(self, agent_id: str, *, after_version: int = 0,
                     upto_version: int | None = None, page: int = 500) -> Iterator[HistoryItem]:
        # A restore kept by reference shows its root as its hash: its content is not read
        # (a fork of an 89 MB context listed its one event in 250-390 ms reading it back).
        decode = getattr(self.mapper, "decoded", self.mapper.to_domain_event)
        for stored in self.stored_events(agent_id, after_version=after_version,
                                         upto_version=upto_version, page=page):
            yield HistoryItem.of(cast(AgentContext.Event, decode(stored)))

    def stored_events(self, agent_id: str, *, after_version: int = 0,
                      upto_version: int | None = None, newest_first: bool = False,
                      page: int = 500) -> Iterator[StoredEvent]:
        """An agent's stored events (undecoded: their topics tell their kinds), page by page."""
        valid_version(after_version, "after_version")
        valid_version(upto_version, "upto_version")
        originator_id = aggregate_id(agent_id)
        gt, lte = after_version, upto_version
        while True:
            stored = self.recorder.select_events(originator_id, gt=gt, lte=lte,
                                                 desc=newest_first, limit=page)
            yield from stored
            if len(stored) < page:
                return
            if newest_first:
                lte = stored[-1].originator_version - 1
            else:
                gt = stored[-1].originator_version

    def notifications(self, after: int, limit: int) -> Sequence[Notification]:
        """Up to `limit` recorded events of all agents after notification id `after`, in
        the order they were recorded (the log the projections read)."""
        return self.recorder.select_notifications(start=after, limit=limit,
                                                  inclusive_of_start=False)

    def recent_stored_events(self, count: int) -> list[StoredEvent]:
        """Up to `count` of the most recently recorded events, of all agents, oldest first."""
        recorder = self.recorder
        top = recorder.max_notification_id()
        if not top or count <= 0:
            return []
        events: list[StoredEvent] = []
        start = max(1, top - count + 1)
        while start <= top and len(events) < count:
            page = recorder.select_notifications(
                start=start, limit=min(count - len(events), 1000), stop=top)
            if not page:
                break
            events.extend(page)
            start = page[-1].id + 1
        return events

    # Stored bytes ----------------------------------------------------------------------------
    def decode(self, stored: StoredEvent) -> Any:
        """A stored event (or snapshot) as its domain object."""
        return self.mapper.to_domain_event(stored)

    @property
    def compressor(self) -> Compressor | None:
        return self.mapper.compressor

    @property
    def cipher(self) -> Cipher | None:
        """The store key's cipher (exports, dictionaries); an agent's own rows may be under
        its data key (application.data_key_port): decrypt those with `decrypt_state`."""
        return cast(Cipher | None, getattr(self.mapper, "store_cipher", self.mapper.cipher))

    def decrypt_state(self, stored: StoredEvent) -> bytes:
        """A stored event's state decrypted (still compressed), whichever key it is under."""
        keys = getattr(self.mapper, "keys", None)
        if keys is not None:
            oid = stored.originator_id
            return cast(bytes, keys.cipher_for(oid if isinstance(oid, UUID) else UUID(oid))
                        .decrypt(stored.state))
        cipher = self.mapper.cipher
        return cipher.decrypt(stored.state) if cipher is not None else stored.state

    def wrap_compressor(self, wrap: Callable[[Compressor], Compressor]) -> None:
        """Put `wrap(compressor)` in the compressor's place (e.g. to count bytes)."""
        if self.mapper.compressor is not None:
            self.mapper.compressor = wrap(self.mapper.compressor)
