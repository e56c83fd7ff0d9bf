"""The AgentContext aggregate: one per agent, its version is its event count.

The first event an agent receives creates it (there is no separate "created" event), so that
version N means exactly N events and version 0 the empty context.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import (
    Aggregate,
    CanMutateAggregate,
    OriginatorIDError,
    OriginatorVersionError,
    Snapshot,
)

from ctxstore.domain.agent_id import aggregate_id, plain_agent_id
from ctxstore.domain.clock import not_before
from ctxstore.domain.content_tree import NotRead
from ctxstore.domain.pages import TOUCH, PartHashes, touch_call
from ctxstore.domain.state import (
    FOLD,
    Content,
    check_applicable,
    copy_content,
    empty_content,
    fold_result_at,
)
from ctxstore.domain.topics import register_legacy_topics
from ctxstore.domain.window import OpenCalls

RESTORE_STRATEGIES = ("replace", "merge")
# The kinds of the events the store makes itself (wire events keep their wire type).
CONTEXT_RESTORED = "context_restored"
CHECKPOINT_TAKEN = "checkpoint_taken"
CHECKPOINTS_PRUNED = "checkpoints_pruned"
# Where a snapshot's or a restore's content is kept when it is not copied into it.
CONTENT_REF = "content_ref"
OPEN_CALLS = "_open_calls"  # where the open tool calls are (domain.window.OpenCalls)
# The addresses a read of a snapshot's parts made (PartHashes), beside its JSON state.
PART_HASHES = "_part_hashes_read"


class AgentContext(Aggregate):
    """The folded context of one agent; `content` holds the hashed fields of DESIGN §2.

    `agent_id` is the agent's key (domain.agent_id): its tenant's namespace and its id."""

    agent_id: str
    content: Content
    sessions: list[dict[str, Any]]
    _parts: PartHashes

    @classmethod
    def start(cls, agent_id: str) -> AgentContext:
        """A version-0 agent, not yet stored; its first recorded event creates it."""
        agent = cast(AgentContext, object.__new__(cls))
        agent._init_empty(aggregate_id(agent_id), agent_id)
        return agent

    @classmethod
    def based_on(cls, agent_id: str, state: dict[str, Any], version: int) -> AgentContext:
        """An unsaved agent at `version` holding `state` (DESIGN §2 form, e.g. a checkpoint's):
        a base onto which the events after `version` fold, never saved as such."""
        agent = cls.start(agent_id)
        agent.content = copy_content(state)
        agent._parts = PartHashes()
        agent.sessions = copy.deepcopy(state.get("sessions") or [])
        agent._version = version
        as_of = state.get("as_of")
        if as_of:
            agent._created_on = agent._modified_on = datetime.fromisoformat(as_of)
        return agent

    @classmethod
    def shell(cls, agent_id: str, version: int, created_on: datetime | None,
              modified_on: datetime | None) -> AgentContext:
        """The agent at `version` without its content (None): what a restore by reference
        appends to, since its event replaces the content whole and nothing reads the old one.
        Never cached, snapshotted or folded onto (`is_shell`): the store caches instead its
        stored restore folded onto the agent it held, or a reader folds it from the store,
        resolving the restore's reference."""
        agent = cls.start(agent_id)
        agent._version = version
        agent._created_on = created_on  # type: ignore[assignment]
        agent._modified_on = modified_on  # type: ignore[assignment]
        agent.content = None  # type: ignore[assignment]
        return agent

    @property
    def is_shell(self) -> bool:
        return self.content is None

    def _init_empty(self, originator_id: UUID, agent_id: str) -> None:
        self._id = originator_id
        self._version = 0
        self._created_on = None  # type: ignore[assignment]
        self._modified_on = None  # type: ignore[assignment]
        self._pending_events = []
        self.agent_id = agent_id
        self.content = empty_content()
        self._parts = PartHashes()
        self.sessions = []

    def __deepcopy__(self, memo: dict[int, Any]) -> AgentContext:
        """A copy to change apart (a cached agent handed to a writer): the content copied as
        plain JSON (domain.state.copy_content), the rest as deepcopy would."""
        clone = cast(AgentContext, object.__new__(type(self)))
        for name, value in self.__dict__.items():
            if name != OPEN_CALLS:
                clone.__dict__[name] = (copy_content(value) if name == "content"
                                        else copy.deepcopy(value, memo))
        known = self.open_calls()
        if known is not None:
            clone.__dict__[OPEN_CALLS] = (clone.content["tool_calls"], known)
        return clone

    def next_timestamp(self, moment: datetime) -> datetime:
        """The time of this agent's next event: `moment`, never before its last one."""
        return not_before(moment, self.modified_on)

    # Commands --------------------------------------------------------------------------------
    def record(
        self,
        *,
        event_id: str,
        type: str,
        data: dict[str, Any],
        timestamp: datetime,
        session_id: str | None = None,
    ) -> None:
        """Append one validated wire event; raises EventNotApplicable before changing anything."""
        check_applicable(self.content, type, data)
        # What trigger_event does, without its generic keyword handling: this is the one
        # command run per ingested event.
        # Made as eventsourcing's mapper makes the events it reads: the frozen dataclass's
        # __init__ sets each field through object.__setattr__ (1.04 against 0.39 µs), and its
        # __post_init__ only checks that the originator id is a UUID, as self.id is. The
        # fields in their declared order: the stored JSON lists them so.
        event = object.__new__(self.Recorded)
        event.__dict__.update(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=timestamp,
            agent_id=self.agent_id,
            event_id=event_id,
            type=type,
            data=data,
            session_id=session_id,
        )
        event.mutate(self)
        self._pending_events.append(event)

    def restore(
        self,
        *,
        event_id: str,
        content: Content,
        provenance: dict[str, Any],
        timestamp: datetime,
        content_ref: dict[str, Any] | None = None,
        given: PartHashes | None = None,
    ) -> None:
        """Make `content` this agent's content (a rewind or a fork); provenance says from where.
        `content_ref`: where the store keeps that content (its parts' root, of a tenant), so
        the stored event records it instead of a copy (ContextRestored). `given`: the
        content is handed over (built for this restore alone, so not copied) with its parts'
        addresses."""
        event = self.ContextRestored(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=timestamp,
            agent_id=self.agent_id,
            event_id=event_id,
            content=content,  # the fold copies it unless it is given
            provenance=provenance,
            content_ref=content_ref,
        )
        if given is not None:
            event = event.resolved(content, given)
        event.mutate(self)
        self._pending_events.append(event)

    def restore_by_reference(self, *, event_id: str, content_ref: dict[str, Any],
                             provenance: dict[str, Any], timestamp: datetime) -> None:
        """Make the content `content_ref` names (a tenant's parts under a root) this shell's
        (`shell`), without reading it: a fork or rewind that costs what its source lacked
        in the part store, not the content's size."""
        if not self.is_shell:
            raise ValueError("a restore by reference is appended to a shell agent")
        event = self.ContextRestored(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=timestamp,
            agent_id=self.agent_id,
            event_id=event_id,
            content=None,
            provenance=provenance,
            content_ref=content_ref,
        )
        event.mutate(self)
        self._pending_events.append(event)

    def note_checkpoint(self, *, event_id: str, checkpoint: dict[str, Any],
                        timestamp: datetime) -> None:
        self.trigger_event(
            self.CheckpointTaken,
            agent_id=self.agent_id,
            event_id=event_id,
            checkpoint=checkpoint,
            timestamp=timestamp,
        )

    def note_checkpoints_pruned(self, *, event_id: str, package_ids: list[str], reason: str,
                                timestamp: datetime) -> None:
        """Retention removed these checkpoints (e.g. by age); the content does not change."""
        self.trigger_event(
            self.CheckpointsPruned,
            agent_id=self.agent_id,
            event_id=event_id,
            pruned_package_ids=list(package_ids),
            reason=reason,
            timestamp=timestamp,
        )

    # State -----------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only for what normal lookup misses: an agent from a snapshot stored before part
        # addresses were kept has none known yet.
        if name == "_parts":
            parts = self.__dict__["_parts"] = PartHashes()
            return parts
        raise AttributeError(name)

    def open_calls(self) -> OpenCalls | None:
        """Where the open tool calls were when this content's call list was shorter, if
        known (from the snapshot it was folded from): the fold keeps it true (domain.window).
        Tied to the list it describes, so a content replaced (a restore) has none."""
        held = self.__dict__.get(OPEN_CALLS)
        if held is None or self.content is None or held[0] is not self.content["tool_calls"]:
            return None
        return cast(OpenCalls, held[1])

    def unread_call_answered(self, call_id: str) -> int | None:
        """Where a tool result of this id goes when the fold's search from the end met a call
        not read (a content read in part): the position of its id's last call if that is
        open, else None (an entry of its own). Told by the open calls' record (`open_calls`):
        a call open now was open when recorded, or came since (and was read); NotRead when
        it cannot tell (no record, a call since not read, or a record that does not say
        which open calls are the last of their id while one of this id is open)."""
        known = self.open_calls()
        calls = self.content["tool_calls"]
        if known is None or known.count > len(calls):
            raise NotRead("no record of where the open tool calls are")
        for at in range(len(calls) - 1, known.count - 1, -1):  # each read, or NotRead
            if calls[at]["call_id"] == call_id:
                # The fold's search would have found it: not the content the record is of.
                raise NotRead(f"tool call {at}, since the record, has this id")
        open_now = [at for at in known.positions
                    if calls[at]["call_id"] == call_id and calls[at].get("result") is None]
        if not open_now:
            return None  # its id's last call is answered, or it has none
        if known.shadowed is None:
            raise NotRead("the record does not say which open calls are their id's last")
        last = [at for at in open_now if at not in known.shadowed]
        return last[-1] if last else None

    def open_calls_now(self, *, scan: bool = False) -> OpenCalls | None:
        """Where the open tool calls are now, from where they were (`open_calls`: only the
        calls since and those open then are looked at), kept as the new hint; without one,
        from every call if `scan`, else None. None too when an item needed was not read."""
        calls = self.content["tool_calls"]
        known = self.open_calls()
        if known is None and not scan:
            return None
        try:
            now = OpenCalls.of(calls, known)
        except NotRead:
            return None
        self.__dict__[OPEN_CALLS] = (calls, now)
        return now

    @property
    def part_hashes(self) -> PartHashes:
        """The addresses of this content's parts known so far (domain.pages)."""
        return self._parts

    def take_snapshot(self, chain_head: str | None = None,
                      content_ref: dict[str, Any] | None = None) -> AgentSnapshot:
        """A snapshot of this agent with every part's address (hashing only the parts changed
        since they were last known), so a read from it hashes only what changed after it;
        `chain_head`: the hash chain's link at this version (hex), the history it was built
        from. With `content_ref` (where the store keeps this content as parts,
        domain.content_tree), the snapshot holds that reference instead of the content and
        the addresses: a reader resolves it before `mutate`."""
        if content_ref is None:
            self._parts.manifest(self.content)
        snapshot = AgentSnapshot.take(self)
        snapshot.state.pop(OPEN_CALLS, None)  # the live hint holds the list itself
        if content_ref is None:
            snapshot.state["_parts"] = self._parts.to_json()
        else:
            snapshot.state.pop("content")
            snapshot.state.pop("_parts", None)
            snapshot.state[CONTENT_REF] = content_ref
            # A reader of a window of a later version reads only the content's last pages:
            # it learns here where the open calls before them are (domain.window).
            known = self.open_calls_now(scan=True)
            if known is not None:  # None: a content read in part, with no hint
                # With the root it was found in: a reader trusts it only beside that root
                # (a release that knew nothing of it may have copied it along with the rest
                # of the agent's attributes into a later snapshot).
                snapshot.state[OPEN_CALLS] = {"root": content_ref.get("root"),
                                              "open": known.to_json()}
        return replace(snapshot, chain_head=chain_head) if chain_head else snapshot

    def content_hash(self) -> str:
        """The content hash (domain.pages): hashing only the parts changed since it was last
        computed, plus the root."""
        return self.part_hashes.content_hash(self.content)

    def state(self, known_hash: str | None = None) -> dict[str, Any]:
        """The agent's context as DESIGN §2 shows it; `known_hash`: its content hash when the
        caller already knows it for this version (a version's content never changes)."""
        return {
            "agent_id": plain_agent_id(self.agent_id),
            "version": self.version,
            "as_of": self.modified_on.isoformat() if self.modified_on else None,
            **self.content,
            "sessions": self.sessions,
            "content_hash": known_hash or self.content_hash(),
        }

    def _track_session(self, session_id: str | None, version: int) -> None:
        if session_id is None:
            return
        if self.sessions and self.sessions[-1]["session_id"] == session_id:
            self.sessions[-1]["last_version"] = version
            return
        for session in self.sessions:
            if session["session_id"] == session_id:
                session["last_version"] = version
                return
        self.sessions.append(
            {"session_id": session_id, "first_version": version, "last_version": version}
        )

    # Events ----------------------------------------------------------------------------------
    @dataclass(frozen=True)
    class Event(Aggregate.Event):
        """Base of every stored agent event: the first one creates the aggregate."""

        agent_id: str
        event_id: str

        def described(self) -> tuple[str, dict[str, Any]]:
            """This event's kind (a wire event's type, or one of the store's kinds) and data:
            what history pages and projections show of it."""
            raise NotImplementedError

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                aggregate = object.__new__(AgentContext)
                aggregate._init_empty(self.originator_id, self.agent_id)
            if aggregate._created_on is None:
                aggregate._created_on = self.timestamp
            return CanMutateAggregate.mutate(self, aggregate)

    @dataclass(frozen=True)
    class Recorded(Event):
        type: str
        data: dict[str, Any]
        session_id: str | None

        def described(self) -> tuple[str, dict[str, Any]]:
            return self.type, self.data

        def mutate(self, aggregate: Any) -> Any:
            # What Event.mutate and eventsourcing's do, spelled out: one call per event folded
            # on every replay (a read at a version, a fork's tail since its snapshot) and per
            # event recorded.
            if aggregate is None:
                return AgentContext.Event.mutate(self, aggregate)
            if self.originator_id != aggregate._id:
                raise OriginatorIDError(self.originator_id, aggregate._id)
            if self.originator_version != aggregate._version + 1:
                raise OriginatorVersionError(self.originator_version, aggregate._version + 1)
            if aggregate._created_on is None:
                aggregate._created_on = self.timestamp
            self.apply(aggregate)
            aggregate._version = self.originator_version
            aggregate._modified_on = self.timestamp
            return aggregate

        def apply(self, aggregate: Any) -> None:
            # FOLD, not apply_event: one call less per event on every replay.
            answered = None  # the call a result went to, found without the fold's search
            try:
                FOLD[self.type](aggregate.content, self.data)
            except NotRead:
                # A content read in part (a fork's snapshot): a tool result whose call is
                # not on the pages read. The snapshot's record of the open calls tells where
                # it goes, or raises NotRead again (the content is then read whole).
                if self.type != "tool_result":
                    raise
                answered = aggregate.unread_call_answered(self.data["call_id"])
                fold_result_at(aggregate.content, self.data, answered)
            if answered is not None:
                touch_call(aggregate._parts, answered)
            else:
                touch = TOUCH.get(self.type)  # only what changes in place: appends are seen
                if touch is not None:
                    touch(aggregate._parts, aggregate.content, self.data)
            aggregate._track_session(self.session_id, self.originator_version)

    @dataclass(frozen=True)
    class ContextRestored(Event):
        """The content is a copy, or (`content_ref` set) kept by reference: the stored event
        has no content, only where the store keeps it (a tenant's parts under a root,
        domain.content_tree), and whoever reads it resolves the content before folding."""

        content: Content | None
        provenance: dict[str, Any]
        content_ref: dict[str, Any] | None = None

        def described(self) -> tuple[str, dict[str, Any]]:
            # The content either way (kept by reference, it was read back): what it restored.
            return CONTEXT_RESTORED, {"content": self.content, "provenance": self.provenance}

        def stored_form(self) -> AgentContext.ContextRestored:
            """What is stored: without the content when it is kept by reference (and never
            the addresses `resolved` gave the fold)."""
            if self.content_ref is None and "_part_hashes" not in self.__dict__:
                return self
            return replace(self, content=None if self.content_ref is not None else self.content)

        def resolved(self, content: Content, parts: PartHashes) -> AgentContext.ContextRestored:
            """This event with its content read back from where `content_ref` says (or handed
            over by its maker), and the addresses of that content's parts (so folding it
            hashes nothing); the fold takes both without copying."""
            event = replace(self, content=content)
            object.__setattr__(event, "_part_hashes", parts)
            return event

        def apply(self, aggregate: Any) -> None:
            if self.content is None:
                if aggregate.is_shell and self.content_ref is not None:
                    return  # restore_by_reference: the shell stays without content
                raise ValueError(f"restore {self.event_id}: its content is kept by reference "
                                 f"({self.content_ref}) and was not read back")
            known = self.__dict__.get("_part_hashes")
            if known is not None:
                # Read back from parts (or handed over) for this event alone.
                aggregate.content = self.content
                aggregate._parts = known
                # Where its open calls were, recorded beside its root by the restore that
                # made it (application.restore): windows of the versions folded from it read
                # in part, as from a snapshot (domain.window).
                open_calls = OpenCalls.from_json((self.content_ref or {}).get("open"))
                if open_calls is not None:
                    aggregate.__dict__[OPEN_CALLS] = (self.content["tool_calls"], open_calls)
            else:
                aggregate.content = copy_content(self.content)
                aggregate.part_hashes.clear()

    @dataclass(frozen=True)
    class CheckpointTaken(Event):
        checkpoint: dict[str, Any]

        def described(self) -> tuple[str, dict[str, Any]]:
            return CHECKPOINT_TAKEN, self.checkpoint

        def apply(self, aggregate: Any) -> None:
            pass

    @dataclass(frozen=True)
    class CheckpointsPruned(Event):
        pruned_package_ids: list[str]
        reason: str

        def described(self) -> tuple[str, dict[str, Any]]:
            return CHECKPOINTS_PRUNED, {"pruned_package_ids": self.pruned_package_ids,
                                        "reason": self.reason}

        def apply(self, aggregate: Any) -> None:
            pass



@dataclass(frozen=True)
class AgentSnapshot(Snapshot):
    """An agent's snapshot: its state, with its parts' addresses as plain JSON, made back
    into the aggregate's PartHashes when read.

    `chain_head` commits it to the history it was built from: the agent's hash-chain link at
    its version (hex; application.chain), so `ctxstore verify` can tell a snapshot whose events
    were rewritten under it. None: taken before chains."""

    chain_head: str | None = None

    def mutate(self, _: None) -> Any:
        if CONTENT_REF in self.state:
            raise ValueError(f"snapshot at version {self.originator_version}: its content is "
                             f"kept by reference ({self.state[CONTENT_REF]}) and was not read "
                             "back")
        agent = super().mutate(_)
        # A snapshot read back from parts carries the addresses its read made, whole: the
        # first agent made from it takes them (later ones, from the JSON form, their own).
        made = self.__dict__.pop(PART_HASHES, None)
        agent.__dict__["_parts"] = (made if isinstance(made, PartHashes)
                                    else PartHashes.from_json(agent.__dict__.get("_parts")))
        # As a reader checked it against its root (application.part_content), else none.
        known = OpenCalls.from_json(agent.__dict__.pop(OPEN_CALLS, None))
        content = agent.__dict__.get("content")
        if known is not None and isinstance(content, dict):
            agent.__dict__[OPEN_CALLS] = (content["tool_calls"], known)
        return agent


register_legacy_topics()  # rows stored before the move into ctxstore name `domain.aggregate`
