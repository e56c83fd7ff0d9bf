"""glibc's malloc thresholds in the long-running commands (infrastructure.malloc_tuning).

Each probe runs in a fresh interpreter: the thresholds are the whole process's, and the
moving default is what the control case needs.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from ctxstore.infrastructure.settings import Settings

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="glibc's allocator is what is tuned")  # Linux CI has it

# After a 4 MiB mapped block is freed, glibc's moving threshold stands at 4 MiB, so a 1 MiB
# block comes from the heap; with the threshold fixed it is mapped apart (mallinfo2's hblks).
PROBE = """
import ctypes, json, sys
from ctxstore.infrastructure.settings import Settings
from ctxstore.infrastructure.{module} import {function}

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
applied = {function}({argument})
big = bytearray(4 << 20)
del big
before = libc.mallinfo2().hblks
middle = bytearray(1 << 20)
print(json.dumps({{"applied": applied, "mapped": libc.mallinfo2().hblks - before}}))
"""


def probe(argument: str, *, module: str = "malloc_tuning",
          function: str = "fix_malloc_thresholds", env: dict[str, str] | None = None
          ) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("MALLOC_", "CONTEXT_"))}
    environment.update(env or {})
    code = PROBE.format(module=module, function=function, argument=argument)
    out = subprocess.run([sys.executable, "-c", code], env=environment, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_fixed_threshold_maps_a_large_block_apart_after_a_larger_one_was_freed() -> None:
    assert probe("128 * 1024") == {"applied": True, "mapped": 1}


def test_zero_leaves_glibcs_moving_threshold_which_puts_it_on_the_heap() -> None:
    assert probe("0") == {"applied": False, "mapped": 0}


def test_the_operators_own_glibc_setting_stands() -> None:
    # glibc reads MALLOC_MMAP_THRESHOLD_ itself at start: 8 MiB keeps the 1 MiB block on
    # the heap, and the call leaves it so.
    assert probe("128 * 1024", env={"MALLOC_MMAP_THRESHOLD_": str(8 << 20)}) == {
        "applied": False, "mapped": 0}


def test_the_long_running_commands_tuning_applies_the_setting() -> None:
    tuned = probe("Settings()", module="process_tuning", function="tune_process")
    assert tuned["mapped"] == 1
    untuned = probe("Settings()", module="process_tuning", function="tune_process",
                    env={"CONTEXT_MALLOC_MMAP_THRESHOLD": "0"})
    assert untuned["mapped"] == 0


def test_the_setting_defaults_to_128_kib_and_refuses_what_glibc_would(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTEXT_MALLOC_MMAP_THRESHOLD", raising=False)
    assert Settings().malloc_mmap_threshold == 128 * 1024
    monkeypatch.setenv("CONTEXT_MALLOC_MMAP_THRESHOLD", str(64 << 20))
    with pytest.raises(ValueError, match="malloc_mmap_threshold"):
        Settings()
