"""`ctxstore demo` runs end to end on SQLite with the bundled real traces, and says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.cli.demo import CONVERSATION_AGENT, SAMPLES, run_demo
from ctxstore.infrastructure.settings import Settings

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
                    "4. The agent now", "5. Capture a checkpoint", "6. Rewind", "7. Fork",
                    "8. How the context evolved"):
        assert heading in out
    assert CONVERSATION_AGENT in out
    assert (tmp_path / "demo" / "ctxstore.sqlite").exists()
    assert (tmp_path / "demo" / "evolution.png").stat().st_size > 10_000


def test_demo_steps_show_real_points(tmp_path: Path) -> None:
    settings = Settings(storage_backend="sqlite", storage_path=tmp_path / "s")
    services = bootstrap(settings)
    store: ContextStore = services.store
    shown = run_demo(services, SAMPLES, tmp_path)
    assert shown["imported"] == shown["reimported_duplicates"] > 400
    # the demo added a checkpoint event and a rewind event after the imported history
    assert store.agent_at(CONVERSATION_AGENT).version == shown["now"] + 2
    earlier = store.agent_at(CONVERSATION_AGENT, 40).state()["content_hash"]
    assert shown["earlier_hash"] == earlier == shown["rewind_hash"]
    assert store.context(CONVERSATION_AGENT)["content_hash"] == earlier
    assert shown["fork_hash"] == shown["checkpoint_hash"] == store.context(
        CONVERSATION_AGENT, version=shown["now"])["content_hash"]
    assert store.context("sam-fork")["content_hash"] == shown["fork_hash"]
    assert 0 < shown["at_time_version"] <= shown["now"]
    assert shown["plot"].stat().st_size > 10_000
