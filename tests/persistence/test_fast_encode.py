"""Recorded events written with orjson read back, through eventsourcing's own JSONTranscoder,
as exactly the events that were written; anything outside the known shape takes the old path."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic
from pydantic_core import TzInfo

from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.persistence.fast_encode import encode_recorded, isoformat
from ctxstore.infrastructure.persistence.mapper import ContextMapper
from ctxstore.infrastructure.persistence.transcoder import FastJSONTranscoder
from ctxstore.infrastructure.persistence.zstd_compressor import ZstdCompressor

WHEN = datetime(2025, 6, 1, 8, 30, 0, 123456, tzinfo=UTC)


def transcoder(cls: type[JSONTranscoder] = JSONTranscoder) -> JSONTranscoder:
    t = cls()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        t.register(transcoding)
    return t


WIRE: list[tuple[str, dict[str, Any]]] = [
    ("message", {"role": "user", "content": "héllo ☃ \U0001f600 \"quoted\" \\ \n\t"}),
    ("message", {"role": "assistant", "content": [{"type": "text", "text": "x", "n": 1e16}],
                 "tokens": 2**62, "name": "bot"}),
    ("tool_call", {"call_id": "c", "tool": "t", "arguments": {"f": 0.1, "neg": -1.5e-300,
                                                              "deep": [[{"a": None}]]}}),
    ("tool_result", {"call_id": "c", "output": {"_type_": "user data", "more": "x"},
                     "is_error": True, "duration_ms": 3.25}),
    ("memory_stored", {"memory_id": "m", "kind": "semantic", "content": "",
                       "embedding": [0.0, -0.0, 1.7976931348623157e308], "importance": 1,
                       "metadata": {"": "", "k": [True, False]}}),
    ("mcp_state", {"server": "s", "state": {}}),
]


def recorded_events() -> list[Any]:
    agent = AgentContext.start("fast-encode")
    for i, (type_, data) in enumerate(WIRE):
        envelope = make_envelope("fast-encode", type_, data, event_id=f"e{i}")
        agent.record(event_id=envelope.event_id, type=envelope.type, data=envelope.data_dict(),
                     timestamp=WHEN + timedelta(seconds=i),
                     session_id="s" if i % 2 else None)
    return list(agent.collect_events())


@pytest.mark.parametrize("compressed", [False, True])
def test_recorded_events_round_trip_through_the_plain_transcoder(compressed: bool) -> None:
    compressor = ZstdCompressor(level=3) if compressed else None
    fast = ContextMapper(transcoder(FastJSONTranscoder), compressor=compressor)
    plain: Mapper[uuid.UUID] = Mapper(transcoder(), compressor=compressor)
    for event in recorded_events():
        stored = fast.to_stored_event(event)
        assert stored.topic == plain.to_stored_event(event).topic
        # Made without the dataclass's __init__: equal, field for field, to what it makes.
        made = StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                           stored.state)
        assert stored == made and list(vars(stored).items()) == list(vars(made).items())
        back = plain.to_domain_event(stored)
        assert type(back) is type(event) and vars(back) == vars(event)
        assert vars(fast.to_domain_event(stored)) == vars(event)


def test_fast_path_taken_for_recorded_only() -> None:
    t = transcoder()
    event = recorded_events()[0]
    state = {k: v for k, v in vars(event).items()
             if k not in ("originator_id", "originator_version")}
    assert encode_recorded(state, event, t) is not None
    restored = AgentContext.start("x")
    restored.restore(event_id="r", content={"messages": [], "reasoning": {}, "tool_calls": [],
                                            "memories": {}, "memory_links": [],
                                            "mcp_servers": {}},
                     provenance={"source": uuid.uuid4()}, timestamp=WHEN)
    other = restored.collect_events()[0]
    other_state = {k: v for k, v in vars(other).items()
                   if k not in ("originator_id", "originator_version")}
    assert encode_recorded(other_state, other, t) is None


@pytest.mark.parametrize("change", [
    {"data": {"n": 2**70}},  # past orjson's 64-bit integers
    {"data": {"when": datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2))).date()}},
    {"data": {"when": WHEN}},  # the transcoder tags it too, but it is not wire JSON
    {"extra": uuid.uuid4()},  # a field the known shape does not have
    {"session_id": 7},
])
def test_unexpected_values_fall_back_to_the_transcoder(change: dict[str, Any]) -> None:
    event = recorded_events()[0]
    state = {k: v for k, v in vars(event).items()
             if k not in ("originator_id", "originator_version")}
    state.update(change)
    if "when" in change.get("data", {}) and type(change["data"]["when"]) is datetime:
        # Still exact: tagged as the transcoder tags it.
        fast = encode_recorded(state, event, transcoder())
        assert fast is not None and transcoder().decode(fast) == state
        return
    assert encode_recorded(state, event, transcoder()) is None


def test_stored_bytes_decode_identically_to_the_transcoders_bytes() -> None:
    t = transcoder()
    for event in recorded_events():
        state = {k: v for k, v in vars(event).items()
                 if k not in ("originator_id", "originator_version")}
        fast = encode_recorded(dict(state), event, t)
        assert fast is not None
        assert t.decode(fast) == t.decode(t.encode(state))


def agent_snapshot() -> Any:
    agent = AgentContext.start("fast-encode")
    for event in recorded_events():
        event.mutate(agent)
    return agent.take_snapshot()


@pytest.mark.parametrize("compressed", [False, True])
def test_agent_snapshots_round_trip_through_the_plain_transcoder(compressed: bool) -> None:
    compressor = ZstdCompressor(level=3) if compressed else None
    fast = ContextMapper(transcoder(FastJSONTranscoder), compressor=compressor)
    plain: Mapper[uuid.UUID] = Mapper(transcoder(), compressor=compressor)
    snapshot = agent_snapshot()
    state = {k: v for k, v in vars(snapshot).items()
             if k not in ("originator_id", "originator_version")}
    assert encode_recorded(dict(state), snapshot, transcoder()) is not None  # the fast path
    stored = fast.to_stored_event(snapshot)
    back = plain.to_domain_event(stored)
    assert vars(back) == vars(snapshot)
    agent, again = back.mutate(None), snapshot.mutate(None)
    assert agent.part_hashes.to_json() == again.part_hashes.to_json()
    assert {**vars(agent), "_parts": None} == {**vars(again), "_parts": None}


@pytest.mark.parametrize("change", [
    {"extra": uuid.uuid4()},  # orjson would write a UUID as a plain string
    {"agent_id": 7},
    {"content": {"n": 2**70}},
])
def test_unexpected_snapshot_values_fall_back_to_the_transcoder(change: dict[str, Any]) -> None:
    snapshot = agent_snapshot()
    state = {k: v for k, v in vars(snapshot).items()
             if k not in ("originator_id", "originator_version")}
    state["state"] = {**state["state"], **change}
    assert encode_recorded(state, snapshot, transcoder()) is None
    other = {**state, "topic": "somewhere:Else", "state": agent_snapshot().state}
    assert encode_recorded(other, snapshot, transcoder()) is None


ZERO_OFFSET_TIMES = [
    WHEN, WHEN.replace(microsecond=0), WHEN.replace(microsecond=100000),
    datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    WHEN.replace(tzinfo=TzInfo(0)),  # what pydantic makes of a "Z"
    WHEN.replace(tzinfo=timezone(timedelta(0))),
]
OTHER_TIMES = [
    WHEN.replace(tzinfo=timezone(timedelta(hours=2))),
    WHEN.replace(tzinfo=TzInfo(-18000)),
    WHEN.replace(tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=15))),
    WHEN.replace(tzinfo=None),
]


@pytest.mark.parametrize("moment", ZERO_OFFSET_TIMES + OTHER_TIMES, ids=str)
def test_times_are_written_as_isoformat_writes_them(moment: datetime) -> None:
    """The stored bytes of a time are eventsourcing's (DatetimeAsISO: isoformat), whichever
    way this module writes them."""
    assert isoformat(moment) == moment.isoformat()
    event = recorded_events()[0]
    state = {k: v for k, v in vars(event).items()
             if k not in ("originator_id", "originator_version")}
    state["timestamp"] = moment
    fast = encode_recorded(state, event, transcoder())
    assert fast is not None
    assert json.loads(fast)["timestamp"] == {"_type_": "datetime_iso",
                                             "_data_": moment.isoformat()}


def test_isoformat_agrees_on_random_utc_times() -> None:
    rng = random.Random(16)
    for _ in range(20_000):
        moment = datetime.fromtimestamp(rng.randrange(0, 253402300800), UTC).replace(
            microsecond=rng.choice([0, rng.randrange(1_000_000), rng.randrange(10) * 100_000]))
        assert isoformat(moment) == moment.isoformat()


# Reading back: a Recorded event's state decoded without the generic mapper's steps -----------
class Counting(FastJSONTranscoder):
    """Counts the generic decodes (the fast path's fallback)."""

    generic = 0

    def decode(self, data: bytes) -> Any:
        Counting.generic += 1
        return super().decode(data)


def _stored_with(state: dict[str, Any]) -> StoredEvent:
    event = recorded_events()[0]
    body = {k: v for k, v in vars(event).items()
            if k not in ("originator_id", "originator_version")}
    body.update(state)
    return StoredEvent(event.originator_id, 1, get_topic(type(event)),
                       transcoder().encode(body))


@pytest.mark.parametrize("compressed", [False, True])
def test_recorded_events_read_back_as_the_plain_mapper_reads_them(compressed: bool) -> None:
    """Field for field and in the same order; a tool output holding a `_type_` key (user
    data) takes the generic path, as does anything the fast one does not expect."""
    compressor = ZstdCompressor(level=3) if compressed else None
    fast = ContextMapper(Counting(), compressor=compressor)
    for t in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        fast.transcoder.register(t)
    plain: Mapper[uuid.UUID] = Mapper(transcoder(), compressor=compressor)
    Counting.generic = 0
    events = recorded_events()
    for event in events:
        stored = fast.to_stored_event(event)
        for as_stored in (stored, StoredEvent(str(stored.originator_id),  # SQLite's ids
                                              stored.originator_version, stored.topic,
                                              stored.state)):
            back, expected = fast.to_domain_event(as_stored), plain.to_domain_event(stored)
            assert type(back) is AgentContext.Recorded
            assert list(vars(back).items()) == list(vars(expected).items())
            assert type(back.originator_id) is uuid.UUID
    assert Counting.generic == 2  # the tool result with `_type_` in its output, both times


@pytest.mark.parametrize("state", [
    {"timestamp": {"_type_": "decimal_str", "_data_": "1"}},  # another tag where the time is
    {"timestamp": "2025-06-01T08:30:00+00:00"},  # not tagged
    {"data": {"when": {"_type_": "datetime_iso", "_data_": "2025-06-01T08:30:00+00:00"}}},
    {"class_version": 1},
])
def test_an_unexpected_recorded_state_reads_as_the_plain_mapper_reads_it(
        state: dict[str, Any]) -> None:
    fast = ContextMapper(transcoder(FastJSONTranscoder))
    plain: Mapper[uuid.UUID] = Mapper(transcoder())
    stored = _stored_with(state)
    try:
        expected: Any = vars(plain.to_domain_event(stored))
    except Exception as e:  # noqa: BLE001 - then the fast mapper fails alike
        with pytest.raises(type(e)):
            fast.to_domain_event(stored)
        return
    assert vars(fast.to_domain_event(stored)) == expected


def test_a_damaged_recorded_row_is_reported_as_before() -> None:
    fast = ContextMapper(transcoder(FastJSONTranscoder), compressor=ZstdCompressor(level=3))
    stored = fast.to_stored_event(recorded_events()[0])
    damaged = StoredEvent(stored.originator_id, 1, stored.topic, stored.state[:-4])
    with pytest.raises(Exception, match="damaged zstd frame.*Recorded .* version 1"):
        fast.to_domain_event(damaged)
