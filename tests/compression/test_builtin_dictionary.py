"""The built-in zstd dictionary on real SQLite and PostgreSQL: a new store writes its small rows
with it and its large ones without (which compress faster so), anything reads both (a bare
compressor too: another process, a tool), `none` turns it off, and it never serves a
checkpoint body or stands in for a trained dictionary's choice of inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zstandard
from support import make_settings, store_opener, user_message

from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.infrastructure.bootstrap import build_checkpoint_codec, dictionary_catalog
from ctxstore.infrastructure.persistence.builtin_dictionary import (
    BUILTIN_DICTIONARY_ID,
    BUILTIN_DICTIONARY_PATH,
    builtin_dictionary,
)
from ctxstore.infrastructure.persistence.zstd_compressor import BUILTIN_BELOW, ZstdCompressor
from ctxstore.infrastructure.settings import Settings

BUILTIN = BUILTIN_DICTIONARY_ID


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    return make_settings(str(request.param), tmp_path, dsn, snapshot_interval=1000)


@pytest.fixture
def open_store(settings: Settings) -> Iterator[Callable[..., ContextStore]]:
    with store_opener(settings) as open_:
        yield open_



def frames(store: ContextStore, agent: str) -> list[bytes]:
    return [r.state for r in store.recorder.select_events(aggregate_id(agent))]


def dict_id(frame: bytes) -> int:
    return int(zstandard.get_frame_parameters(frame).dict_id)


def test_small_rows_use_it_large_ones_do_not_and_anything_reads_both(
        open_store: Callable[..., ContextStore]) -> None:
    store = open_store()
    assert store.mapper.compressor.active_dictionary_id == BUILTIN  # type: ignore[union-attr]
    small, large = "Please check my booking for Friday.", "word " * 2000
    recorded = store.record([user_message("b-agent", small), user_message("b-agent", large)])
    assert recorded.recorded == 2
    first, second = frames(store, "b-agent")
    assert (dict_id(first), dict_id(second)) == (BUILTIN, 0)
    assert [m["content"] for m in store.context("b-agent")["messages"]] == [small, large]
    # A compressor that loaded nothing from the store (a tool, a process started earlier)
    # reads the built-in dictionary's frames: every compressor holds it.
    bare = ZstdCompressor()
    assert small.encode() in bare.decompress(first)
    assert large.encode() in bare.decompress(second)


def test_none_turns_it_off_and_still_reads_its_frames(
        open_store: Callable[..., ContextStore]) -> None:
    open_store().record([user_message("n-agent", "written with the built-in dictionary")])
    plain = open_store(compression_dictionary="none")
    assert plain.mapper.compressor.active_dictionary_id is None  # type: ignore[union-attr]
    plain.record([user_message("n-agent", "written with none")])
    assert [dict_id(f) for f in frames(plain, "n-agent")] == [BUILTIN, 0]
    assert [m["content"] for m in plain.context("n-agent")["messages"]] == [
        "written with the built-in dictionary", "written with none"]


def test_checkpoint_bodies_are_written_without_it(
        settings: Settings, open_store: Callable[..., ContextStore]) -> None:
    store = open_store()
    for strategy in ("basic", "advanced"):
        codec = build_checkpoint_codec(
            settings.model_copy(update={"compression_strategy": strategy}),
            dictionary_catalog(settings), store)
        assert "dict" not in codec.strategy
        assert dict_id(codec.compressor.compress(b'{"messages":[]}')) == 0


def test_the_size_rule_is_the_built_in_dictionary_s_alone() -> None:
    compressor = ZstdCompressor(active_dictionary_id=BUILTIN)
    below, at = b"x" * (BUILTIN_BELOW - 1), b"y" * BUILTIN_BELOW
    assert dict_id(compressor.compress(below)) == BUILTIN
    assert dict_id(compressor.compress(at)) == 0
    assert compressor.decompress(compressor.compress(at)) == at
    # A trained dictionary, chosen by the user, serves every input as before.
    samples = [f'{{"type":"message","n":{i},"text":"hello {i % 7}"}}'.encode()
               for i in range(400)]
    trained = ZstdCompressor()
    trained_id = trained.add_dictionary(ZstdCompressor.train(samples, 1024))
    trained.activate(trained_id)
    assert dict_id(trained.compress(at)) == trained_id
    assert dict_id(trained.compress(below)) == trained_id


def test_the_dictionary_is_the_committed_one() -> None:
    data = builtin_dictionary()
    assert data == BUILTIN_DICTIONARY_PATH.read_bytes()
    assert zstandard.ZstdCompressionDict(data).dict_id() == BUILTIN
    # Below the ids zstd's trainer draws, so no trained dictionary ever shares it.
    assert 0 < BUILTIN < 32768
