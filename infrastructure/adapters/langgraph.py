"""LangGraph's checkpointer over ctxstore: `checkpointer=CtxstoreSaver()` where a graph takes
`checkpointer=PostgresSaver(...)` (extra `langgraph`).

A thread is an agent (`agent_ids.agent_id_for(thread_id)`; the thread id rides on every
envelope and in every record); subgraph namespaces live within it. Messages become ctxstore
message and tool-call events, only those new since the parent checkpoint, so storage grows with
the conversation, not with its square, and `ctxstore context`, search, diff and restore work on
the thread; the other channels are the content field `channels`. How records are laid out:
`langgraph_records`.

- Time travel (a put whose parent is not the thread's latest) rewinds the agent to the parent's
  version first, so the agent's latest content is always the thread's latest checkpoint.
- `copy_thread` is a fork: the target agent gets the source's content by reference (one
  `ContextRestored`) and a record pointing at the source's history for the older checkpoints.
- `prune` and `delete_for_runs` hide checkpoints by appending a record (history stays
  append-only, the hash chain intact); `delete_for_runs` also rewinds the thread to its newest
  checkpoint left.
- `delete_thread` is ctxstore's `forget` (see the method).

Embedded (no URL: the store from settings, in this process) or remote (`url=`, `api_key=`),
both through `ctxstore.client`. Every call, sync or async, runs on one event loop of the saver's
own thread, so one client and one index serve both.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import orjson

try:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import (
        WRITES_IDX_MAP,
        BaseCheckpointSaver,
        ChannelVersions,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
        get_checkpoint_id,
        get_checkpoint_metadata,
    )
    from langgraph.checkpoint.serde.base import SerializerProtocol
except ModuleNotFoundError as missing:  # an optional extra: say which, not just what is missing
    raise ModuleNotFoundError("ctxstore's LangGraph checkpointer needs LangGraph: pip install "
                              "'ctxstore[langgraph]'", name=missing.name) from missing

from ctxstore.domain.bounds import DEFAULT_MAX_EVENT_BYTES
from ctxstore.infrastructure.adapters.agent_ids import agent_id_for
from ctxstore.infrastructure.adapters.langgraph_history import Change, Cursor, Segment, Timeline
from ctxstore.infrastructure.adapters.langgraph_records import (
    FRAMEWORK,
    ROOT,
    Entry,
    ThreadIndex,
    channel_key,
    decode,
    encode,
    fingerprint,
    is_messages,
    message_events,
    message_item,
    message_of,
    messages_in,
)
from ctxstore.infrastructure.bootstrap import EmbeddedApi
from ctxstore.infrastructure.client import AsyncCalls, AsyncClient, CtxstoreError, Gone, NotFound
from ctxstore.infrastructure.http.schemas import ContextState
from ctxstore.infrastructure.settings import Settings

T = TypeVar("T")
PAGE = 1000
MAX_SESSION_ID = 256
STATES_KEPT = 4
MESSAGES_KEPT = 100_000
CHANGES_KEPT = 200_000  # what the timelines remember, in all (then they start again)
SOURCES_FOLLOWED = 16  # rewinds of rewinds followed in memory before the store is read


class CtxstoreSaver(BaseCheckpointSaver[Any]):  # int versions; a thread's str ones kept
    """LangGraph checkpoints of every thread, kept as ctxstore agents (module doc)."""

    def __init__(self, *, url: str | None = None, api_key: str | None = None,
                 settings: Settings | None = None, serde: SerializerProtocol | None = None,
                 max_event_bytes: int | None = None):
        """`max_event_bytes`: the store's CONTEXT_MAX_EVENT_BYTES (embedded: read from its
        settings; remote: 1 MiB, the default, unless given). An event over it is refused here,
        before anything of the put is recorded (a store records the valid rest of a batch)."""
        super().__init__(serde=serde)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="ctxstore-langgraph")
        self._thread.start()
        self._embedded = None if url else EmbeddedApi(settings)
        self._url, self._api_key = url, api_key
        self._max_event_bytes = max_event_bytes or (
            self._embedded.services.settings.max_event_bytes if self._embedded is not None
            else DEFAULT_MAX_EVENT_BYTES)
        self._client: AsyncCalls | None = None
        self._indexes: dict[str, ThreadIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._states: dict[tuple[str, int], ContextState] = {}
        self._messages: dict[bytes, Any] = {}
        self._timelines: dict[str, Timeline] = {}
        self._remembered = 0

    # Running on the saver's loop -----------------------------------------------------------
    def _submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        if self._loop.is_closed():
            work.close()
            raise RuntimeError("this CtxstoreSaver is closed")
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return self._submit(work).result()

    async def _arun(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self._submit(work))

    def close(self) -> None:
        """Let go of the client and (embedded) the store; the saver is unusable after."""
        if self._loop.is_closed():
            return
        self._run(self._aclose_client())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        if self._embedded is not None:
            self._embedded.close()
            self._embedded = None

    async def _aclose_client(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def __enter__(self) -> CtxstoreSaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _api(self) -> AsyncCalls:
        if self._client is None:
            self._client = (self._embedded.client(self._api_key) if self._embedded is not None
                            else AsyncClient(str(self._url), api_key=self._api_key))
        return self._client

    def _lock(self, agent: str) -> asyncio.Lock:
        return self._locks.setdefault(agent, asyncio.Lock())

    # The index ------------------------------------------------------------------------------
    async def _records(self, agent: str, after: int, upto: int | None = None,
                       page_size: int = PAGE) -> AsyncIterator[tuple[int, dict[str, Any]]]:
        """The adapter's records in an agent's history after a version, with their versions."""
        while True:
            try:
                page = await self._api().events(agent, after_version=after, limit=page_size,
                                                types=["channels"])
            except (NotFound, Gone):  # no such thread, or deleted (forgotten)
                return
            for event in page.items:
                if upto is not None and event.version > upto:
                    return
                source = event.data.get("source")
                if isinstance(source, dict) and source.get("framework") == FRAMEWORK:
                    yield event.version, source["item"]
            if page.next_after_version is None:
                return
            after = page.next_after_version

    async def _fold(self, index: ThreadIndex, upto: int | None = None) -> ThreadIndex:
        async for version, item in self._records(index.agent, index.scanned, upto):
            index.forget_puts()
            copied = None
            if item.get("kind") == "copied":
                copied = await self._fold(ThreadIndex(item["from"]), upto=item["version"])
            index.apply(version, item, copied)
            index.scanned = version
        return index

    async def _index(self, thread_id: str, *, fresh: bool = True) -> ThreadIndex:
        """The thread's index, brought up to date with its history (only what is new is read).

        `fresh=False` (writes) trusts the index this saver keeps: LangGraph reads a thread
        (`get_tuple`, which refreshes) before each run writes it, and one run at a time writes
        a thread; a write finding others' events before its own refreshes at once."""
        agent = agent_id_for(thread_id)
        index = self._indexes.get(agent)
        if index is None:
            index = self._indexes[agent] = ThreadIndex(agent)
        elif not fresh:
            return index
        return await self._fold(index)

    async def _append(self, thread_id: str, index: ThreadIndex,
                      events: list[tuple[str, dict[str, Any]]],
                      copied: ThreadIndex | None = None,
                      changes: Sequence[tuple[int, Change]] = ()) -> int:
        """Record events on the thread's agent; the version of the last one. The records among
        them are folded into the index at once (`copied`: the index a copy record refers to,
        as read up to the copy), and `changes` (by the offset of their event) into the
        thread's timeline."""
        envelopes = [{"event_id": f"{FRAMEWORK}-{uuid.uuid4().hex}", "type": kind, "data": data,
                      **({"session_id": thread_id} if len(thread_id) <= MAX_SESSION_ID else {})}
                     for kind, data in events]
        for envelope, (_, data) in zip(envelopes, events, strict=True):
            if (size := len(orjson.dumps(envelope))) > self._max_event_bytes:
                raise _refused(f"event is {size} bytes, over the limit of "
                               f"{self._max_event_bytes} bytes", None, data)
        done = await self._api().record(index.agent, envelopes)
        if done.rejected:
            bad = next(o for o in done.outcomes if o.status == "rejected")
            raise _refused(bad.reason, bad.field, events[bad.index][1])
        first = done.version - len(events) + 1
        self._timeline(index.agent).appended(
            first, [(first + offset, change) for offset, change in changes], done.version)
        self._remembered += len(changes)
        if index.scanned == first - 1:  # nothing else was written between: fold ours
            for offset, (kind, data) in enumerate(events):
                source = data.get("source")
                if kind == "channels" and isinstance(source, dict):
                    index.apply(first + offset, source["item"], copied)
            index.scanned = done.version
        else:
            await self._fold(index)
        return done.version

    def _timeline(self, agent: str) -> Timeline:
        """The agent's timeline, most recently used last; all are dropped past CHANGES_KEPT
        (they are only a shortcut: the store has everything)."""
        if self._remembered > CHANGES_KEPT:
            self._timelines.clear()
            self._remembered = 0
        timeline = self._timelines.pop(agent, None) or Timeline()
        self._timelines[agent] = timeline
        return timeline

    def _record(self, thread_id: str, item: dict[str, Any],
                values: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        return "channels", {"values": values or {},
                            "source": {"framework": FRAMEWORK, "position": 0,
                                       "item": {"thread": thread_id, **item}}}

    # Reading ------------------------------------------------------------------------------
    async def _state(self, agent: str, version: int) -> ContextState:
        """The agent's state at a version, read from the store; a version's content never
        changes, so the last few read are kept."""
        key = (agent, version)
        state = self._states.pop(key, None)
        if state is None:
            state = await self._api().context(agent, version=version)
        self._states[key] = state
        while len(self._states) > STATES_KEPT:
            self._states.pop(next(iter(self._states)))
        return state

    async def _content(self, agent: str, version: int) -> Cursor:
        """The agent's content at a version: from its timeline when this saver knows it,
        else read from the store."""
        known = await self._known(agent, version)
        return known if known is not None else self._cursor(
            agent, version, await self._state(agent, version))

    async def _known(self, agent: str, version: int, depth: int = 0) -> Cursor | None:
        """The agent's content at a version as this saver's timeline of it tells (None: not
        known without reading the store)."""
        timeline = self._timelines.get(agent)
        segment = timeline.find(version) if timeline is not None else None
        if segment is None:
            return None
        return Timeline.upto(await self._base(agent, segment, depth), segment, version)

    async def _base(self, agent: str, segment: Segment, depth: int) -> Cursor:
        if segment.base == 0 or (segment.source is not None and segment.source[1] == 0):
            return Cursor(agent, segment.base, {}, {})
        if segment.read is not None:
            return segment.read
        if segment.source is not None and depth < SOURCES_FOLLOWED:
            found = await self._known(*segment.source, depth=depth + 1)
            if found is not None:
                return found
        # Its own state at that version, not the source's: that may be deleted since.
        segment.read = self._cursor(agent, segment.base, await self._state(agent, segment.base))
        return segment.read

    def _message(self, item: dict[str, Any]) -> Any:
        """A recorded message as a LangChain message; the same item read again (the same
        message at another checkpoint) gives the object made before: building messages is
        most of a read's time, and LangGraph's own channels share them between steps."""
        key = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
        found = self._messages.get(key)
        if found is None:
            if len(self._messages) >= MESSAGES_KEPT:
                self._messages.clear()
            found = self._messages[key] = message_of(self.serde, item)
        return found

    def _cached_values(self, index: ThreadIndex, entry: Entry) -> dict[str, Any] | None:
        """The values of the namespace's latest checkpoint when this saver put it and nothing
        was written since (no read needed): message lists share their message objects (as
        LangGraph's own channels do between steps), the rest is decoded afresh."""
        latest = index.latest.get(entry.ns)
        if latest is None or latest[0] != entry.id:
            return None
        return {name: list(value) if isinstance(value, list) else decode(self.serde, value)
                for name, value in latest[1].items()}

    def _tuple(self, thread_id: str, entry: Entry, values: dict[str, Any]) -> CheckpointTuple:
        record = entry.record
        checkpoint = decode(self.serde, record["checkpoint"])
        checkpoint["channel_values"] = values

        def config(checkpoint_id: str) -> RunnableConfig:
            return {"configurable": {"thread_id": thread_id, "checkpoint_ns": entry.ns,
                                     "checkpoint_id": checkpoint_id}}

        return CheckpointTuple(
            config=config(entry.id), checkpoint=checkpoint,
            metadata=decode(self.serde, record["metadata"]),
            parent_config=config(entry.parent) if entry.parent else None,
            pending_writes=[(task, channel, decode(self.serde, value))
                            for task, channel, value, _ in entry.writes.values()])

    async def _read(self, thread_id: str, index: ThreadIndex, entry: Entry
                    ) -> CheckpointTuple:
        values = self._cached_values(index, entry)
        if values is None:
            values = (await self._content(entry.agent, entry.version)).values(entry, self.serde)
        return self._tuple(thread_id, entry, values)

    async def _get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        index = await self._index(thread_id)
        entry = index.get(conf.get("checkpoint_ns", ROOT), get_checkpoint_id(config))
        if entry is None:
            return None
        return await self._read(thread_id, index, entry)

    async def _list(self, config: RunnableConfig | None, filter: dict[str, Any] | None,
                    before: RunnableConfig | None, limit: int | None) -> list[CheckpointTuple]:
        if config is not None:
            threads = [str(config["configurable"]["thread_id"])]
            ns = config["configurable"].get("checkpoint_ns")
            wanted = get_checkpoint_id(config)
        else:
            threads, ns, wanted = await self._threads(), None, None
        before_id = get_checkpoint_id(before) if before else None
        found: list[CheckpointTuple] = []
        for thread_id in threads:
            index = await self._index(thread_id)
            chosen: list[Entry] = []
            for entry in index.live(ns):
                if limit is not None and len(found) + len(chosen) >= limit:
                    break
                if (wanted and entry.id != wanted) or (before_id and entry.id >= before_id):
                    continue
                if filter:
                    metadata = decode(self.serde, entry.record["metadata"])
                    if not all(metadata.get(k) == v for k, v in filter.items()):
                        continue
                chosen.append(entry)
            values = await self._walk(index, chosen)
            found += [self._tuple(thread_id, entry, values[entry.agent, entry.version, entry.ns,
                                                           entry.id]) for entry in chosen]
        return found

    async def _walk(self, index: ThreadIndex, entries: list[Entry]
                    ) -> dict[tuple[str, int, str, str], dict[str, Any]]:
        """The values of many checkpoints: per agent, one state read, then only the events
        between one checkpoint and the next (a history walk reads the history once, not a
        state per checkpoint); a restore between two reads the state again."""
        out: dict[tuple[str, int, str, str], dict[str, Any]] = {}
        cursor: Cursor | None = None
        for entry in sorted(entries, key=lambda e: (e.agent, e.version)):
            key = (entry.agent, entry.version, entry.ns, entry.id)
            cached = self._cached_values(index, entry)
            if cached is None and (known := await self._known(entry.agent, entry.version)):
                cached = known.values(entry, self.serde)
            if cached is not None:
                out[key] = cached
                continue
            if cursor is None or cursor.agent != entry.agent \
                    or not await self._advance(cursor, entry.version):
                cursor = await self._content(entry.agent, entry.version)
            out[key] = cursor.values(entry, self.serde)
        return out

    def _cursor(self, agent: str, version: int, state: ContextState) -> Cursor:
        held = messages_in(state.messages)
        return Cursor(agent, version,
                      {name: [self._message(i) for i in items] for name, items in held.items()},
                      dict((state.model_extra or {}).get("channels") or {}))

    async def _advance(self, cursor: Cursor, version: int) -> bool:
        """Fold the events up to `version` into the cursor; False when a restore is among
        them (then the state is read instead)."""
        after = cursor.version
        while after < version:
            page = await self._api().events(cursor.agent, after_version=after,
                                            limit=min(PAGE, version - after),
                                            types=[*WALKED, *RESTORES])
            for event in page.items:
                if event.version > version:
                    break
                if event.type in RESTORES:
                    return False
                if event.type == "channels":
                    cursor.apply(event.data["values"])
                else:
                    for name, items in messages_in([event.data]).items():
                        cursor.messages.setdefault(name, []).extend(
                            self._message(i) for i in items)
            if page.next_after_version is None:
                break
            after = page.next_after_version
        cursor.version = version
        return True

    async def _threads(self) -> list[str]:
        """Every thread this store holds (the original ids, from their first records): every
        agent is asked, so `delete_for_runs` and an unscoped `list` cost the whole store."""
        threads: list[str] = []
        after = None
        while True:
            page = await self._api().agents(after=after, limit=PAGE)
            for agent in page.items:
                async for _, item in self._records(agent.agent_id, 0, page_size=1):
                    threads.append(str(item["thread"]))
                    break
            if page.next_after is None:
                return threads
            after = page.next_after

    # Writing ------------------------------------------------------------------------------
    async def _put(self, config: RunnableConfig, checkpoint: Checkpoint,
                   metadata: CheckpointMetadata, new_versions: ChannelVersions
                   ) -> RunnableConfig:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        ns = str(conf.get("checkpoint_ns", ROOT))
        parent_id = conf.get("checkpoint_id")
        agent = agent_id_for(thread_id)
        async with self._lock(agent):
            index = await self._index(thread_id, fresh=False)
            values = checkpoint["channel_values"]
            message_channels = sorted(n for n, v in values.items() if ns == ROOT
                                      and is_messages(v))
            follows = index.follows(ns, parent_id)
            rebased = False
            if ns != ROOT:
                held_counts: dict[str, int] = {}
            elif follows and _same_start(index.objects, values, message_channels):
                held_counts = {n: len((index.objects or {}).get(n, ()))
                               for n in message_channels}
            else:
                held_counts, rebased = await self._rebase(index, parent_id, values,
                                                          message_channels)
            events: list[tuple[str, dict[str, Any]]] = []
            changes: list[tuple[int, Change]] = []
            for name in message_channels:
                for position in range(held_counts.get(name, 0), len(values[name])):
                    message = values[name][position]
                    changes.append((len(events), (name, message)))
                    events += message_events(message_item(self.serde, name, message),
                                             message, position)
            full = rebased or not follows
            names = set(values) if full else set(new_versions)
            written = {name: (encode(self.serde, values[name]) if name in values else None)
                       for name in sorted(names) if name not in message_channels}
            head = {k: v for k, v in checkpoint.items() if k != "channel_values"}
            record = {"kind": "checkpoint", "ns": ns, "id": checkpoint["id"],
                      "parent": parent_id, "rebased": rebased,
                      "checkpoint": encode(self.serde, head),
                      "metadata": encode(self.serde, get_checkpoint_metadata(config, metadata)),
                      "present": sorted(values), "messages": message_channels}
            keyed = {channel_key(ns, name): value for name, value in written.items()}
            changes.append((len(events), keyed))
            events.append(self._record(thread_id, record, keyed))
            previous = index.latest.get(ns)
            await self._append(thread_id, index, events, changes=changes)
            if ns == ROOT:
                index.objects = {name: list(values[name]) for name in message_channels}
            kept = dict(previous[1]) if previous is not None and not full \
                and previous[0] == parent_id else None
            if kept is None:
                kept = {name: encode(self.serde, value) for name, value in values.items()
                        if name not in message_channels}
            else:
                kept.update(written)
            kept.update({name: list(values[name]) for name in message_channels})
            index.latest[ns] = (checkpoint["id"], {name: value for name, value in kept.items()
                                                   if name in values})
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                                 "checkpoint_id": checkpoint["id"]}}

    async def _rebase(self, index: ThreadIndex, parent_id: str | None,
                      values: dict[str, Any], message_channels: list[str]
                      ) -> tuple[dict[str, int], bool]:
        """Make the agent's content the parent checkpoint's (a rewind: history keeps all)
        before a put that does not continue its latest; back to empty when the new messages
        do not start with the parent's. How many of each message channel's messages the
        agent then holds, and whether a rewind was made."""
        parent = index.get(ROOT, parent_id) if parent_id else None
        counts: dict[str, int] = {}
        if parent is not None:
            # The parent's messages as read are the objects LangGraph was given (`_message`,
            # or the very objects put): its reducers keep them, so the new list starts with
            # them. Otherwise compare what they say.
            objects = (await self._content(parent.agent, parent.version)).messages
            if _same_start(objects, values, message_channels) or self._extends(
                    objects, values, message_channels):
                counts = {name: len(objects.get(name, ())) for name in message_channels}
            else:
                parent = None
        if parent is not None and index.follows(ROOT, parent_id):
            return counts, False  # the latest content is the parent's already (a new process)
        if parent is None and index.scanned == 0:
            return {}, False  # a new thread: nothing to undo
        await self._restore(index, parent)
        return counts, True

    def _extends(self, held: dict[str, list[Any]], values: dict[str, Any],
                 message_channels: list[str]) -> bool:
        """Whether every message channel held is a prefix of the new checkpoint's, by what
        its messages say: equal objects, else equal kept forms (fingerprints), compared in
        order and only as far as the first difference (each fingerprint serialises a
        message: a thread of a thousand of them cost a fork tens of milliseconds)."""
        for name, items in held.items():
            new: list[Any] = (values.get(name) or []) if name in message_channels else []
            if len(new) < len(items):
                return False
            for a, b in zip(items, new, strict=False):
                if a is b or a == b:
                    continue
                if fingerprint(message_item(self.serde, name, a)) != fingerprint(
                        message_item(self.serde, name, b)):
                    return False
        return True

    async def _restore(self, index: ThreadIndex, entry: Entry | None) -> None:
        """Rewind the thread's agent to a checkpoint's content (None: empty); history keeps
        everything. The restore's event is no record: the index has read past it when it had
        read everything before it."""
        source = (entry.agent, entry.version) if entry else (index.agent, 0)
        done = await self._api().restore(index.agent, source_agent_id=source[0],
                                         version=source[1])
        self._timeline(index.agent).restored(done.target_version, source)
        if index.scanned == done.target_version - 1:
            index.scanned = done.target_version

    async def _put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                          task_id: str, task_path: str) -> None:
        conf = config["configurable"]
        thread_id = str(conf["thread_id"])
        item = {"kind": "writes", "ns": conf.get("checkpoint_ns", ROOT),
                "checkpoint": conf["checkpoint_id"], "task": task_id, "path": task_path,
                "writes": [[WRITES_IDX_MAP.get(channel, n), channel, encode(self.serde, value)]
                           for n, (channel, value) in enumerate(writes)]}
        agent = agent_id_for(thread_id)
        async with self._lock(agent):
            index = await self._index(thread_id, fresh=False)
            await self._append(thread_id, index, [self._record(thread_id, item)])

    async def _hide(self, thread_id: str, index: ThreadIndex, entries: list[Entry],
                    rewind_to: Entry | None | bool = False) -> None:
        """Hide checkpoints by a record (a `CheckpointsPruned` of LangGraph's points);
        `rewind_to`: also make this checkpoint's content the latest (None: empty)."""
        if not entries:
            return
        rebased = rewind_to is not False
        if rebased:
            await self._restore(index, rewind_to if isinstance(rewind_to, Entry) else None)
        item = {"kind": "pruned", "ids": [[e.ns, e.id] for e in entries], "rebased": rebased}
        await self._append(thread_id, index, [self._record(thread_id, item)])

    async def _prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}: keep_latest or delete")
        for thread_id in thread_ids:
            async with self._lock(agent_id_for(thread_id)):
                index = await self._index(thread_id)
                live = index.live()
                keep = {(e.ns, e.id) for e in (index.get(ns, None) for ns in {e.ns for e in live})
                        if e is not None} if strategy == "keep_latest" else set()
                await self._hide(thread_id, index,
                                 [e for e in live if (e.ns, e.id) not in keep])

    async def _delete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = set(run_ids)
        if not runs:
            return
        for thread_id in await self._threads():
            async with self._lock(agent_id_for(thread_id)):
                index = await self._index(thread_id)
                gone = [e for e in index.live() if decode(
                    self.serde, e.record["metadata"]).get("run_id") in runs]
                if not gone:
                    continue
                latest = index.get(ROOT, None)
                rewind: Entry | None | bool = False
                if latest is not None and latest in gone:
                    left = [e for e in index.live(ROOT) if e not in gone]
                    rewind = left[0] if left else None
                await self._hide(thread_id, index, gone, rewind)

    async def _copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source = await self._index(source_thread_id)
        if not source.entries:
            return
        target_agent = agent_id_for(target_thread_id)
        async with self._lock(target_agent):
            target = await self._index(target_thread_id)
            done = await self._api().fork(source.agent, target_agent, version=source.scanned)
            self._timeline(target_agent).restored(done.target_version,
                                                  (source.agent, done.source_version))
            if target.scanned == done.target_version - 1:
                target.scanned = done.target_version
            latest = [entry.as_latest() for entry in (
                source.get(ns, None) for ns in sorted(source.namespaces())) if entry is not None]
            item = {"kind": "copied", "from": source.agent, "version": done.source_version,
                    "latest": latest}
            await self._append(target_thread_id, target, [self._record(target_thread_id, item)],
                               copied=source)

    async def _delete_thread(self, thread_id: str) -> None:
        """ctxstore's forget: the thread's agent is erased for good (events, snapshots,
        parts only it holds, search rows); its id stays a tombstone, so the thread id cannot
        be used again. Forks made by `copy_thread` keep their content."""
        agent = agent_id_for(thread_id)
        async with self._lock(agent):
            with contextlib.suppress(NotFound, Gone):
                await self._api().forget(agent)
            self._indexes.pop(agent, None)
            self._timelines.pop(agent, None)
            self._states = {k: v for k, v in self._states.items() if k[0] != agent}

    # BaseCheckpointSaver, sync ----------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._run(self._get_tuple(config))

    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None, limit: int | None = None
             ) -> Iterator[CheckpointTuple]:
        yield from self._run(self._list(config, filter, before, limit))

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        return self._run(self._put(config, checkpoint, metadata, new_versions))

    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                   task_id: str, task_path: str = "") -> None:
        self._run(self._put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self._delete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._run(self._delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(self._copy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._run(self._prune(thread_ids, strategy))

    # BaseCheckpointSaver, async ---------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._arun(self._get_tuple(config))

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None
                    ) -> AsyncIterator[CheckpointTuple]:
        for found in await self._arun(self._list(config, filter, before, limit)):
            yield found

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint,
                   metadata: CheckpointMetadata, new_versions: ChannelVersions
                   ) -> RunnableConfig:
        return await self._arun(self._put(config, checkpoint, metadata, new_versions))

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]],
                          task_id: str, task_path: str = "") -> None:
        await self._arun(self._put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._arun(self._delete_thread(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._arun(self._delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._arun(self._copy_thread(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._arun(self._prune(thread_ids, strategy))

    def get_next_version(self, current: int | str | None, channel: None) -> int | str:
        """Integer versions, LangGraph's default: values are not stored by version here, so
        they need no random part to stay apart across forks (PostgresSaver's 49-character
        strings were a quarter of a checkpoint's record). A thread whose versions are strings
        keeps their form."""
        if isinstance(current, str):
            number = int(current.split(".")[0])
            return f"{number + 1:032}.{random.random():016}"
        return 1 if current is None else current + 1


WALKED = ("message", "channels")
RESTORES = ("context_restored",)


class ValueTooLarge(ValueError):
    """A checkpoint's channel value, or a message, is larger than one event the store takes."""


def _refused(reason: str | None, field: str | None, data: dict[str, Any]) -> ValueError:
    """Why the store refused a record, naming the channel when a value was too large: a
    channel value is kept whole in one `channels` event, a message in one `message` event,
    so each must fit the store's CONTEXT_MAX_EVENT_BYTES (1 MiB unless configured)."""
    if reason is not None and "over the limit" in reason:
        sizes = {name: len(orjson.dumps(value))
                 for name, value in (data.get("values") or {}).items()}
        item = (data.get("source") or {}).get("item") or {}
        sizes.update({channel: len(orjson.dumps(value))
                      for _, channel, value in item.get("writes") or ()})
        what = (f"channel {max(sizes, key=sizes.__getitem__)!r} "
                f"({max(sizes.values())} bytes encoded)" if sizes else "a message")
        return ValueTooLarge(
            f"ctxstore keeps each LangGraph channel value and message whole in one event, and "
            f"{what} does not fit: {reason}. Keep large data outside the graph's state (a "
            "reference to it instead), or raise the store's CONTEXT_MAX_EVENT_BYTES")
    return ValueError(f"ctxstore refused a LangGraph record: {reason} ({field})")


def _same_start(objects: dict[str, list[Any]] | None, values: dict[str, Any],
                message_channels: list[str]) -> bool:
    """Whether each message channel last put is, object for object, the start of the new
    checkpoint's (LangGraph's reducers keep the messages they do not change)."""
    if objects is None:
        return False
    for name, held in objects.items():
        new: list[Any] = (values.get(name) or []) if name in message_channels else []
        if len(new) < len(held) or any(a is not b for a, b in zip(held, new, strict=False)):
            return False
    return True




__all__ = ["CtxstoreError", "CtxstoreSaver", "ValueTooLarge"]
