"""The core commands, run as a user runs them: the installed `ctxstore` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import SAMPLES

CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def run(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "sqlite",
           "CONTEXT_STORAGE_PATH": str(tmp_path / "store"), "COLUMNS": "200"}
    proc = subprocess.run([CTXSTORE, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"ctxstore {args} failed: {proc.stdout}\n{proc.stderr}")
    return proc


def test_record_history_context_and_agents(tmp_path: Path) -> None:
    run(tmp_path, "record", "bot-1", "--type", "message", "--event-id", "e1",
        "--data", '{"role": "user", "content": "hello there"}', "--at", "2025-01-01T10:00:00Z")
    run(tmp_path, "record", "bot-1", "--type", "memory_stored", "--event-id", "e2",
        "--data", '{"memory_id": "m1", "kind": "semantic", "content": "likes tea"}',
        "--at", "2025-01-01T11:00:00Z")
    again = run(tmp_path, "record", "bot-1", "--type", "message", "--event-id", "e1",
                "--data", '{"role": "user", "content": "hello there"}')
    assert "duplicate" in again.stdout

    agents = json.loads(run(tmp_path, "agents", "--json").stdout)
    assert [(a["agent_id"], a["version"]) for a in agents] == [("bot-1", 2)]

    history = json.loads(run(tmp_path, "history", "bot-1", "--json").stdout)
    assert [(h["version"], h["type"], h["event_id"]) for h in history] == [
        (1, "message", "e1"), (2, "memory_stored", "e2")]
    only = json.loads(run(tmp_path, "history", "bot-1", "--type", "memory_stored",
                          "--json").stdout)
    assert [h["version"] for h in only] == [2]

    now = json.loads(run(tmp_path, "context", "bot-1", "--json").stdout)
    assert now["version"] == 2 and now["memories"]["m1"]["content"] == "likes tea"
    earlier = json.loads(run(tmp_path, "context", "bot-1", "--at", "2025-01-01T10:30:00Z",
                             "--json").stdout)
    assert earlier["version"] == 1 and earlier["memories"] == {}
    at_one = json.loads(run(tmp_path, "context", "bot-1", "--version", "1", "--json").stdout)
    assert at_one["content_hash"] == earlier["content_hash"]
    human = run(tmp_path, "context", "bot-1").stdout
    assert "hello there" in human and "version 2" in human
    window = json.loads(run(tmp_path, "context", "bot-1", "--tail", "0", "--json").stdout)
    assert window["messages"] == [] and window["window"]["messages_total"] == 1
    assert window["memories"] == now["memories"]
    assert window["content_hash"] == now["content_hash"]
    assert "the last 1 of 1 messages" in run(tmp_path, "context", "bot-1", "--tail", "5").stdout
    changes = json.loads(run(tmp_path, "context", "bot-1", "--since-version", "1").stdout)
    assert [e["event_id"] for e in changes["events"]] == ["e2"]


def test_agents_lists_the_tenants_own_by_agent_id(tmp_path: Path) -> None:
    message = '{"role": "user", "content": "hi"}'
    run(tmp_path, "record", "bot-1", "--type", "message", "--event-id", "l1", "--data", message)
    run(tmp_path, "--tenant", "acme", "record", "bot-2", "--type", "message", "--event-id", "a1",
        "--data", message)
    run(tmp_path, "--tenant", "acme", "record", "bot-1", "--type", "message", "--event-id", "a2",
        "--data", message)
    local = json.loads(run(tmp_path, "agents", "--json").stdout)
    assert [a["agent_id"] for a in local] == ["bot-1"]
    acme = json.loads(run(tmp_path, "--tenant", "acme", "agents", "--json").stdout)
    assert [a["agent_id"] for a in acme] == ["bot-1", "bot-2"]
    assert "acme" not in run(tmp_path, "--tenant", "acme", "agents").stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("record", "bot-1", "--type", "message", "--data", '{"role": "robot", "content": "x"}'),
         "data.role"),
        (("record", "bot-1", "--type", "telepathy", "--data", "{}"), "unknown event type"),
        (("record", "bot 1", "--type", "message", "--data", '{"role": "user", "content": "x"}'),
         "agent_id"),
        (("record", "bot-1", "--type", "message", "--data", "{not json"), "not valid JSON"),
        (("record", "bot-1", "--type", "memory_forgotten", "--data", '{"memory_id": "nope"}'),
         "memory 'nope' is not stored"),
        (("context", "ghost"), "agent 'ghost' has no recorded events"),
        (("history", "ghost"), "agent 'ghost' has no recorded events"),
        (("context", "bot-1", "--at", "yesterday"), "not an ISO 8601 time"),
        (("record", "bot-1", "--type", "tool_result", "--data",
          '{"call_id": "c", "output": ' + "[" * 60_000 + "]" * 60_000 + "}"),
         "nested more than 64"),
        (("record", "bot-1", "--type", "tool_result", "--data",
          '{"call_id": "c", "output": ' + "[" * 70 + "]" * 70 + "}"), "nested more than 64"),
        (("record", "bot-1", "--type", "message", "--data",
          '{"role": "user", "content": "\\ud800"}'), "surrogate"),
        (("record", "bot-1", "--type", "tool_result", "--data",
          '{"call_id": "c", "output": {"\\udc00": 1}}'), "surrogate"),
        (("record", "bot-1", "--type", "tool_result", "--data",
          '{"call_id": "c", "output": 9223372036854775808}'), "64-bit"),
        (("record", "bot-1", "--type", "message", "--data", '{"role": "user", "content": "x"}',
          "--at", "9999-12-31T00:00:00+00:00"), "occurred_at"),
        (("record", "bot-1", "--type", "message", "--data", '{"role": "user", "content": "x"}',
          "--at", "0001-01-01T00:00:00+14:00"), "occurred_at"),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    proc = run(tmp_path, *args, check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("context", "bot-1", "--version", str(2**63)), "--version"),
        (("context", "bot-1", "--tail", "-1"), "--tail"),
        (("context", "bot-1", "--since-version", "-1"), "--since-version"),
        (("history", "bot-1", "--after", str(2**63)), "--after"),
        (("history", "bot-1", "--after", "-1"), "--after"),
        (("checkpoint", "bot-1", "--version", str(2**64)), "--version"),
        (("restore", "bot-1", "--version", str(2**63), "--into", "bot-2"), "--version"),
        (("diff", "bot-1", "--from", str(2**63)), "--from"),
        (("diff", "bot-1", "--from", "1", "--to", "v" + "9" * 30), "--to"),
    ],
)
def test_versions_past_64_bits_are_one_line_naming_the_option(
        tmp_path: Path, args: tuple[str, ...], option: str) -> None:
    """2**63 and up never reach the database driver (it failed with an OverflowError)."""
    run(tmp_path, "record", "bot-1", "--type", "message",
        "--data", '{"role": "user", "content": "hi"}')
    proc = run(tmp_path, *args, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}: "), proc.stderr
    assert "Overflow" not in proc.stderr and "Traceback" not in proc.stderr
    after = json.loads(run(tmp_path, "agents", "--json").stdout)
    assert [(a["agent_id"], a["version"]) for a in after] == [("bot-1", 1)]


def test_a_partial_checkpoint_from_the_cli_as_from_http(tmp_path: Path) -> None:
    """The CLI takes the parts to capture as HTTP's include_* flags do (the doors accept the
    same things): the checkpoint holds and names only those; capturing nothing is one line."""
    run(tmp_path, "record", "bot-2", "--type", "message", "--event-id", "e1",
        "--data", '{"role": "user", "content": "hello there"}')
    run(tmp_path, "record", "bot-2", "--type", "memory_stored", "--event-id", "e2",
        "--data", '{"memory_id": "m1", "kind": "semantic", "content": "likes tea"}')
    cp = json.loads(run(tmp_path, "checkpoint", "bot-2", "--no-memory", "--json").stdout)
    assert cp["parts"] == ["conversation", "mcp_state"]
    assert cp["memory_count"] == 0 and cp["message_count"] == 1
    whole = json.loads(run(tmp_path, "checkpoint", "bot-2", "--json").stdout)
    assert whole["parts"] == ["conversation", "memory", "mcp_state"]
    nothing = run(tmp_path, "checkpoint", "bot-2", "--no-conversation", "--no-memory",
                  "--no-mcp-state", check=False)
    assert nothing.returncode == 1
    assert nothing.stderr.strip().startswith("error: --conversation:"), nothing.stderr
    assert len(nothing.stderr.strip().splitlines()) == 1


def test_import_records_the_traces_as_the_tenants_agents(tmp_path: Path) -> None:
    trace = (SAMPLES / "letta-agent-file"
             / "memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af")
    agent = "letta-memgpt_agent__memgpt_agent_with_convo-2025-03-31_bee301d2"
    run(tmp_path, "--tenant", "acme", "import", str(trace))
    acme = json.loads(run(tmp_path, "--tenant", "acme", "agents", "--json").stdout)
    assert [a["agent_id"] for a in acme] == [agent] and acme[0]["version"] > 0
    assert json.loads(run(tmp_path, "agents", "--json").stdout) == []  # not the local tenant's
    # The local tenant may import the same trace: its own agent, recorded in full.
    run(tmp_path, "import", str(trace))
    local = json.loads(run(tmp_path, "agents", "--json").stdout)
    assert [(a["agent_id"], a["version"]) for a in local] == [(agent, acme[0]["version"])]
