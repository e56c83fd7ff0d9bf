"""Property: restoring source@P gives the target exactly the content of source@P, whatever the
history (all event types, checkpoints in between), the point (version, time, checkpoint), the
base used (snapshot, checkpoint, events) and the validation level; on SQLite and PostgreSQL.

The expected hashes come from folding the generated envelopes in the test, independently of the
store's snapshots, checkpoints and restore code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from restore_support import Kit, env, new_agent

from ctxstore.domain.points import Point
from ctxstore.domain.state import apply_event, content_hash, empty_content

WORDS = ["alpha", "beta", "gamma", "delta", "épsilon", "zeta 🙂"]
MEMORY_IDS = ["m0", "m1", "m2", "m3"]
KINDS = ["short_term", "long_term", "episodic", "semantic"]
SIMPLE = ["message", "reasoning", "tool_call", "tool_result", "memory_stored",
          "memory_linked", "mcp_state", "checkpoint"]


def draw_event(data: st.DataObject, kind: str, memories: set[str], calls: list[str]
               ) -> dict[str, Any]:
    word = data.draw(st.sampled_from(WORDS))
    if kind == "message":
        out: dict[str, Any] = {"role": data.draw(st.sampled_from(["user", "assistant"])),
                               "content": word}
        if data.draw(st.booleans()):
            out["message_id"] = data.draw(st.sampled_from(["x1", "x2", "x3", "x4"]))
        return out
    if kind == "reasoning":
        return {"thread_id": data.draw(st.sampled_from(["t1", "t2"])), "content": word,
                "step": data.draw(st.integers(0, 3))}
    if kind == "tool_call":
        return {"call_id": f"c{len(calls)}", "tool": "search", "arguments": {"q": word}}
    if kind == "tool_result":
        call_id = data.draw(st.sampled_from(calls)) if calls else "orphan"
        return {"call_id": call_id, "output": {"hits": [word]},
                "is_error": data.draw(st.booleans())}
    if kind == "memory_stored":
        return {"memory_id": data.draw(st.sampled_from(MEMORY_IDS)),
                "kind": data.draw(st.sampled_from(KINDS)), "content": word,
                "importance": data.draw(st.sampled_from([0.1, 0.5, 1.0]))}
    if kind == "memory_updated":
        return {"memory_id": data.draw(st.sampled_from(sorted(memories))), "content": word}
    if kind == "memory_forgotten":
        return {"memory_id": data.draw(st.sampled_from(sorted(memories))), "reason": word}
    if kind == "memory_linked":
        return {"source_id": data.draw(st.sampled_from(MEMORY_IDS)),
                "target_id": data.draw(st.sampled_from(MEMORY_IDS)), "relation": "about"}
    assert kind == "mcp_state"
    return {"server": data.draw(st.sampled_from(["fs", "git"])), "state": {"status": word}}


def build_history(kit: Kit, data: st.DataObject) -> tuple[str, dict[int, str],
                                                          list[tuple[datetime, int]], list[Any]]:
    """Record a random valid history; returns agent, hash per version, (time, version) of
    wire events, checkpoints."""
    agent = new_agent("src")
    start = datetime.now(UTC) + timedelta(days=1)  # after "now", so checkpoints keep order
    content = empty_content()
    expected = {0: content_hash(content)}
    times: list[tuple[datetime, int]] = []
    checkpoints: list[Any] = []
    memories: set[str] = set()
    calls: list[str] = []
    version = 0
    batch: list[Any] = []

    def flush() -> None:
        if batch:
            result = kit.store.record(batch)
            assert not result.rejected, result.rejected
            batch.clear()

    for _ in range(data.draw(st.integers(1, 18), label="events")):
        kinds = SIMPLE + (["memory_updated", "memory_forgotten"] if memories else [])
        if version == 0:
            kinds.remove("checkpoint")  # an agent exists from its first event
        kind = data.draw(st.sampled_from(kinds))
        if kind == "checkpoint":
            flush()
            checkpoints.append(kit.checkpoints.capture(agent, label=f"at {version}"))
            version += 1
            expected[version] = expected[version - 1]
            continue
        payload = draw_event(data, kind, memories, calls)
        at = start + timedelta(seconds=version)
        envelope = env(agent, kind, payload, at=at)
        apply_event(content, kind, envelope.data_dict())
        if kind == "memory_stored":
            memories.add(payload["memory_id"])
        elif kind == "memory_forgotten":
            memories.discard(payload["memory_id"])
        elif kind == "tool_call":
            calls.append(payload["call_id"])
        version += 1
        expected[version] = content_hash(content)
        times.append((at, version))
        batch.append(envelope)
    flush()
    assert kit.version(agent) == version
    return agent, expected, times, checkpoints


PROPERTY = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@PROPERTY
@given(data=st.data())
def test_restore_gives_the_source_content_at_the_point(kit: Kit, data: st.DataObject) -> None:
    agent, expected, times, checkpoints = build_history(kit, data)
    latest = max(expected)
    level = data.draw(st.sampled_from(["basic", "comprehensive"]), label="validation")

    # A version, into a new agent (a fork).
    point = data.draw(st.integers(0, latest), label="version")
    target = new_agent("dst")
    result = kit.restore.restore(agent, Point.of_version(point), target,
                                 validation_level=level)
    assert result.content_hash == expected[point] == kit.hash(target)
    assert (result.mode, result.target_version, result.source_version) == ("fork", 1, point)
    assert result.base_version + result.events_replayed == point

    # A time, into the same fresh target again (an existing agent now).
    if times:
        at, at_version = data.draw(st.sampled_from(times), label="time")
        result = kit.restore.restore(agent, Point.of_time(at + timedelta(milliseconds=500)),
                                     target, validation_level=level)
        assert result.content_hash == expected[at_version] == kit.hash(target)
        assert result.mode == "into_existing" and result.target_version == 2

    # A checkpoint, by id alone.
    if checkpoints:
        cp = data.draw(st.sampled_from(checkpoints), label="checkpoint")
        other = new_agent("cp")
        result = kit.restore.restore(None, Point.of_checkpoint(cp.package_id), other,
                                     validation_level=level)
        assert result.content_hash == expected[cp.version] == kit.hash(other)
        assert result.base == "checkpoint" and result.events_replayed == 0

    # Rewind in place: a new event; the old branch stays readable.
    point = data.draw(st.integers(0, latest), label="rewind to")
    result = kit.restore.restore(agent, Point.of_version(point), validation_level=level)
    assert result.mode == "rewind" and result.target_version == latest + 1
    assert kit.hash(agent) == expected[point]
    assert kit.hash(agent, latest) == expected[latest]
    # The rewound state is itself a point that restores (through whichever base is nearest).
    again = new_agent("again")
    result = kit.restore.restore(agent, Point.of_version(latest + 1), again,
                                 validation_level="comprehensive")
    assert kit.hash(again) == expected[point]
