"""The malloc arena limit of the long-running commands (infrastructure.malloc_arenas), in a
process of its own (the limit stays for the life of a process)."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_glibc_takes_the_limit_and_zero_leaves_its_default() -> None:
    out = run("from ctxstore.infrastructure.malloc_arenas import limit_arenas; "
              "print(limit_arenas(2), limit_arenas(0))")
    assert out == "True False"  # this machine's Python runs on glibc


def test_the_setting_defaults_to_two_and_takes_zero() -> None:
    out = run("import os; os.environ['CONTEXT_MALLOC_ARENAS'] = '0'; "
              "from ctxstore.infrastructure.settings import Settings; "
              "print(Settings().malloc_arenas, Settings(malloc_arenas=2).malloc_arenas)")
    assert out == "0 2"
    assert run("from ctxstore.infrastructure.settings import Settings; "
               "print(Settings().malloc_arenas)") == "2"
