"""The collector settings of the long-running commands (infrastructure.gc_tuning)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ctxstore.infrastructure.gc_tuning import tune_gc
from ctxstore.infrastructure.settings import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_tuning_raises_the_young_threshold_and_freezes_the_startup_heap() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    assert tune_gc(50_000) == before
    assert gc.get_threshold() == (50_000, *before[1:])
    assert gc.get_freeze_count() > 1000  # this test process's modules, at least


@pytest.mark.usefixtures("restored_gc")
def test_zero_leaves_the_collector_as_it_was() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    tune_gc(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_setting_defaults_to_tuned_and_reads_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTEXT_GC_YOUNG_THRESHOLD", raising=False)
    assert Settings().gc_young_threshold == 50_000
    monkeypatch.setenv("CONTEXT_GC_YOUNG_THRESHOLD", "0")
    assert Settings().gc_young_threshold == 0
