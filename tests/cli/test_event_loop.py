"""The event loop the long-running asyncio command runs on (infrastructure.event_loop)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from ctxstore.infrastructure import event_loop


async def kind() -> tuple[str, str]:
    return event_loop.loop_name(), type(asyncio.get_running_loop()).__module__


def test_runs_on_uvloop_where_it_is_installed() -> None:
    # uvloop comes with uvicorn[standard], a dependency, wherever uvicorn installs it (Linux).
    assert importlib.util.find_spec("uvloop") is not None
    name, module = event_loop.run(kind())
    assert (name, module.split(".")[0]) == ("uvloop", "uvloop")


def test_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert event_loop.loop_factory() is None
    name, module = event_loop.run(kind())
    assert name == "asyncio" and module.startswith("asyncio")


def test_returns_what_main_returns_and_raises_what_it_raises() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def failing() -> None:
        raise LookupError("from main")

    assert event_loop.run(answer()) == 42
    with pytest.raises(LookupError, match="from main"):
        event_loop.run(failing())
    # Each run closes its loop: none is left set for this thread.
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
