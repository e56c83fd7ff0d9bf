"""The orjson read path decodes exactly what eventsourcing's JSONTranscoder does, on every
shape it may meet, and the store reads its events and snapshots through it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from support import make_settings

from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.persistence.transcoder import FastJSONTranscoder

NOW = datetime(2025, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    plain, fast = JSONTranscoder(), FastJSONTranscoder()
    for t in (plain, fast):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            t.register(transcoding)
    return plain, fast


@pytest.mark.parametrize("value", [
    {"timestamp": NOW, "agent_id": "a", "data": {"role": "user", "content": "hi"}},
    {"timestamp": NOW, "topic": "x", "state": {"_created_on": NOW, "_modified_on": NOW,
                                              "content": {"messages": [{"a": 1}]}}},
    {"deep": {"deeper": {"deepest": NOW}}},  # a tag past the revived levels
    {"data": {"_type_": "user field", "other": 1}},  # a user key named _type_
    {"text": "_type_", "n": 1},  # the tag's bytes inside a string
    {"big": 2**70, "when": NOW},  # past orjson's 64-bit integers
    {"nan": float("inf"), "id": ID},  # not JSON: the stdlib's own extension
    {"amount": Decimal("1.10"), "ids": [ID, {"id": ID}]},
    {"unicode": "héllo \u2603 \U0001f600", "empty": {}, "list": [], "null": None},
    [1, {"when": NOW}],
])
def test_decodes_as_json_transcoder_does(value: Any) -> None:
    plain, fast = transcoders()
    data = plain.encode(value)
    assert fast.encode(value) == data  # writes are unchanged
    assert fast.decode(data) == plain.decode(data)


def test_store_reads_through_it(tmp_path: Path, postgres_dsn: str) -> None:
    settings = make_settings("postgres", tmp_path, postgres_dsn, snapshot_interval=5)
    store = build_store(settings)
    assert isinstance(store.mapper.transcoder, FastJSONTranscoder)
    store.record([make_envelope("fast", "message", {"role": "user", "content": f"m{i}"},
                                event_id=str(uuid.uuid4()), session_id="s1")
                  for i in range(12)])
    again = build_store(settings)
    agent = again.agent_at("fast", 11)  # snapshot at 10, one event after
    assert agent.version == 11 and agent.created_on.tzinfo is not None
    assert isinstance(agent.id, uuid.UUID)
    assert again.context("fast") == store.context("fast")
