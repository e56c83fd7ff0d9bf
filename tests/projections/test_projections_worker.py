"""The worker as a process: killed mid-run it resumes without counting anything twice; running,
it follows new events (LISTEN/NOTIFY on PostgreSQL, polling on SQLite); the CLI commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from projection_support import TRACES, Kit, evolution_rows, load_real, reference_rows

from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.projection_worker import ProjectionWorker, wait_until
from ctxstore.infrastructure.settings import Settings

CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def cli_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "CONTEXT_STORAGE_BACKEND": settings.storage_backend,
            "CONTEXT_STORAGE_PATH": str(settings.storage_path),
            "CONTEXT_DATABASE_URL": settings.database_url,
            "CONTEXT_DATABASE_SCHEMA": settings.database_schema,
            "CONTEXT_SNAPSHOT_INTERVAL": str(settings.snapshot_interval),
            "COLUMNS": "200"}


def ctxstore(settings: Settings, *args: str, check: bool = True
             ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([CTXSTORE, *args], env=cli_env(settings), capture_output=True,
                          text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"ctxstore {args} failed: {proc.stdout}\n{proc.stderr}")
    return proc


def copies(kit: Kit, n: int) -> None:
    """The tau-bench runs again under other agent ids: more real events for a longer run."""
    runs = load_trace(TRACES[1])
    for i in range(n):
        kit.store.record([
            make_envelope(f"copy{i}-{a.agent_id}", e.type, e.data_dict(),
                          event_id=str(uuid.uuid4()), occurred_at=e.occurred_at)
            for a in runs for e in a.envelopes])


def agent_notifications(kit: Kit, upto: int) -> int:
    return len(kit.store.recorder.select_notifications(start=1, limit=10**6, stop=upto))


def test_killed_worker_resumes_without_double_counting(kit: Kit) -> None:
    load_real(kit.store)
    copies(kit, 6)
    head = kit.store.recorder.max_notification_id() or 0
    proc = subprocess.Popen([CTXSTORE, "project", "--batch-size", "2", "--quiet"],
                            env=cli_env(kit.settings), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while (kit.views.position() or 0) < 50:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    position = kit.views.position()
    assert position is not None and 50 <= position < head, (position, head)
    # What the views hold is exactly the events up to their position: no torn batch.
    minute_events = sum(r[3] for r in kit.views.dump()["evolution"] if r[1] == "minute")
    assert minute_events == agent_notifications(kit, position)

    ctxstore(kit.settings, "project", "--once")
    assert kit.views.position() == head
    rows = evolution_rows(kit.views.dump())
    assert rows == reference_rows(kit.store)
    resumed = kit.views.dump()
    out = ctxstore(kit.settings, "project", "--rebuild", "--once").stdout
    assert f"from {head} notifications" in out
    assert kit.views.dump() == resumed


def test_running_worker_follows_new_events(kit: Kit) -> None:
    load_real(kit.store)
    worker = ProjectionWorker(kit.store, kit.views, batch_size=50, poll_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        wait_until(kit.views, kit.store.recorder.max_notification_id() or 0, timeout=60)
        copies(kit, 1)
        wait_until(kit.views, kit.store.recorder.max_notification_id() or 0, timeout=60)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert evolution_rows(kit.views.dump()) == reference_rows(kit.store)


@pytest.mark.parametrize("backend", ["sqlite"])  # the CLI is the same on either backend
def test_cli_evolution_plot_search_and_checkpoint_filters(kit: Kit, tmp_path: Path) -> None:
    letta = load_real(kit.store)[0]
    kit.services.checkpoints.capture(letta, label="whole trace", access_level="shared")
    png, svg = tmp_path / "evo.png", tmp_path / "evo.svg"
    ctxstore(kit.settings, "evolution", letta, "--bucket", "minute", "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    ctxstore(kit.settings, "evolution", letta, "--plot", str(svg))
    assert "<svg" in svg.read_text()[:500]

    points = json.loads(ctxstore(kit.settings, "evolution", letta, "--bucket", "minute",
                                 "--json").stdout)
    assert sum(p["events"] for p in points) == points[-1]["version"] == 150
    hits = json.loads(ctxstore(kit.settings, "search", '"actually sarah"', "--json").stdout)
    assert [(h["agent_id"], h["version"]) for h in hits] == [(letta, 9)]

    listed = json.loads(ctxstore(kit.settings, "checkpoints", "--access-level", "shared",
                                 "--json").stdout)
    assert [(c["label"], c["message_count"]) for c in listed] == [("whole trace", 91)]

    bad = ctxstore(kit.settings, "evolution", letta, "--plot", str(tmp_path / "x.jpg"),
                   check=False)
    assert bad.returncode == 1 and "must end in .png or .svg" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    bad = ctxstore(kit.settings, "evolution", letta, "--bucket", "week", check=False)
    assert bad.returncode == 1 and "--bucket" in bad.stderr
