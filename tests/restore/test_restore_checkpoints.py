"""Checkpoints: every field, capture at a version, retention (visible to catalogue readers in
the CheckpointTaken events), the size limit, encryption, and automatic capture."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from eventsourcing.cipher import AESCipher
from restore_support import Kit, env, msg, new_agent

from ctxstore.application.checkpoint_runner import CheckpointRunner
from ctxstore.application.errors import (
    AgentNotFound,
    InvalidRequest,
    PackageTooLarge,
    PointNotFound,
)
from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json
from ctxstore.infrastructure.bootstrap import build_checkpoint_runner

SECRET = "the-launch-code-is-swordfish"


def rich_agent(kit: Kit) -> str:
    agent = new_agent()
    kit.store.record([
        env(agent, "message", {"role": "user", "content": SECRET}, session="s1"),
        env(agent, "reasoning", {"thread_id": "t1", "content": "think"}, session="s1"),
        env(agent, "tool_call", {"call_id": "c1", "tool": "search", "arguments": {"q": 1}},
            session="s2"),
        env(agent, "tool_result", {"call_id": "c1", "output": [1, 2]}, session="s2"),
        env(agent, "memory_stored", {"memory_id": "k", "kind": "semantic", "content": SECRET},
            session="s2"),
    ])
    return agent


def test_capture_fills_every_field(kit: Kit) -> None:
    agent = rich_agent(kit)
    cp = kit.checkpoints.capture(agent, label="release", access_level="shared")
    state = kit.store.context(agent, version=5)
    assert (cp.agent_id, cp.version, cp.label, cp.access_level) == (agent, 5, "release",
                                                                     "shared")
    assert cp.session_id == "s2" and cp.package_id.startswith("ckpt-")
    assert cp.integrity_hash == state["content_hash"]
    assert cp.original_size_bytes == len(canonical_json(state))
    assert cp.compressed_size_bytes > 0
    # The seed plan's ratio: compressed ÷ original, and the saving beside it.
    assert cp.compression_ratio == round(cp.compressed_size_bytes / cp.original_size_bytes, 4)
    assert cp.space_saving == round(1 - cp.compressed_size_bytes / cp.original_size_bytes, 4)
    # The default strategy (CONTEXT_COMPRESSION_STRATEGY=semantic) and target (0.3).
    assert cp.compression_strategy.startswith("semantic/zstd-19+long")
    assert cp.target_compression_ratio == 0.3
    assert cp.target_met == (cp.compressed_size_bytes / cp.original_size_bytes <= 0.3)
    assert (cp.message_count, cp.reasoning_thread_count, cp.tool_invocation_count,
            cp.memory_count) == (1, 1, 1, 1)
    assert cp.is_encrypted is False and cp.origin == "captured" and cp.event_version == 6
    assert kit.checkpoints.get(cp.package_id) == cp
    assert kit.checkpoints.list(agent) == [cp]
    loaded, body = kit.checkpoints.load(cp.package_id)
    assert loaded == cp and body == state
    # The CheckpointTaken event on the agent's stream carries the same metadata.
    event = kit.store.history(agent, types=["checkpoint_taken"])[0]
    assert event.version == 6
    assert {k: event.data[k] for k in cp.to_dict()} == cp.to_dict()
    assert event.data["pruned_package_ids"] == []


def test_capture_at_a_version_and_bad_requests(kit: Kit) -> None:
    agent = rich_agent(kit)
    cp = kit.checkpoints.capture(agent, version=2, session_id="chosen")
    assert cp.version == 2 and cp.session_id == "chosen" and cp.message_count == 1
    assert cp.integrity_hash == kit.hash(agent, 2)
    with pytest.raises(PointNotFound, match="no version 99"):
        kit.checkpoints.capture(agent, version=99)
    with pytest.raises(AgentNotFound):
        kit.checkpoints.capture("nobody")
    with pytest.raises(InvalidRequest, match="access_level"):
        kit.checkpoints.capture(agent, access_level="everyone")
    with pytest.raises(InvalidRequest, match="label"):
        kit.checkpoints.capture(agent, label="x" * 300)
    assert len(kit.checkpoints.list(agent)) == 1 and kit.version(agent) == 6


def test_retention_prunes_the_oldest_and_says_so(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(max_checkpoints_per_agent=3)
    agent, other = new_agent(), new_agent("other")
    kit.store.record([msg(other, "x")])
    kept_other = kit.checkpoints.capture(other)
    taken = []
    for i in range(5):
        kit.store.record([msg(agent, f"m{i}")])
        taken.append(kit.checkpoints.capture(agent, label=f"n{i}"))
    assert [c.package_id for c in kit.checkpoints.list(agent)] == [
        c.package_id for c in taken[2:]]
    assert kit.checkpoints.list(other) == [kept_other]  # per agent
    events = kit.store.history(agent, types=["checkpoint_taken"])
    assert len(events) == 5  # history is never deleted
    assert [e.data["pruned_package_ids"] for e in events] == [
        [], [], [], [taken[0].package_id], [taken[1].package_id]]
    # A pruned checkpoint is gone as a point; the versions it captured are not.
    with pytest.raises(PointNotFound):
        kit.restore.restore(agent, Point.of_checkpoint(taken[0].package_id), new_agent())
    result = kit.restore.restore(agent, Point.of_version(taken[0].version), new_agent())
    assert result.content_hash == taken[0].integrity_hash


def test_max_package_size_refuses_and_writes_nothing(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(max_package_size_mb=0.001)  # 1048 bytes
    agent = new_agent()
    kit.store.record([msg(agent, "small")])
    small = kit.checkpoints.capture(agent)
    kit.store.record([msg(agent, "x" * 2000)])
    with pytest.raises(PackageTooLarge, match="CONTEXT_MAX_PACKAGE_SIZE_MB"):
        kit.checkpoints.capture(agent)
    assert kit.checkpoints.list(agent) == [small] and kit.version(agent) == 3
    report = kit.checkpoints.capture_changed()
    assert report.captured == [] and agent in report.failed


def test_encrypted_store_encrypts_package_bodies(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(encryption_enabled=True, encryption_key=AESCipher.create_key(32))
    agent = rich_agent(kit)
    cp = kit.checkpoints.capture(agent, label=SECRET)
    assert cp.is_encrypted is True
    rows = kit.sql(f"SELECT meta, body FROM {kit.table('packages')}")
    assert rows and all(SECRET.encode() not in bytes(r[0]) + bytes(r[1]) for r in rows)
    assert kit.checkpoints.get(cp.package_id).label == SECRET
    result = kit.restore.restore(None, Point.of_checkpoint(cp.package_id), new_agent())
    assert result.content_hash == cp.integrity_hash


def test_changed_agents_and_capture_changed(kit: Kit) -> None:
    a, b = new_agent("a"), new_agent("b")
    kit.store.record([msg(a, "1"), msg(b, "1")])
    assert {a, b} <= set(kit.checkpoints.changed_agents())
    report = kit.checkpoints.capture_changed(label="auto")
    assert {c.agent_id for c in report.captured} >= {a, b}
    assert all(c.label == "auto" for c in report.captured)
    assert kit.checkpoints.changed_agents() == []
    kit.store.record([msg(b, "2")])
    assert kit.checkpoints.changed_agents() == [b]
    kit.restore.restore(b, Point.of_version(1), a)  # a restore is a change too
    assert set(kit.checkpoints.changed_agents()) == {a, b}


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_runner_checkpoints_changed_agents_on_its_interval(make_kit: Callable[..., Kit]
                                                           ) -> None:
    kit = make_kit(checkpoint_interval_minutes=0.002)  # 0.12 s
    runner = build_checkpoint_runner(kit.settings, kit.checkpoints)
    assert isinstance(runner, CheckpointRunner)
    assert runner.interval_seconds == pytest.approx(0.12)
    a, b = new_agent("a"), new_agent("b")
    kit.store.record([msg(a, "1"), msg(b, "1")])
    with runner:
        assert runner.running
        wait_for(lambda: len(kit.checkpoints.list(a)) == 1 and len(kit.checkpoints.list(b)) == 1)
        rounds = runner.rounds
        wait_for(lambda: runner.rounds >= rounds + 3)
        assert len(kit.checkpoints.list(a)) == 1  # unchanged agents are not captured again
        kit.store.record([msg(a, "2")])
        wait_for(lambda: len(kit.checkpoints.list(a)) == 2)
        assert kit.checkpoints.list(a)[-1].version == 3 and len(kit.checkpoints.list(b)) == 1
    assert not runner.running
    count = len(kit.checkpoints.list())
    kit.store.record([msg(a, "3")])
    time.sleep(0.4)
    assert len(kit.checkpoints.list()) == count  # stopped means stopped
    disabled = kit.settings.model_copy(update={"checkpoint_interval_minutes": 0})
    # No default schedule: the runner still runs the agents' own (test_restore_auto_schedules).
    assert build_checkpoint_runner(disabled, kit.checkpoints).interval_seconds is None
