"""The event loop of a long-running asyncio command (`ctxstore ingest`): uvloop where installed.

Why: `ctxstore serve` runs on uvloop already (uvicorn's `loop="auto"` picks it, and it comes
with `uvicorn[standard]`, a dependency), while the ingest worker ran on asyncio's own loop,
whose selector, transports and stream reader are Python: about a quarter of the worker's
event-loop thread went to receiving NATS messages (py-spy, bench/ingest_nats.py --preload).
On uvloop the worker spent ~4.5 % less CPU an event there (seven runs each, taking turns).
Where uvloop is not installed (Windows, PyPy: uvicorn[standard] leaves it out), asyncio's loop,
as uvicorn does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop maker when it is importable, else None (asyncio's default loop)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_factory` gives (Ctrl-C handled as asyncio.run
    handles it: the main task is cancelled)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def loop_name() -> str:
    """The running loop's kind, for a start-up line: "uvloop" or "asyncio"."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"
