"""Restore an agent's context from any point of any agent (DESIGN §3): rewind, fork, merge.

The source state is built from the nearest base at or before the point (a snapshot or a
checkpoint of the source agent, whichever is later) plus the events after it. Validation:
`basic` checks the base (a checkpoint against its integrity hash, a snapshot that it reads
back as this agent at its version); `comprehensive` also folds the full event history without
snapshots and requires the same hash. Exactly one `ContextRestored` event is then appended to
the target; on any error nothing is written, and history is never deleted.

With a part store, a `replace` restore never reads or copies the target's own content (it is
replaced whole: the target is a shell, application.store evicts it, its next read folds it),
and a `basic` one of the source's latest version builds nothing either (base `latest`): the
source as the store holds it folded knows its parts' addresses, so the restore writes only the
parts the store lacks and an event naming the root, whatever the content's size. One at an
earlier version starts from its snapshot read in part when the content is large (each list's
last pages, the rest standing unread: domain.content_tree), so it costs what the events after
that snapshot changed; an event that looks at an item not read makes it read the whole.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.errors import (
    AgentNotFound,
    ContextStoreError,
    CorruptedCheckpoint,
    CorruptedSnapshot,
    IntegrityMismatch,
    InvalidRequest,
    PointNotFound,
)
from ctxstore.application.operation_log import recorded
from ctxstore.application.package_port import PackageRow
from ctxstore.application.ports import AgentSummary, PointRows
from ctxstore.application.restore_model import (
    Base,
    MergeStrategy,
    RestoreMode,
    RestoreResult,
    SourceState,
    ValidationLevel,
    basic_checks,
    check_validation_level,
    holds_of,
    restore_result,
)
from ctxstore.application.retry import retry_on_conflict
from ctxstore.application.store import ContextStore, HandedContent
from ctxstore.domain.agent_id import (
    LOCAL_TENANT,
    aggregate_id,
    check_agent_key,
    named_tenant,
    plain_agent_id,
)
from ctxstore.domain.aggregate import RESTORE_STRATEGIES, AgentContext
from ctxstore.domain.clock import from_us
from ctxstore.domain.content_tree import InPart, NotRead, read_in_part
from ctxstore.domain.merge import merge_content
from ctxstore.domain.pages import PAGE, TREE_PREFIX, PartHashes
from ctxstore.domain.parts import ALL_PARTS, only_parts, replace_parts
from ctxstore.domain.points import Point
from ctxstore.domain.state import CONTENT_FIELDS, content_hash, own_containers

__all__ = ["RestoreResult", "RestoreService", "SourceState", "agent_from_state"]

agent_from_state = AgentContext.based_on
# How a restore by reference reads its base snapshot: each list's last page (appends), from
# 4,096 items in its lists (below, whole: it is then handed to the target, whose next write
# folds nothing); and the pages of the open calls the snapshot records, where the results
# that follow it go (AgentContext.unread_call_answered), so the restore records them in turn
# (the target's windows then read in part too). The page before the last was read too, for
# results of calls made just before the snapshot: the record places those, so it was a page
# more to fetch and decode a fork (0.25 ms at 100k events) for a snapshot with no record
# alone, which is read whole instead when such a result follows it.
IN_PART = InPart(pages=1, from_items=64 * PAGE, open_calls=True)


class RestoreService:
    def __init__(self, store: ContextStore, checkpoints: CheckpointService):
        self.store = store
        self.checkpoints = checkpoints

    # Reading a point -------------------------------------------------------------------------
    def resolve_version(self, agent_id: str, point: Point, tenant: str = LOCAL_TENANT,
                        summary: AgentSummary | None = None) -> int:
        """The version a version/time/latest point names (checkpoint points: see state_at);
        `agent_id` is the agent's key, `tenant` the reader (of checkpoints); `summary`: its
        catalogue row when the caller just read it."""
        check_agent_key(agent_id)
        if summary is None:
            summary = self.store.summary(agent_id)
        if summary is None:
            raise AgentNotFound(plain_agent_id(agent_id))
        if point.version is not None:
            if point.version > summary.version:
                raise PointNotFound(f"agent {plain_agent_id(agent_id)!r} has no version "
                                    f"{point.version} (latest is {summary.version})")
            return point.version
        if point.at is not None:
            # DESIGN §3: the state after the last event at or before the time; before the
            # first event that is version 0, the empty state, as reading the context says.
            return self.store.version_at(agent_id, point.at)
        if point.checkpoint_id is not None:
            return self.checkpoints.get(point.checkpoint_id, tenant).version
        return summary.version

    def state_at(self, agent_id: str | None, point: Point,
                 validation_level: str = "basic", tenant: str = LOCAL_TENANT,
                 summary: AgentSummary | None = None) -> SourceState:
        """The content of `agent_id` (a key) at `point`, built from the nearest base plus
        events; a checkpoint point is one `tenant` may read.

        `agent_id` may be None for a checkpoint point (the checkpoint names its agent);
        `summary`: the agent's catalogue row when the caller just read it.
        Raises AgentNotFound, PointNotFound/CheckpointNotFound, IntegrityMismatch subclasses.
        """
        level = check_validation_level(validation_level)
        keeper = self.store.part_content
        if level == "comprehensive" and keeper is not None:
            # Every part it reads is checked against its address (plain reads trust them).
            with keeper.checking():
                return self._state_at(agent_id, point, level, tenant, summary)
        return self._state_at(agent_id, point, level, tenant, summary)

    def _state_at(self, agent_id: str | None, point: Point, level: ValidationLevel,
                  tenant: str, summary: AgentSummary | None, tail: InPart | None = None,
                  read: PointRows | None = None) -> SourceState:
        """`state_at`; `tail`: a snapshot base read in part (domain.content_tree), for a
        restore by reference alone (the source is then `in_part` when items stand unread;
        NotRead when an event after the snapshot looks at one); `read`: the point's rows
        read already (with the catalogue rows), used when they are of its version."""
        if point.checkpoint_id is not None:
            return self._state_from_checkpoint(agent_id, point, level, tenant)
        if agent_id is None:
            raise InvalidRequest("source agent_id is required unless the point is a checkpoint")
        version = self.resolve_version(agent_id, point, tenant, summary)
        if version == 0:
            empty = AgentContext.start(agent_id)
            return self._source(empty, point, "empty", 0, None, 0, level)
        # The snapshot, its chain link and the events after it: one question (PostgreSQL).
        rows = (read if read is not None and read.upto == version
                else self.store.point_rows(agent_id, version))
        base_agent, base, base_version, checkpoint_id = self._base(agent_id, version, tail,
                                                                   rows)
        try:
            agent, replayed = self.store.replay(agent_id, base_agent, after=base_version,
                                                upto=version, tail=tail, rows=rows)
        except (IntegrityMismatch, NotRead):
            raise
        except Exception as e:  # noqa: BLE001 - an unreadable event is damage, not a bug
            raise IntegrityMismatch(
                f"agent {plain_agent_id(agent_id)!r}: events after version {base_version} "
                f"cannot be replayed ({type(e).__name__}: {e})"
            ) from e
        if agent is None or agent.version != version:
            raise PointNotFound(f"agent {plain_agent_id(agent_id)!r} has no version {version}")
        source = self._source(agent, point, base, base_version, checkpoint_id, replayed, level)
        if level == "comprehensive" and base in ("snapshot", "checkpoint"):
            return self._compare_with_history(source)
        if tail is not None and read_in_part(agent.content):
            return replace(source, in_part=True)
        return source

    def _state_from_checkpoint(self, agent_id: str | None, point: Point,
                               level: ValidationLevel, tenant: str) -> SourceState:
        checkpoint, state = self.checkpoints.load(cast(str, point.checkpoint_id), tenant)
        if agent_id is not None and agent_id != checkpoint.agent_id:
            raise PointNotFound(f"checkpoint {checkpoint.package_id!r} belongs to agent "
                                f"{plain_agent_id(checkpoint.agent_id)!r}, not "
                                f"{plain_agent_id(agent_id)!r}")
        agent = AgentContext.based_on(checkpoint.agent_id, state, checkpoint.version)
        source = replace(self._source(agent, point, "checkpoint", checkpoint.version,
                                      checkpoint.package_id, 0, level),
                         parts=checkpoint.parts, reference_hash=checkpoint.integrity_hash)
        if level == "comprehensive":
            if checkpoint.origin == "imported":
                raise IntegrityMismatch(
                    f"checkpoint {checkpoint.package_id!r} was imported: its event history is "
                    "in another store, so only basic validation (its integrity hash) is possible"
                )
            self._check_chain_head(checkpoint)
            return self._compare_with_history(source)
        return source

    def _check_chain_head(self, checkpoint: Checkpoint) -> None:
        """The history the checkpoint was built from is still the agent's: the chain's link at
        its version is the one it committed to (application.chain)."""
        if checkpoint.chain_head is None:
            return  # captured before chains
        now = self.store.chain_link(aggregate_id(checkpoint.agent_id), checkpoint.version)
        if now != checkpoint.chain_head:
            raise IntegrityMismatch(
                f"checkpoint {checkpoint.package_id!r}: the history up to version "
                f"{checkpoint.version} changed since it was captured (its chain head is not the "
                "chain's link there; run ctxstore verify)")

    def _base(self, agent_id: str, version: int, tail: InPart | None = None,
              rows: PointRows | None = None
              ) -> tuple[AgentContext | None, Base, int, str | None]:
        """The latest snapshot (`tail`: read so) or own checkpoint at or before `version`
        (None: from scratch). A checkpoint is looked for only when no snapshot is within the
        snapshot interval before `version`: loading one decodes its whole state, which costs
        more than the at most `interval` events it could save replaying (and the question,
        a statement, is most of a fork's cost otherwise)."""
        snapshot_agent, snapshot_version = self._snapshot(agent_id, version, tail, rows)
        near = (snapshot_agent is not None
                and version - snapshot_version <= self.store.snapshot_policy.interval)
        best = None if near else self._checkpoint_base(agent_id, version, snapshot_version)
        if best is not None:
            _, state = self.checkpoints.load(best.package_id, best.tenant)
            return (AgentContext.based_on(agent_id, state, best.version), "checkpoint",
                    best.version, best.package_id)
        if snapshot_agent is not None:
            return snapshot_agent, "snapshot", snapshot_version, None
        return None, "events", 0, None

    def _checkpoint_base(self, agent_id: str, version: int, after: int) -> PackageRow | None:
        """The latest whole checkpoint of the agent's own history at a version in
        (after, version]: only those captured here (with an event) are of its history, and a
        partial one lacks parts of the state."""
        rows = [row for row in self.checkpoints.packages.select_packages(agent_id)
                if row.event_version is not None and after < row.version <= version]
        for row in sorted(rows, key=lambda r: r.version, reverse=True):
            if not self.checkpoints.metadata(row).is_partial:
                return row
        return None

    def _snapshot(self, agent_id: str, version: int, tail: InPart | None = None,
                  rows: PointRows | None = None) -> tuple[AgentContext | None, int]:
        """The latest snapshot at or before `version`, checked to read back as this agent
        (`tail`: its content read in part, domain.content_tree; `rows`: read already)."""
        agent = self.store.snapshot_at(agent_id, version, tail, rows)  # CorruptedSnapshot
        if agent is None:
            return None, 0
        where = f"snapshot of {agent_id!r} at version {agent.version}"
        try:
            ok = (isinstance(agent, AgentContext) and agent.agent_id == agent_id
                  and agent.version <= version
                  and isinstance(agent.content, dict)
                  and all(f in agent.content for f in CONTENT_FIELDS))
            if ok:
                agent.content_hash()  # every part not already known from the snapshot
        except Exception as e:  # noqa: BLE001 - unreadable bytes mean a damaged snapshot
            raise CorruptedSnapshot(f"{where} cannot be read ({type(e).__name__}: {e})") from e
        if not ok:
            raise CorruptedSnapshot(f"{where} is not this agent's state at that version")
        return agent, agent.version

    def _compare_with_history(self, source: SourceState) -> SourceState:
        """Fold every event from the start (no snapshot, no checkpoint) and compare hashes of
        the source's parts (a partial checkpoint's others are empty, so left out of both).
        The source, with the history's hash as the one it was checked against."""
        try:
            agent, _ = self.store.replay(source.agent_id, None, upto=source.version)
        except Exception as e:  # noqa: BLE001
            raise IntegrityMismatch(f"agent {plain_agent_id(source.agent_id)!r}: history "
                                    f"cannot be replayed ({type(e).__name__}: {e})") from e
        if source.version == 0:
            agent = AgentContext.start(source.agent_id)
        if agent is None or agent.version != source.version:
            raise IntegrityMismatch(
                f"agent {plain_agent_id(source.agent_id)!r}: the event history has no version "
                f"{source.version}"
            )
        rebuilt = content_hash(only_parts(agent.content, source.parts))
        if rebuilt != source.content_hash:
            error = CorruptedCheckpoint if source.base == "checkpoint" else CorruptedSnapshot
            used = (f"checkpoint {source.checkpoint_id!r}" if source.base == "checkpoint"
                    else f"snapshot at version {source.base_version}")
            raise error(
                f"agent {plain_agent_id(source.agent_id)!r} at version {source.version}: the "
                f"{used} gives {source.content_hash}, the full event history gives {rebuilt}"
                + ("" if source.parts == ALL_PARTS
                   else f" (comparing its parts: {', '.join(source.parts)})")
            )
        return replace(source, reference_hash=rebuilt,
                       checked=(*source.checked, "the point rebuilt from the full event history "
                                "(no snapshot, no checkpoint): its hash agrees"))

    def _source(self, agent: AgentContext, point: Point, base: Base, base_version: int,
                checkpoint_id: str | None, replayed: int, level: ValidationLevel
                ) -> SourceState:
        return SourceState(
            agent_id=agent.agent_id,
            version=agent.version,
            point=point,
            # Built for this read alone, or (base `latest`) a cached agent's, never let out.
            content=agent.content,
            content_hash=agent.content_hash(),
            part_hashes=agent.part_hashes.copy(),
            sessions=copy.deepcopy(agent.sessions),
            as_of=agent.modified_on.isoformat() if agent.modified_on else None,
            base=base,
            base_version=base_version,
            checkpoint_id=checkpoint_id,
            events_replayed=replayed,
            validation_level=level,
            checked=basic_checks(base, base_version, checkpoint_id, replayed),
            open_calls=None if (known := agent.open_calls_now()) is None else known.to_json(),
        )

    # Restoring -------------------------------------------------------------------------------
    def by_reference(self, point: Point, merge_strategy: str, validation_level: str) -> bool:
        """Whether a restore of an agent's point goes by reference (a `replace`, `basic`, of
        a version or time, with a part store): reading its source's point rows, which a
        caller may read ahead with its own (`restore`'s `point_rows`)."""
        return (merge_strategy == "replace" and point.checkpoint_id is None
                and self.store.part_content is not None and validation_level == "basic")

    def restore(
        self,
        source_agent_id: str | None,
        point: Point,
        target_agent_id: str | None = None,
        *,
        merge_strategy: str = "replace",
        validation_level: str = "basic",
        tenant: str | None = None,
        source_row: AgentSummary | None = None,
        rows: Mapping[str, AgentSummary | None] | None = None,
        point_rows: PointRows | None = None,
    ) -> RestoreResult:
        """Give `target_agent_id` (default: the source itself, a rewind) the source's content
        at `point`, replacing its own or merged into it, with one ContextRestored event.

        `source_agent_id` may be None when `point` is a checkpoint. With `tenant`, the source
        and an existing target must belong to it (a new target is created for it).
        Raises AgentNotFound, PointNotFound, IntegrityMismatch (and subclasses),
        InvalidRequest; on any error nothing is written. Every attempt's outcome goes to the
        store's operation log (application.operation_log), under the caller's tenant.
        `source_row`: the source's catalogue row when the caller just read it; `rows`: the
        catalogue rows it just read, by key (None: a key without a row), not asked again;
        `point_rows`: the source's rows at the point's version (StoreReads.point_rows) when
        the caller read them with its own.
        """
        # The agent written to, by its key ("" for a rewind named by its checkpoint alone).
        target = target_agent_id or source_agent_id or ""

        def whose() -> str:
            return tenant if tenant is not None else self.store.tenant_of(target)

        with self.store.one_connection.scope(), \
                recorded(self.store.operations, "restore", lambda: target, whose) as attempt:
            attempt.package_id = point.checkpoint_id
            return self._restore(source_agent_id, point, target_agent_id,
                                 merge_strategy=merge_strategy,
                                 validation_level=validation_level, tenant=tenant,
                                 source_row=source_row, given=rows or {},
                                 prefetched=point_rows)

    def _restore(self, source_agent_id: str | None, point: Point, target_agent_id: str | None,
                 *, merge_strategy: str, validation_level: str, tenant: str | None,
                 source_row: AgentSummary | None,
                 given: Mapping[str, AgentSummary | None],
                 prefetched: PointRows | None) -> RestoreResult:
        started = time.perf_counter()
        if merge_strategy not in RESTORE_STRATEGIES:
            raise InvalidRequest(f"merge_strategy: must be one of {', '.join(RESTORE_STRATEGIES)}"
                                 f", not {merge_strategy!r}")
        strategy = cast(MergeStrategy, merge_strategy)
        # The source's catalogue row, read once.
        known = source_row if source_agent_id is not None else None
        # A `replace` of an agent's own point, `basic`, with a part store: by reference.
        by_reference = source_agent_id is not None and self.by_reference(
            point, strategy, check_validation_level(validation_level))
        # The catalogue rows read so far, by key: the target's is used by the first attempt.
        rows: dict[str, AgentSummary | None] = dict(given)
        if by_reference:
            assert source_agent_id is not None
            source_key = check_agent_key(source_agent_id)
            target_key = check_agent_key(target_agent_id or source_agent_id)
            if known is not None:
                rows[source_key] = known
            # The rows not given, in one question (a fork: one round trip fewer); at a version
            # other than the latest, with the point's rows (one more: PostgreSQL pipelines
            # the two), wasted only when that version turns out to be the latest.
            missing = [k for k in dict.fromkeys((source_key, target_key)) if k not in rows]
            at_version = point.version is not None and point.version > 0 and (
                known is None or point.version < known.version)
            if missing and at_version and prefetched is None:
                assert point.version is not None
                found, prefetched = self.store.summaries_with_point(missing, source_key,
                                                                    point.version)
                rows.update(found)
            elif missing:
                rows.update(self.store.summaries(missing))
            known = rows[source_key]
            done = self._latest_by_reference(source_agent_id, known, point, target_agent_id,
                                             tenant, started, dict(rows))
            if done is not None:
                return done
        reader = tenant if tenant is not None else LOCAL_TENANT
        if by_reference:
            # Its snapshot read in part when large (IN_PART): what it costs is what the events
            # after that snapshot changed. An item not read that is needed (by an event, or
            # as a page the store lacks): read whole instead.
            try:
                source = self._state_at(source_agent_id, point, "basic", reader, known,
                                        IN_PART, prefetched)
                return self._restore_source(source, point, target_agent_id, strategy, tenant,
                                            known, started, dict(rows))
            except NotRead:
                pass
        source = self.state_at(source_agent_id, point, validation_level, reader, known)
        return self._restore_source(source, point, target_agent_id, strategy, tenant, known,
                                    started, rows)

    def _restore_source(self, source: SourceState, point: Point, target_agent_id: str | None,
                        strategy: MergeStrategy, tenant: str | None,
                        known: AgentSummary | None, started: float,
                        read: dict[str, AgentSummary | None]) -> RestoreResult:
        """Give the target `source`'s content (replaced or merged), retried on conflicts.
        `read`: the catalogue rows this restore read (by key), which it may use up."""
        target_id = check_agent_key(target_agent_id or source.agent_id)
        rows = read
        if known:
            rows[source.agent_id] = known
        self._check_tenants(source.agent_id, target_id, point, tenant, rows)

        def restore_once() -> RestoreResult:
            summary = self._target_row(target_id, rows)
            keeper = self.store.part_content
            if keeper is not None and strategy == "replace" and source.parts == ALL_PARTS:
                # The target's own content is replaced whole: not read (nor copied); its
                # cache entry is counted as its source's (application.store).
                shell = self._shell(target_id, summary)
                hashes = source.part_hashes.copy()
                kept = keeper.keep(self._owner(target_id, tenant, summary), shell.id,
                                   source.content, hashes, remember=True, based=True)
                # Built for this restore alone: handed to the store for the target (unless
                # read in part: the target's next read then folds it from its parts).
                handed = None if source.in_part else HandedContent(
                    source.content, hashes, aggregate_id(source.agent_id))
                return self._append_by_reference(source, shell, kept.ref, point, tenant,
                                                 started, holds_of(source.content), handed,
                                                 summary)
            target = (self.store.agent_at(target_id) if summary is not None
                      else AgentContext.start(target_id))
            content = (merge_content(target.content, source.content) if strategy == "merge"
                       else source.content if source.parts == ALL_PARTS
                       # A partial checkpoint replaces its parts; the target keeps the rest.
                       else replace_parts(target.content, source.content, source.parts))
            event_id = f"restore-{uuid.uuid4().hex}"
            # The source's very content: its parts' addresses are the target's.
            hashes = (source.part_hashes.copy() if content is source.content
                      else PartHashes())
            ref = None
            if keeper is not None:
                # By reference: the parts the store lacks (the source's tail since its last
                # snapshot; what a merge adds to the target) are written, and the event
                # records where the content is.
                ref = keeper.keep(self._owner(target_id, tenant, summary), target.id,
                                  content, hashes, based=content is source.content).ref
            # The content was built for this restore alone: handed over, not copied.
            target.restore(event_id=event_id, content=content, content_ref=ref, given=hashes,
                           timestamp=target.next_timestamp(datetime.now(UTC)),
                           provenance=self._provenance(source, strategy, point))
            expected = target.content_hash()
            self.store.append(target, tenant=tenant or LOCAL_TENANT, row=summary)
            return self._result(source, target, strategy, point, event_id, expected, started,
                                holds_of(target.content))

        return retry_on_conflict(
            restore_once, f"could not restore into {plain_agent_id(target_id)!r}: it kept changing")

    def _latest_by_reference(self, source_agent_id: str, summary: AgentSummary | None,
                             point: Point, target_agent_id: str | None, tenant: str | None,
                             started: float, read: dict[str, AgentSummary | None]
                             ) -> RestoreResult | None:
        """A `replace` restore of the source's latest version without decoding or copying its
        content: the agent as the store holds it folded (cached) knows its parts' addresses,
        so only the parts the store lacks (the dirty tail pages, their group nodes, the root)
        are hashed and written, and the target's event records the root. None when the point
        is not the latest version (or it moved on meanwhile): the caller builds the state.
        `summary`: the source's catalogue row; `read`: the rows read so far, by key."""
        if summary is None or (point.version is None and point.at is not None) \
                or point.version not in (None, summary.version):
            return None
        target_id = check_agent_key(target_agent_id or source_agent_id)
        rows = {**read, check_agent_key(source_agent_id): summary}
        self._check_tenants(source_agent_id, target_id, point, tenant, rows)
        keeper = self.store.part_content
        assert keeper is not None

        def fork(agent: AgentContext) -> RestoreResult | None:
            if agent.version != summary.version:
                return None
            # Under the store's write lock: the folded agent does not change meanwhile. Its
            # content is the cached agent's own, so it never leaves this call.
            source = self._source(agent, point, "latest", agent.version, None, 0, "basic")
            holds = holds_of(agent.content)

            def restore_once() -> RestoreResult:
                summary = self._target_row(target_id, rows)
                shell = self._shell(target_id, summary)
                kept = keeper.keep(self._owner(target_id, tenant, summary), shell.id,
                                   agent.content, agent.part_hashes, remember=True,
                                   based=True)
                # The cached source's own containers stay its own: the target gets copies of
                # them (its items shared), not of the content.
                handed = HandedContent(own_containers(agent.content), agent.part_hashes.copy(),
                                       agent.id)
                return self._append_by_reference(source, shell, kept.ref, point, tenant,
                                                 started, holds, handed, summary)

            return retry_on_conflict(restore_once, f"could not restore into "
                                     f"{plain_agent_id(target_id)!r}: it kept changing")

        # At the version just read: a cached source there needs no question for newer events.
        return self.store.with_latest(source_agent_id, fork, summary.version)

    @staticmethod
    def _shell(target_id: str, summary: AgentSummary | None) -> AgentContext:
        """The target as a shell (`summary`: its catalogue row, None: not written yet)."""
        if summary is None:
            return AgentContext.shell(target_id, 0, None, None)
        return AgentContext.shell(summary.agent_id, summary.version, from_us(summary.created_us),
                                  from_us(summary.updated_us))

    def _append_by_reference(self, source: SourceState, shell: AgentContext,
                             ref: dict[str, Any], point: Point, tenant: str | None,
                             started: float, holds: dict[str, int],
                             handed: HandedContent | None, row: AgentSummary | None
                             ) -> RestoreResult:
        """`row`: the target's catalogue row as this attempt read it (None: it has none)."""
        event_id = f"restore-{uuid.uuid4().hex}"
        if source.open_calls is not None:
            # Beside the root it describes: windows of the target's versions folded from
            # this event read its content in part (application.store_reads).
            ref = {**ref, "open": source.open_calls}
        shell.restore_by_reference(event_id=event_id, content_ref=ref,
                                   timestamp=shell.next_timestamp(datetime.now(UTC)),
                                   provenance=self._provenance(source, "replace", point))
        self.store.append(shell, tenant=tenant or LOCAL_TENANT, handed=handed, row=row)
        # The root's address is the content hash (domain.content_tree): the source's own.
        return self._result(source, shell, "replace", point, event_id,
                            TREE_PREFIX + ref["root"], started, holds)

    @staticmethod
    def _owner(target_id: str, tenant: str | None, summary: AgentSummary | None) -> str:
        """The tenant whose parts the target's content is kept among (`summary`: the
        target's, None when it is not written yet), asked of no one."""
        return (tenant if tenant is not None else summary.tenant if summary is not None
                else named_tenant(target_id))

    @staticmethod
    def _provenance(source: SourceState, strategy: MergeStrategy, point: Point
                    ) -> dict[str, Any]:
        return {
            # As its tenant knows it (a public checkpoint's agent may be another's).
            "source_agent_id": plain_agent_id(source.agent_id),
            "source_version": source.version,
            "checkpoint_id": source.checkpoint_id,
            "strategy": strategy,
            "point": point.to_dict(),
            "validation_level": source.validation_level,
            "source_content_hash": source.content_hash,
            **({} if source.parts == ALL_PARTS else {"parts": list(source.parts)}),
        }

    @staticmethod
    def _result(source: SourceState, target: AgentContext, strategy: MergeStrategy,
                point: Point, event_id: str, content_hash: str, started: float,
                holds: dict[str, int]) -> RestoreResult:
        mode: RestoreMode = (
            "rewind" if target.agent_id == source.agent_id
            else "into_existing" if target.version > 1 else "fork")
        return restore_result(
            source=source,
            holds=holds,
            source_agent_id=plain_agent_id(source.agent_id),
            target_agent_id=plain_agent_id(target.agent_id),
            mode=mode,
            point=point.to_dict(),
            source_version=source.version,
            source_content_hash=source.content_hash,
            base=source.base,
            base_version=source.base_version,
            snapshot_version=source.snapshot_version,
            checkpoint_id=source.checkpoint_id,
            events_replayed=source.events_replayed,
            merge_strategy=strategy,
            validation_level=source.validation_level,
            event_id=event_id,
            target_version=target.version,
            content_hash=content_hash,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            parts=source.parts,
        )

    def _target_row(self, target_id: str, rows: dict[str, AgentSummary | None]
                    ) -> AgentSummary | None:
        """The target's catalogue row: the one this restore read already, for its first
        attempt (a writer in between fails the append, and the retry reads it again)."""
        if target_id in rows:
            return rows.pop(target_id)
        return self.store.summary(target_id)

    def _check_tenants(self, source_id: str, target_id: str, point: Point,
                       tenant: str | None, rows: dict[str, AgentSummary | None]) -> None:
        """`rows`: the catalogue rows read so far by key, which this adds to (one read of
        each agent per restore, not one per question)."""
        if tenant is None:
            return
        if point.checkpoint_id is None:
            # A checkpoint's readers are the caller's call (its access level: a public
            # checkpoint may be restored by any tenant); an agent's are its tenant's alone.
            self._check_tenant(source_id, tenant, rows, must_exist=True)
        self._check_tenant(target_id, tenant, rows, must_exist=False)

    def _check_tenant(self, agent_id: str, tenant: str, rows: dict[str, AgentSummary | None],
                      *, must_exist: bool) -> None:
        if agent_id not in rows:
            rows[agent_id] = self.store.summary(agent_id)
        summary = rows[agent_id]
        if summary is None:
            if must_exist:
                raise AgentNotFound(plain_agent_id(agent_id))
            return
        if summary.tenant != tenant:
            raise ContextStoreError(f"agent {plain_agent_id(agent_id)!r} belongs to another tenant")
