"""`ctxstore forget AGENT`, run as a user runs it: asks first, erases, answers the tombstone
after, and says each refusal in one line."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_core import run


def test_forget_asks_then_forgets(tmp_path: Path) -> None:
    run(tmp_path, "record", "bot-1", "--type", "message", "--event-id", "e1",
        "--data", '{"role": "user", "content": "my secret"}')
    asked = run(tmp_path, "forget", "bot-1", check=False)  # no answer on stdin: not forgotten
    assert asked.returncode != 0 and "not forgotten" in asked.stderr
    assert "bot-1" in run(tmp_path, "agents").stdout
    out = json.loads(run(tmp_path, "forget", "bot-1", "--yes", "--by", "dpo", "--json").stdout)
    assert (out["agent_id"], out["events"], out["event_ids"], out["forgotten_by"]
            ) == ("bot-1", 1, 1, "dpo")
    assert "bot-1" not in run(tmp_path, "agents").stdout
    again = run(tmp_path, "forget", "bot-1", "--yes", check=False)
    assert again.returncode != 0 and "was forgotten" in again.stderr and "'dpo'" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    redelivered = run(tmp_path, "record", "bot-1", "--type", "message", "--event-id", "e1",
                      "--data", '{"role": "user", "content": "my secret"}', check=False)
    assert redelivered.returncode != 0 and "forgotten" in redelivered.stderr
    unknown = run(tmp_path, "forget", "nobody", "--yes", check=False)
    assert unknown.returncode != 0 and "nobody" in unknown.stderr
    bad = run(tmp_path, "forget", "bot 2", "--yes", check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("error:")
    other = run(tmp_path, "forget", "bot-1", "--yes", "--tenant", "acme", check=False)
    assert other.returncode != 0 and "bot-1" in other.stderr  # not acme's agent
