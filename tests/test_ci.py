"""CI runs the whole suite: one failure never hides the others, and nothing is retried away."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STOPS_EARLY = {"-x", "--exitfirst"}


def _pytest_args_of_make(env: dict[str, str]) -> list[str]:
    """PYTEST_ARGS as `make test` would expand it (the Makefile itself, plus one print rule)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-pytest-args"],
        input="print-pytest-args:\n\t@echo $(PYTEST_ARGS)\n", cwd=ROOT, env=env,
        capture_output=True, text=True, check=True)
    return shlex.split(done.stdout)


def test_make_test_does_not_stop_at_the_first_failure() -> None:
    # The Makefile's own default: not what a calling make (MAKEFLAGS) or the caller set.
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTEST_ARGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    args = _pytest_args_of_make(env)
    assert not STOPS_EARLY & set(args), args
    assert not any(a.startswith("--maxfail") for a in args), args


def test_ci_run_runs_make_test_without_stopping_early_or_rerunning(tmp_path: Path) -> None:
    """`.ci/run` through a `make` that records its arguments: `test`, no -x, reruns disabled,
    and make's exit status (a failure) is the script's."""
    record = tmp_path / "make-args"
    fake = tmp_path / "make"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {shlex.quote(str(record))}\nexit 3\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    make_args = record.read_text().splitlines()
    assert make_args[0] == "test"
    overrides = [a.removeprefix("PYTEST_ARGS=") for a in make_args if a.startswith("PYTEST_ARGS=")]
    assert len(overrides) == 1, make_args
    pytest_args = shlex.split(overrides[0])
    assert not STOPS_EARLY & set(pytest_args), pytest_args
    assert "no:rerunfailures" in pytest_args, pytest_args
