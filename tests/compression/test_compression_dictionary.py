"""Trained zstd dictionaries on real SQLite and PostgreSQL: new writes use the newest (before
any, the built-in one), older frames (the built-in dictionary, no dictionary, an older one)
stay readable, also after a restart and from a process that started before the dictionary
existed; the CLI trains and reports."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from support import make_settings
from typer.testing import CliRunner

from ctxstore.application.dictionary_port import CompressionError
from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.infrastructure.bootstrap import build_store, dictionary_catalog
from ctxstore.infrastructure.cli import common
from ctxstore.infrastructure.cli.main import app
from ctxstore.infrastructure.persistence.builtin_dictionary import BUILTIN_DICTIONARY_ID
from ctxstore.infrastructure.persistence.dictionaries import DictionarySettingError
from ctxstore.infrastructure.persistence.dictionary_training import (
    compression_stats,
    train_dictionary,
)
from ctxstore.infrastructure.settings import Settings

BUILTIN = BUILTIN_DICTIONARY_ID
TOOLS = ("search_flights", "book_reservation", "get_user_details", "cancel_reservation")


def events(agent: str, start: int, count: int) -> list[AnyEnvelope]:
    """Agent-like events: repeated keys, roles, tool names and phrasing, varying details."""
    out: list[AnyEnvelope] = []
    for i in range(start, start + count):
        tool = TOOLS[i % len(TOOLS)]
        kind = i % 3
        if kind == 0:
            out.append(make_envelope(agent, "message", {
                "role": "user" if i % 2 else "assistant",
                "content": f"Please check reservation {i:05d} for passenger #{i * 7 % 997} "
                           f"flying from JFK to SFO on 2024-05-{i % 28 + 1:02d}."},
                event_id=str(uuid.uuid4())))
        elif kind == 1:
            out.append(make_envelope(agent, "tool_call", {
                "call_id": f"call_{i}", "tool": tool,
                "arguments": {"reservation_id": f"R{i:05d}", "cabin": "economy"}},
                event_id=str(uuid.uuid4())))
        else:
            out.append(make_envelope(agent, "tool_result", {
                "call_id": f"call_{i - 1}",
                "output": {"status": "confirmed", "reservation_id": f"R{i - 1:05d}",
                           "total": i * 13 % 900}},
                event_id=str(uuid.uuid4())))
    return out


def frame_dict_ids(store: ContextStore, agent: str) -> list[int]:
    """The dictionary id in the zstd frame header of each raw stored row of the agent."""
    rows = store.recorder.select_events(aggregate_id(agent))
    return [zstandard.get_frame_parameters(r.state).dict_id for r in rows]


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    yield make_settings(str(request.param), tmp_path, dsn, snapshot_interval=50)
    while BUILT:  # their connection pools, or each test leaves its connections open
        BUILT.pop().close()


BUILT: list[ContextStore] = []


def store_of(settings: Settings) -> ContextStore:
    """A store the test's teardown closes."""
    BUILT.append(build_store(settings))
    return BUILT[-1]


def test_dictionary_lifecycle(settings: Settings) -> None:
    store = store_of(settings)
    early = store_of(settings)  # started before any dictionary exists
    assert store.mapper.compressor.active_dictionary_id == BUILTIN  # type: ignore[union-attr]
    store.record(events("dict-agent", 0, 120))
    assert set(frame_dict_ids(store, "dict-agent")) == {BUILTIN}

    first = train_dictionary(store, dictionary_catalog(settings), samples=100, size=4096)
    assert first.dictionary.sample_count == 100
    assert first.previous_dictionary_id == BUILTIN
    store.record(events("dict-agent", 120, 30))
    ids = frame_dict_ids(store, "dict-agent")
    assert ids[:120] == [BUILTIN] * 120
    assert ids[120:] == [first.dictionary.dict_id] * 30

    # A second dictionary takes over new writes; frames of the first stay readable.
    second = train_dictionary(store, dictionary_catalog(settings), samples=150, size=4096)
    assert second.dictionary.dict_id != first.dictionary.dict_id
    assert second.previous_dictionary_id == first.dictionary.dict_id
    store.record(events("dict-agent", 150, 30))
    assert frame_dict_ids(store, "dict-agent")[150:] == [second.dictionary.dict_id] * 30

    expected = store.context("dict-agent")
    assert expected["version"] == 180
    assert len(expected["messages"]) == 60

    # Restart: a new store from the same settings loads both and uses the newest.
    again = store_of(settings)
    assert again.mapper.compressor.active_dictionary_id == second.dictionary.dict_id  # type: ignore[union-attr]
    assert again.context("dict-agent") == expected
    for version in (1, 119, 120, 121, 150, 151, 179):
        assert again.context("dict-agent", version=version) == store.context(
            "dict-agent", version=version)
    assert [h.version for h in again.history("dict-agent", limit=500)] == list(range(1, 181))
    # Snapshots (every 50 events) are compressed with the dictionary active when taken.
    snaps = again.snapshots.recorder.select_events(aggregate_id("dict-agent"))  # type: ignore[union-attr]
    snap_ids = [zstandard.get_frame_parameters(s.state).dict_id for s in snaps]
    assert snap_ids == [BUILTIN, BUILTIN, first.dictionary.dict_id]

    # A process started before both dictionaries fetches them when it meets their frames.
    assert early.context("dict-agent") == expected

    stats = compression_stats(again).as_dict()
    assert stats["events"] == 180
    assert stats["active_dictionary"] == second.dictionary.dict_id
    assert stats["events_by_dictionary"] == {
        str(BUILTIN): 120, str(first.dictionary.dict_id): 30, str(second.dictionary.dict_id): 30}
    per = stats["stored_bytes_per_event_by_dictionary"]
    # Trained on these very events, it beats the built-in one, which knows none of them.
    assert per[str(second.dictionary.dict_id)] < per[str(BUILTIN)]
    assert stats["ratio"] < 1


def test_dictionary_setting_pins_or_disables(settings: Settings) -> None:
    store = store_of(settings)
    store.record(events("pin-agent", 0, 100))
    first = train_dictionary(store, dictionary_catalog(settings), samples=100, size=4096)
    train_dictionary(store, dictionary_catalog(settings), samples=80, size=4096)

    pinned = store_of(settings.model_copy(
        update={"compression_dictionary": str(first.dictionary.dict_id)}))
    pinned.record(events("pin-agent", 100, 5))
    assert frame_dict_ids(pinned, "pin-agent")[100:] == [first.dictionary.dict_id] * 5

    plain = store_of(settings.model_copy(update={"compression_dictionary": "none"}))
    plain.record(events("pin-agent", 105, 5))
    assert frame_dict_ids(plain, "pin-agent")[105:] == [0] * 5
    assert plain.context("pin-agent")["version"] == 110

    # The built-in one by name or id, though trained ones exist.
    for choice in ("builtin", str(BUILTIN)):
        built_in = store_of(settings.model_copy(update={"compression_dictionary": choice}))
        start = built_in.context("pin-agent")["version"]
        built_in.record(events("pin-agent", start, 3))
        assert frame_dict_ids(built_in, "pin-agent")[start:] == [BUILTIN] * 3

    with pytest.raises(DictionarySettingError, match="dictionary 12345 is not stored"):
        store_of(settings.model_copy(update={"compression_dictionary": "12345"}))
    with pytest.raises(DictionarySettingError, match="must be a dictionary id"):
        store_of(settings.model_copy(update={"compression_dictionary": "zstd-max"}))


def test_training_needs_events(settings: Settings) -> None:
    store = store_of(settings)
    with pytest.raises(CompressionError, match="no events recorded yet"):
        train_dictionary(store, dictionary_catalog(settings))
    store.record(events("tiny", 0, 2))
    with pytest.raises(CompressionError, match="could not train"):
        train_dictionary(store, dictionary_catalog(settings), samples=2, size=100_000)
    assert dictionary_catalog(settings).all() == []


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    for key, value in settings.model_dump(mode="json").items():
        if value is not None:
            monkeypatch.setenv(f"CONTEXT_{key.upper()}", str(value))
    common.reset()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        common.reset()


def test_cli_train_and_stats(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    store_of(settings).record(events("cli-agent", 0, 90))
    trained = cli(settings, monkeypatch, "compression", "train", "--samples", "90", "--size",
                  "2048", "--json")
    assert trained.exit_code == 0, trained.output
    dict_id = json.loads(trained.stdout)["dict_id"]
    store_of(settings).record(events("cli-agent", 90, 10))
    stats = cli(settings, monkeypatch, "compression", "stats", "--json")
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.stdout)
    assert figures["active_dictionary"] == dict_id
    assert figures["events_by_dictionary"] == {str(BUILTIN): 90, str(dict_id): 10}
    table = cli(settings, monkeypatch, "compression", "stats")
    assert table.exit_code == 0 and f"dictionary {dict_id}" in table.stdout
    assert "the built-in dictionary" in table.stdout
    listed = cli(settings, monkeypatch, "compression", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(d["dict_id"], d["built_in"], d["active"]) for d in rows] == [
        (BUILTIN, True, False), (dict_id, False, True)]

    bad = cli(settings, monkeypatch, "compression", "train", "--size", "100")
    assert bad.exit_code != 0
    monkeypatch.setenv("CONTEXT_COMPRESSION_DICTIONARY", "777")
    pinned = cli(settings, monkeypatch, "compression", "stats")
    assert pinned.exit_code == 1
    assert "dictionary 777 is not stored" in pinned.output
    assert "Traceback" not in pinned.output
