"""Restore refuses damaged or missing sources with a clear error and writes nothing; rewinds and
forks chain; history is never deleted. Damage is done to the real stored rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from restore_support import Kit, env, msg, new_agent, snapshot_versions

from ctxstore.application.errors import (
    AgentNotFound,
    CheckpointNotFound,
    ContextStoreError,
    CorruptedCheckpoint,
    CorruptedSnapshot,
    InvalidRequest,
    PointNotFound,
)
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json


def seeded(kit: Kit, n: int = 12) -> str:
    agent = new_agent()
    kit.store.record([msg(agent, f"message {i}") for i in range(n)])
    return agent


def test_rewind_twice_and_fork_a_fork(kit: Kit) -> None:
    agent = seeded(kit, 6)
    h = {v: kit.hash(agent, v) for v in range(7)}
    first = kit.restore.restore(agent, Point.of_version(4))
    second = kit.restore.restore(agent, Point.of_version(2))
    assert (first.target_version, second.target_version) == (7, 8)
    assert kit.hash(agent) == h[2]
    # Rewind to the first rewind: version 7 holds the content of version 4.
    third = kit.restore.restore(agent, Point.of_version(7), validation_level="comprehensive")
    assert third.content_hash == h[4] == kit.hash(agent)
    assert kit.hash(agent, 6) == h[6]  # the old branch stays readable
    assert [i.type for i in kit.store.history(agent)][-3:] == ["context_restored"] * 3

    fork = new_agent("fork")
    kit.restore.restore(agent, Point.of_version(5), fork)
    kit.store.record([msg(fork, "only in the fork")])
    fork_of_fork = new_agent("fork2")
    result = kit.restore.restore(fork, Point.latest(), fork_of_fork,
                                 validation_level="comprehensive")
    assert result.content_hash == kit.hash(fork) == kit.hash(fork_of_fork)
    assert kit.store.context(fork_of_fork)["messages"][-1]["content"] == "only in the fork"
    provenance = kit.store.history(fork_of_fork)[0].data["provenance"]
    assert provenance["source_agent_id"] == fork and provenance["source_version"] == 2
    assert provenance["strategy"] == "replace"


def test_missing_points_are_clear_errors_and_write_nothing(kit: Kit) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    agent = new_agent()
    kit.store.record([msg(agent, f"m{i}", at=start + timedelta(minutes=i)) for i in range(3)])
    target = new_agent("t")
    cases: list[tuple[Callable[[], object], type[Exception], str]] = [
        (lambda: kit.restore.restore(agent, Point.of_version(4), target), PointNotFound,
         "no version 4"),
        (lambda: kit.restore.restore(agent, Point.of_checkpoint("ckpt-nope"), target),
         CheckpointNotFound, "ckpt-nope"),
        (lambda: kit.restore.restore("nobody", Point.of_version(1), target), AgentNotFound,
         "nobody"),
        (lambda: kit.restore.restore(agent, Point.latest(), target, merge_strategy="blend"),
         InvalidRequest, "merge_strategy"),
        (lambda: kit.restore.restore(agent, Point.latest(), target, validation_level="max"),
         InvalidRequest, "validation_level"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words):
            call()
    assert kit.store.index.agent(target) is None
    assert kit.version(agent) == 3
    # A time between events names the version before it.
    result = kit.restore.restore(agent, Point.of_time(start + timedelta(minutes=1, seconds=30)),
                                 target)
    assert result.source_version == 2 and result.content_hash == kit.hash(agent, 2)


def test_a_time_before_the_first_event_is_the_empty_state_for_every_reader(kit: Kit) -> None:
    """DESIGN §3: a time names the state after the last event at or before it, so before the
    first event it is version 0, the empty state: the context, diff and restore agree."""
    start = datetime(2030, 1, 1, tzinfo=UTC)
    agent = new_agent()
    kit.store.record([msg(agent, f"m{i}", at=start + timedelta(minutes=i)) for i in range(2)])
    before = Point.of_time(start - timedelta(days=1))
    empty = kit.store.context(agent, at=before.at)
    assert empty["version"] == 0 and empty["content_hash"] == kit.hash(agent, 0)

    by_time = kit.services.diff.diff(agent, before, Point.latest())
    by_version = kit.services.diff.diff(agent, Point.of_version(0), Point.latest())
    assert by_time.base.version == 0 and by_time.base.point == {"at": before.at.isoformat()}
    assert ({k: v for k, v in by_time.to_dict().items() if k != "base"}
            == {k: v for k, v in by_version.to_dict().items() if k != "base"})
    assert [m["content"] for m in by_time.messages_added] == ["m0", "m1"]

    target = new_agent("t")
    kit.store.record([msg(target, "to be emptied")])
    result = kit.restore.restore(agent, before, target)
    assert result.source_version == 0
    assert result.content_hash == empty["content_hash"] == kit.hash(target)
    assert kit.store.context(target)["messages"] == []


def test_garbled_snapshot_bytes_are_detected(kit: Kit) -> None:
    agent = seeded(kit, 12)  # snapshots every 5 events: at 5 and 10
    assert snapshot_versions(kit, agent) == [5, 10]
    kit.sql(f"UPDATE {kit.table('snapshots')} SET state = ? WHERE originator_id = ? "
            "AND originator_version = 10",
            (b"\x28\xb5\x2f\xfd" + b"garbage" * 8, kit.uuid_param(aggregate_id(agent))))
    target = new_agent("t")
    with pytest.raises(CorruptedSnapshot, match="version 10 cannot be read"):
        kit.restore.restore(agent, Point.of_version(11), target)
    with pytest.raises(CorruptedSnapshot):
        kit.restore.restore(agent, Point.of_version(11), agent)
    assert kit.store.index.agent(target) is None and kit.version(agent) == 12
    # Points before the damaged snapshot do not need it.
    ok = kit.restore.restore(agent, Point.of_version(9), target)
    assert ok.base == "snapshot" and ok.base_version == 5 and ok.events_replayed == 4


def test_comprehensive_validation_catches_a_snapshot_with_other_content(kit: Kit) -> None:
    agent = seeded(kit, 7)
    stored = kit.sql(f"SELECT topic, state FROM {kit.table('snapshots')} "
                     "WHERE originator_id = ? AND originator_version = 5",
                     (kit.uuid_param(aggregate_id(agent)),))
    assert stored
    from eventsourcing.persistence import StoredEvent

    snapshot = kit.store.mapper.to_domain_event(StoredEvent(
        originator_id=aggregate_id(agent), originator_version=5, topic=stored[0][0],
        state=bytes(stored[0][1])))
    assert kit.store.part_content is not None  # its content is kept as parts: read it back
    snapshot = kit.store.part_content.resolve_snapshot(snapshot)
    state = dict(snapshot.state)  # type: ignore[attr-defined]
    state["content"] = {**state["content"], "messages": [{"role": "user", "content": "forged"}]}
    forged = dataclasses.replace(snapshot, state=state)  # type: ignore[type-var]
    kit.sql(f"UPDATE {kit.table('snapshots')} SET state = ? WHERE originator_id = ? "
            "AND originator_version = 5",
            (kit.store.mapper.to_stored_event(forged).state, kit.uuid_param(aggregate_id(agent))))
    target = new_agent("t")
    with pytest.raises(CorruptedSnapshot, match="full event history gives"):
        kit.restore.restore(agent, Point.of_version(6), target,
                            validation_level="comprehensive")
    assert kit.store.index.agent(target) is None
    # Basic validation only checks that the snapshot reads back as this agent.
    basic = kit.restore.state_at(agent, Point.of_version(6))
    assert basic.base == "snapshot" and basic.content["messages"][0]["content"] == "forged"


def _package_body(kit: Kit, package_id: str) -> bytes:
    return kit.stored_body(package_id)


def _set_package_body(kit: Kit, package_id: str, body: bytes) -> None:
    kit.set_stored_body(package_id, body)


@pytest.mark.parametrize("damage", ["flip", "truncate", "other_state"])
def test_damaged_checkpoint_bytes_are_detected(kit: Kit, damage: str) -> None:
    agent = seeded(kit, 3)
    cp = kit.checkpoints.capture(agent, label="before damage")
    kit.store.record([msg(agent, "later")])
    body = _package_body(kit, cp.package_id)
    if damage == "flip":
        body = body[:-6] + bytes([body[-6] ^ 0x55]) + body[-5:]
    elif damage == "truncate":
        body = body[: len(body) // 2]
    else:  # a well-formed body of another state: only the integrity hash can tell
        other = kit.store.context(agent)
        body = kit.checkpoints.codec.encode(canonical_json(other))
    _set_package_body(kit, cp.package_id, body)
    target = new_agent("t")
    with pytest.raises(CorruptedCheckpoint, match=cp.package_id):
        kit.restore.restore(agent, Point.of_checkpoint(cp.package_id), target)
    with pytest.raises(CorruptedCheckpoint):
        kit.services.packages.export(cp.package_id)
    # A version point past the checkpoint uses it as its base, and so refuses too.
    with pytest.raises(CorruptedCheckpoint):
        kit.restore.restore(agent, Point.of_version(4), target)
    assert kit.store.index.agent(target) is None


def test_comprehensive_restore_from_a_checkpoint_checks_history(
        make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(snapshot_interval=100)
    agent = seeded(kit, 3)
    kit.store.record([env(agent, "memory_stored",
                          {"memory_id": "k", "kind": "semantic", "content": "v"})])
    cp = kit.checkpoints.capture(agent)
    kit.store.record([env(agent, "memory_forgotten", {"memory_id": "k"})])
    result = kit.restore.restore(agent, Point.of_checkpoint(cp.package_id),
                                 validation_level="comprehensive")
    assert result.base == "checkpoint" and result.content_hash == cp.integrity_hash
    assert "k" in kit.store.context(agent)["memories"]
    # Version 6 (the checkpoint is of 4, its event is 5): checkpoint base + 2 events.
    later = kit.restore.state_at(agent, Point.of_version(6))
    assert (later.base, later.base_version, later.events_replayed) == ("checkpoint", 4, 2)
    assert later.content_hash == kit.hash(agent, 6)


def test_tenant_rules(kit: Kit) -> None:
    """The restore service names agents by key (domain.agent_id); with `tenant`, the source
    and the target must both be that tenant's."""
    mine, theirs = new_agent("mine"), new_agent("theirs")
    kit.store.record([msg(mine, "a")], tenant="t1")
    kit.store.record([msg(theirs, "b")], tenant="t2")
    my_key, their_key = kit.store.key_for("t1", mine), kit.store.key_for("t2", theirs)
    assert kit.store.index.agent(mine) is None  # namespaced: not the local tenant's `mine`
    with pytest.raises(ContextStoreError, match="another tenant"):
        kit.restore.restore(my_key, Point.latest(), their_key, tenant="t1")
    with pytest.raises(ContextStoreError, match="another tenant"):
        kit.restore.restore(their_key, Point.latest(), kit.store.key_for("t1", new_agent("x")),
                            tenant="t1")
    fresh = kit.store.key_for("t1", new_agent("fresh"))
    kit.restore.restore(my_key, Point.latest(), fresh, tenant="t1")
    summary = kit.store.index.agent(fresh)
    assert summary is not None and summary.tenant == "t1"
