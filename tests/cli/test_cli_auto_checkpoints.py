"""`ctxstore auto-checkpoint start|stop|status`, run as a user runs it: the schedule a command
writes is the one the next process reads (kept in the store)."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_core import run


def test_start_status_stop(tmp_path: Path) -> None:
    run(tmp_path, "record", "bot-1", "--type", "message",
        "--data", '{"role": "user", "content": "hello"}')
    out = run(tmp_path, "auto-checkpoint", "start", "bot-1", "--interval", "0.5", "--max", "3")
    assert "bot-1: every 0.5 min, keeps 3" in out.stdout
    listing = json.loads(run(tmp_path, "auto-checkpoint", "status", "--json").stdout)
    (schedule,) = listing["schedules"]
    assert (schedule["agent_id"], schedule["interval_minutes"], schedule["max_checkpoints"]
            ) == ("bot-1", 0.5, 3)
    assert schedule["next_due_at"] > schedule["started_at"] and schedule["last_capture_at"] is None
    assert listing["default_interval_minutes"] == 30
    assert "stopped automatic checkpoints of bot-1" in run(
        tmp_path, "auto-checkpoint", "stop", "bot-1").stdout
    assert json.loads(run(tmp_path, "auto-checkpoint", "status", "bot-1", "--json").stdout
                      )["schedules"] == []
    again = run(tmp_path, "auto-checkpoint", "stop", "bot-1", check=False)
    assert again.returncode != 0 and "no automatic checkpoint schedule" in again.stderr
    bad = run(tmp_path, "auto-checkpoint", "start", "bot-1", "--interval", "0", check=False)
    assert bad.returncode != 0 and bad.stderr.strip().startswith("error: --interval:")
    unknown = run(tmp_path, "auto-checkpoint", "start", "nobody", check=False)
    assert unknown.returncode != 0 and "nobody" in unknown.stderr
