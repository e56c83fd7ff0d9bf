"""`ctxstore demo` runs end to end on SQLite with the bundled real traces, and says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from application.store import ContextStore
from infrastructure.bootstrap import build_store
from infrastructure.cli.demo import CONVERSATION_AGENT, SAMPLES, run_demo
from infrastructure.settings import Settings

CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def test_demo_command_runs_without_servers(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "160",
           # the demo must not need PostgreSQL or NATS: point both at nothing
           "CONTEXT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "CONTEXT_NATS_URL": "nats://127.0.0.1:1"}
    proc = subprocess.run([CTXSTORE, "demo", "--workdir", str(tmp_path / "demo")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for heading in ("1. Import real agent traces", "2. Agents", "3. History of",
                    "4. The agent now"):
        assert heading in out
    assert CONVERSATION_AGENT in out
    assert (tmp_path / "demo" / "ctxstore.sqlite").exists()


def test_demo_steps_show_real_points(tmp_path: Path) -> None:
    store: ContextStore = build_store(Settings(storage_backend="sqlite",
                                               storage_path=tmp_path / "s"))
    shown = run_demo(store, SAMPLES, tmp_path)
    assert shown["imported"] == shown["reimported_duplicates"] > 400
    assert shown["now"] == store.agent_at(CONVERSATION_AGENT).version
    assert shown["earlier_hash"] == store.agent_at(CONVERSATION_AGENT, 40).state()["content_hash"]
    assert 0 < shown["at_time_version"] <= shown["now"]
