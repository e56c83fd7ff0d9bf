"""The soak harness itself (`make soak`, devtools/soak.py), run for half a minute at a small rate:
it starts the whole stack as real processes, prints its JSON lines and summary, and loses
nothing. The growth limits are the long run's business, not this one's: half a minute is too short
for them to mean anything, so only their presence and shape are checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support import REPO

PROCESSES = {"serve", "ingest-0", "ingest-1", "project"}
USAGE = {"rss_bytes", "fds", "connections"}


def test_a_short_soak_reports_every_figure_and_loses_nothing(postgres_dsn: str) -> None:
    env = {**os.environ, "CONTEXT_DATABASE_URL": postgres_dsn}
    run = subprocess.run(
        [sys.executable, "-m", "devtools.soak", "--minutes", "0.3", "--rate", "10",
         "--read-rate", "3", "--agents", "10", "--interval", "6", "--sample", "2",
         "--warmup-minutes", "0.05", "--drain-seconds", "60"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, run.stdout + run.stderr
    summary = lines[-1]
    assert summary.get("summary") is True and "error" not in summary, summary
    # 0: every check held; 1: a growth check failed (meaningless over a minute). Not 2.
    assert run.returncode in (0, 1), run.stdout + run.stderr
    started, minutes = lines[0], lines[1:-1]
    assert set(started["pids"]) == PROCESSES
    assert len(minutes) >= 2
    for line in minutes:
        assert set(line["processes"]) == PROCESSES
        for usage in line["processes"].values():
            assert set(usage) == USAGE and usage["rss_bytes"] > 0 and usage["fds"] > 0
        for what in ("publish_to_commit", "http_read"):
            assert set(line[what]) == {"n", "p50_ms", "p99_ms"}
        assert set(line["projection_lag"]) == {"last", "median", "max"}
    assert sum(line["publish_to_commit"]["n"] for line in minutes) > 0
    assert sum(line["http_read"]["n"] for line in minutes) > 0
    # Nothing lost: every published event is in its agent, once.
    assert summary["published"] >= 150  # 10 a second for half a minute, less scheduling slack
    assert summary["lost"] == summary["duplicated"] == 0
    assert summary["recorded"] + summary["dead_lettered"] == summary["published"]
    assert summary["publish_errors"] == summary["read_errors"] == 0
    assert summary["checks"]["nothing_lost"]["ok"] is True
    for name in PROCESSES:
        for what in ("rss", "fds", "connections"):
            assert isinstance(summary["checks"][f"{what}_{name}"]["ok"], bool)
    assert isinstance(summary["checks"]["projection_lag"]["ok"], bool)
    assert summary["ok"] is (run.returncode == 0)
