"""A CLI command on the embedded SQLite store never imports psycopg: importing it (libpq and its
TLS libraries with it) was a sixth of such a command's time (persistence.pg_lazy). Each command
runs in a fresh interpreter, as a user's does; the PostgreSQL path is the rest of the suite's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI's entry point as the `ctxstore` script does, then says which modules it loaded.
RUN = """
import json, sys
sys.argv = ["ctxstore", *json.loads(sys.argv[1])]
from ctxstore.infrastructure.cli.main import app
try:
    app()
except SystemExit as e:
    if e.code not in (0, None):
        raise
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("psycopg", "psycopg_pool")
                        or m == "eventsourcing.postgres")), file=sys.stderr)
"""


def loaded(store: Path, *args: str) -> list[str]:
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "sqlite", "CONTEXT_STORAGE_PATH": str(store)}
    proc = subprocess.run([sys.executable, "-c", RUN, json.dumps(args)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return list(json.loads(proc.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [
    ("agents", "--json"),
    ("context", "bot-1", "--json"),
    ("history", "bot-1", "--json"),
    ("checkpoint", "bot-1", "--json"),
    ("restore", "bot-1", "--version", "1", "--into", "bot-2", "--json"),
])
def test_a_sqlite_command_never_imports_psycopg(tmp_path: Path, args: tuple[str, ...]) -> None:
    store = tmp_path / "store"
    assert loaded(store, "record", "bot-1", "--type", "message",
                  "--data", '{"role": "user", "content": "hi"}') == []
    assert loaded(store, *args) == []
