"""The trace importers against the real traces in shared/data/traces and the bundled samples.

MANIFEST.tsv counts, per file: `messages` (chat messages: Letta `messages[]`, tau-bench `traj[]`,
SWE-agent `history[]`), `tool_calls` (Letta/tau-bench `tool_calls[]` entries; SWE-agent steps
of `trajectory[]`, or history tool calls when there is no trajectory), `tool_results` (tool
messages or returns; one per SWE-agent step) and `memory_blocks` (Letta core memory blocks of
the file; v2 files share blocks between their agents). The mapping is 1:1 for each, so the
importer's counts must equal them; for memory blocks the distinct blocks over all agents of a
file are compared.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from support import SHARED_TRACES

from ctxstore.domain.agent_id import AGENT_ID_PATTERN
from ctxstore.domain.events import parse_envelope
from ctxstore.infrastructure.importers import (
    EventLimits,
    ImportedAgent,
    TraceFormatError,
    iter_trace_files,
    load_trace,
)
from ctxstore.infrastructure.samples import TRACES as SAMPLES

REPO = Path(__file__).resolve().parents[2]
SHARED = SHARED_TRACES
MALFORMED = "letta-agent-file/malformed/memgpt_agent__agent2@2025-04-30_2a89d6ff.af"



@pytest.fixture
def shared_traces() -> Path:
    """The real traces are part of the project's layout (shared/ beside the repository, as CI
    has it): without them these tests fail, saying so, rather than skip."""
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.fail(f"shared/data/traces is not present (looked for {SHARED}); put the project's "
                    "shared/ beside the repository or set CTXSTORE_SHARED_TRACES", pytrace=False)
    return SHARED


needs_shared = pytest.mark.usefixtures("shared_traces")


def manifest() -> list[dict[str, str]]:
    if not (SHARED / "MANIFEST.tsv").is_file():
        return []
    with (SHARED / "MANIFEST.tsv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ROWS = [row for row in manifest() if "malformed" not in row["file"]]


@cache
def load(path: Path) -> tuple[ImportedAgent, ...]:
    return tuple(load_trace(path))


def counts(agents: tuple[ImportedAgent, ...] | list[ImportedAgent]) -> Counter[str]:
    return Counter(e.type for a in agents for e in a.envelopes)


def dumps(agents: tuple[ImportedAgent, ...] | list[ImportedAgent]) -> list[dict[str, object]]:
    return [e.model_dump(mode="json") for a in agents for e in a.envelopes]


def check_envelopes(agents: tuple[ImportedAgent, ...] | list[ImportedAgent]) -> None:
    event_ids = [e.event_id for a in agents for e in a.envelopes]
    assert len(event_ids) == len(set(event_ids)), "event ids repeat within a file"
    for agent in agents:
        assert re.match(AGENT_ID_PATTERN, agent.agent_id)
        assert agent.envelopes, f"{agent.agent_id} has no events"
        for env in agent.envelopes:
            assert env.agent_id == agent.agent_id
            wire = env.model_dump(mode="json")
            assert parse_envelope(wire) == env
            assert parse_envelope(json.dumps(wire)) == env


# --- the shared traces -----------------------------------------------------------------------


@needs_shared
def test_manifest_lists_every_trace_file() -> None:
    found = {p.relative_to(SHARED).as_posix() for p in iter_trace_files(SHARED)}
    assert found == {row["file"] for row in ROWS}
    by_folder = Counter(row["file"].split("/")[0] for row in manifest())
    assert by_folder == {"letta-agent-file": 35, "tau-bench": 1, "swe-agent": 22}


@needs_shared
@pytest.mark.parametrize("row", ROWS, ids=[row["file"].rsplit("/", 1)[-1] for row in ROWS])
def test_shared_trace_imports_with_manifest_counts(row: dict[str, str]) -> None:
    path = SHARED / row["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
    agents = load(path)
    check_envelopes(agents)
    c = counts(agents)
    assert c["message"] == int(row["messages"])
    assert c["tool_call"] == int(row["tool_calls"])
    assert c["tool_result"] == int(row["tool_results"])
    if row["file"].startswith("letta-agent-file/"):
        blocks = {
            (e.data.metadata or {}).get("block_id") or e.data.memory_id
            for a in agents
            for e in a.envelopes
            if e.type == "memory_stored"
        }
        assert len(blocks) == int(row["memory_blocks"] or 0)
        assert all(a.format in ("letta-v1", "letta-v2") for a in agents)
    elif row["file"].startswith("tau-bench/"):
        assert len(agents) == int(row["conversations"])
        assert c["memory_stored"] == len(agents)  # the reward of each run
    else:
        assert len(agents) == 1 and agents[0].format == "swe-agent"


@needs_shared
def test_all_shared_traces_load_stably_with_unique_ids() -> None:
    first = {p: load_trace(p) for p in iter_trace_files(SHARED)}
    agent_ids = [a.agent_id for agents in first.values() for a in agents]
    assert len(agent_ids) == len(set(agent_ids)), "agent ids collide across files"
    event_ids = [e.event_id for agents in first.values() for a in agents for e in a.envelopes]
    assert len(event_ids) == len(set(event_ids)), "event ids collide across files"
    for path, agents in first.items():
        again = load_trace(path)
        assert [a.agent_id for a in again] == [a.agent_id for a in agents]
        assert dumps(again) == dumps(agents), f"{path.name} gives other envelopes on reload"


@needs_shared
def test_malformed_letta_file_names_file_and_position() -> None:
    path = SHARED / MALFORMED
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    err = caught.value
    assert err.path == path
    assert err.position.startswith("line 1 column 2030")
    assert path.name in str(err) and "line 1 column 2030" in str(err)


@needs_shared
def test_double_encoded_letta_files() -> None:
    rows = [row for row in ROWS if "double-encoded" in row["schema"]]
    assert len(rows) == 4
    for row in rows:
        text = (SHARED / row["file"]).read_text(encoding="utf-8")
        assert isinstance(json.loads(text), str)
        agents = load(SHARED / row["file"])
        assert [a.format for a in agents] == ["letta-v2"]
        assert counts(agents)["message"] == int(row["messages"])


@needs_shared
def test_letta_v2_reasoning_mcp_and_errors() -> None:
    path = SHARED / "letta-agent-file/agents__@letta-ai__ezra__ezra@2026-01-30_58425930.af"
    agents = load(path)
    assert [a.agent_id for a in agents] == [
        "letta-agents__-letta-ai__ezra__ezra-2026-01-30_58425930-Ezra",
        "letta-agents__-letta-ai__ezra__ezra-2026-01-30_58425930-ezra-sleeptime",
    ]
    doc = json.loads(path.read_text(encoding="utf-8"))
    parts = [p for a in doc["agents"] for m in a["messages"] for p in m["content"]]
    assert counts(agents)["reasoning"] == sum(p["type"] == "reasoning" for p in parts)
    for agent in agents:
        threads = {e.data.thread_id for e in agent.envelopes if e.type == "reasoning"}
        assert threads == {agent.agent_id}
        steps = [e.data.step for e in agent.envelopes if e.type == "reasoning"]
        assert steps == list(range(len(steps)))
        servers = [e.data.server for e in agent.envelopes if e.type == "mcp_state"]
        assert servers == ["Zapier 1", "linear_cameron"]
    statuses = [r["status"] for a in doc["agents"] for m in a["messages"]
                for r in m["tool_returns"] or []]
    errors = [e for a in agents for e in a.envelopes if e.type == "tool_result" and e.data.is_error]
    assert len(errors) == sum(s != "success" for s in statuses) == 5


@needs_shared
def test_samples_are_copies_and_the_cut_matches_the_full_file() -> None:
    copies = {
        "letta-agent-file/memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af":
            "letta-agent-file/memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af",
        "letta-agent-file/memgpt_agent__memgpt_agent@2025-11-20_b8d467fd.af":
            "letta-agent-file/memgpt_agent__memgpt_agent@2025-11-20_b8d467fd.af",
        "letta-agent-file/agents__@letta-ai__loop__loop@2026-01-30_97d509e5.af":
            "letta-agent-file/agents__@letta-ai__loop__loop@2026-01-30_97d509e5.af",
        "swe-agent/6e44b9__sweagenttestrepo-1c2844.traj":
            "swe-agent/tests/test_data/trajectories/gpt4__swe-agent-test-repo__default_from_url__"
            "t-0.00__p-0.95__c-3.00__install-1/6e44b9__sweagenttestrepo-1c2844.traj",
        "swe-agent/networking_1.traj":
            "swe-agent/trajectories/demonstrations/ctf/misc/networking_1.traj",
    }
    for sample, shared in copies.items():
        assert (SAMPLES / sample).read_bytes() == (SHARED / shared).read_bytes()
        assert dumps(load(SAMPLES / sample)) == dumps(load(SHARED / shared))
    cut = load(SAMPLES / "tau-bench/gpt-4o-airline.first-5-runs.json")
    full = load(SHARED / "tau-bench/historical_trajectories/gpt-4o-airline.json")
    assert dumps(cut) == dumps(full[:5])


# --- the bundled samples (no shared/ needed) -------------------------------------------------

SAMPLE_AGENTS = {
    "letta-agent-file/agents__@letta-ai__loop__loop@2026-01-30_97d509e5.af": {
        "letta-agents__-letta-ai__loop__loop-2026-01-30_97d509e5":
            {"memory_stored": 9, "message": 3, "tool_call": 1, "tool_result": 1},
    },
    "letta-agent-file/memgpt_agent__memgpt_agent@2025-11-20_b8d467fd.af": {
        "letta-memgpt_agent__memgpt_agent-2025-11-20_b8d467fd":
            {"memory_stored": 2, "message": 1},
    },
    "letta-agent-file/memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af": {
        "letta-memgpt_agent__memgpt_agent_with_convo-2025-03-31_bee301d2":
            {"memory_stored": 2, "message": 91, "tool_call": 28, "tool_result": 28},
    },
    "swe-agent/6e44b9__sweagenttestrepo-1c2844.traj": {
        "swe-6e44b9__sweagenttestrepo-1c2844-dd79a193":
            {"message": 10, "reasoning": 5, "tool_call": 5, "tool_result": 5},
    },
    "swe-agent/networking_1.traj": {
        "swe-networking_1-00531c58": {"message": 9, "reasoning": 4, "tool_call": 4,
                                      "tool_result": 4},
    },
    "tau-bench/gpt-4o-airline.first-5-runs.json": {
        "tau-gpt-4o-airline-0-t0":
            {"memory_stored": 1, "message": 32, "tool_call": 8, "tool_result": 8},
        "tau-gpt-4o-airline-1-t0": {"memory_stored": 1, "message": 12},
        "tau-gpt-4o-airline-2-t0":
            {"memory_stored": 1, "message": 24, "tool_call": 7, "tool_result": 7},
        "tau-gpt-4o-airline-3-t0":
            {"memory_stored": 1, "message": 62, "tool_call": 20, "tool_result": 20},
        "tau-gpt-4o-airline-4-t0":
            {"memory_stored": 1, "message": 26, "tool_call": 6, "tool_result": 6},
    },
}


def test_samples_are_small_and_licensed() -> None:
    files = [p for p in SAMPLES.rglob("*") if p.is_file()]
    traces = [p for p in files if p.suffix in (".af", ".traj", ".json")]
    assert sum(p.stat().st_size for p in traces) < 1_500_000
    names = {p.name for p in files}
    assert {"README.md", "LICENSE-Apache-2.0", "LICENSE-MIT-tau-bench",
            "LICENSE-MIT-SWE-agent"} <= names
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for p in traces:
        assert p.relative_to(SAMPLES).as_posix() in readme


@pytest.mark.parametrize("name", sorted(SAMPLE_AGENTS))
def test_sample_imports(name: str) -> None:
    agents = load(SAMPLES / name)
    check_envelopes(agents)
    got = {a.agent_id: dict(counts([a])) for a in agents}
    assert got == SAMPLE_AGENTS[name]
    again = load_trace(SAMPLES / name)
    assert dumps(again) == dumps(agents)


def test_sample_letta_v1_mapping() -> None:
    path = SAMPLES / "letta-agent-file/memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af"
    (agent,) = load(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    memories = [e for e in agent.envelopes if e.type == "memory_stored"]
    assert [m.data.memory_id for m in memories] == [b["label"] for b in doc["core_memory"]]
    assert all(m.data.kind == "long_term" for m in memories)
    assert memories[0].data.content == doc["core_memory"][0]["value"]
    assert (memories[0].data.metadata or {})["limit"] == doc["core_memory"][0]["limit"]
    messages = [e for e in agent.envelopes if e.type == "message"]
    assert [m.data.role for m in messages] == [m["role"] for m in doc["messages"]]
    assert messages[0].occurred_at is not None and messages[0].occurred_at.tzinfo is not None
    assert messages[0].occurred_at.isoformat().startswith(doc["messages"][0]["created_at"])
    call = next(e for e in agent.envelopes if e.type == "tool_call")
    assert call.data.tool == "send_message"
    assert call.data.arguments == {"message": "More human than human is our motto."}
    result = next(e for e in agent.envelopes if e.type == "tool_result")
    assert result.data.call_id == call.data.call_id and result.data.is_error is False


def test_sample_double_encoded_letta_v2() -> None:
    path = SAMPLES / "letta-agent-file/memgpt_agent__memgpt_agent@2025-11-20_b8d467fd.af"
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), str)
    (agent,) = load(path)
    assert agent.format == "letta-v2"
    assert {e.data.memory_id for e in agent.envelopes if e.type == "memory_stored"} == {
        "human", "persona"}


def test_sample_swe_agent_mapping() -> None:
    (agent,) = load(SAMPLES / "swe-agent/6e44b9__sweagenttestrepo-1c2844.traj")
    calls = [e for e in agent.envelopes if e.type == "tool_call"]
    assert [c.data.tool for c in calls] == ["find_file", "open", "edit", "bash", "bash"]
    assert calls[0].data.arguments == {"file_name": "missing_colon.py"}
    assert calls[-1].data.arguments == {"command": "submit"}  # only in trajectory[]
    results = [e for e in agent.envelopes if e.type == "tool_result"]
    assert [r.data.call_id for r in results] == [c.data.call_id for c in calls]
    assert all(r.data.duration_ms is not None for r in results)
    assert all(e.occurred_at is None for e in agent.envelopes)
    (old,) = load(SAMPLES / "swe-agent/networking_1.traj")
    calls = [e for e in old.envelopes if e.type == "tool_call"]
    assert all(c.data.tool == "bash" and set(c.data.arguments) == {"command"} for c in calls)
    roles = [e.data.role for e in old.envelopes if e.type == "message"]
    assert "tool" not in roles  # old runs answer actions with user messages


def test_sample_tau_bench_mapping() -> None:
    agents = load(SAMPLES / "tau-bench/gpt-4o-airline.first-5-runs.json")
    first = agents[0]
    reward = first.envelopes[-1]
    assert reward.type == "memory_stored" and reward.data.kind == "episodic"
    assert reward.data.metadata == {"reward": 0.0, "task_id": 0, "trial": 0}
    errors = [e for e in first.envelopes if e.type == "tool_result" and e.data.is_error]
    assert errors and all(str(e.data.output).startswith("Error:") for e in errors)
    tool_messages = [e for e in first.envelopes if e.type == "message" and e.data.role == "tool"]
    assert all(m.data.tool_call_id for m in tool_messages)


# --- malformed input (synthetic, no shared/ needed) ------------------------------------------


def _v1(messages: list[dict[str, object]]) -> dict[str, object]:
    return {"agent_type": "memgpt_agent", "core_memory": [{"label": "human", "value": "x"}],
            "messages": messages}


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.af"
    path.write_text('{"agent_type": "memgpt_agent",\n  "messages": [}', encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    assert caught.value.position.startswith("line 2 column 16")
    assert "broken.af" in str(caught.value)


def test_bad_record_names_its_json_path(tmp_path: Path) -> None:
    path = tmp_path / "bad-role.af"
    msgs = [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "robot", "content": []}]
    path.write_text(json.dumps(_v1(msgs)), encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    assert caught.value.position == "$.messages[1].role"
    assert "robot" in caught.value.reason


def test_invalid_event_data_is_a_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "bad-name.af"
    msgs = [{"role": "user", "name": "n" * 300, "content": "hi"}]
    path.write_text(json.dumps(_v1(msgs)), encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    assert caught.value.position == "$.messages[0]"
    assert "name" in caught.value.reason


def test_double_encoded_equals_plain(tmp_path: Path) -> None:
    doc = _v1([{"role": "user", "content": [{"type": "text", "text": "hi"}],
                "created_at": "2025-01-01T00:00:00"}])
    plain, double = tmp_path / "plain.af", tmp_path / "double.af"
    plain.write_text(json.dumps(doc), encoding="utf-8")
    double.write_text(json.dumps(json.dumps(doc)), encoding="utf-8")
    strip = [{k: v for k, v in d.items() if k not in ("event_id", "agent_id")}
             for d in dumps(load_trace(plain))]
    assert strip == [{k: v for k, v in d.items() if k not in ("event_id", "agent_id")}
                     for d in dumps(load_trace(double))]
    broken = tmp_path / "broken-double.af"
    broken.write_text(json.dumps('{"messages": ['), encoding="utf-8")
    with pytest.raises(TraceFormatError, match="inside the JSON-encoded string"):
        load_trace(broken)


def test_openai_chat_list_and_unknown_json(tmp_path: Path) -> None:
    chat = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "weather", "arguments": "{not json"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "weather", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    path = tmp_path / "my chat.json"
    path.write_text(json.dumps(chat), encoding="utf-8")
    (agent,) = load_trace(path)
    assert agent.agent_id == "chat-my-chat" and agent.format == "openai-chat"
    assert [e.type for e in agent.envelopes] == [
        "message", "message", "tool_call", "message", "tool_result", "message"]
    assert agent.envelopes[2].data.arguments == {"raw": "{not json"}
    assert agent.envelopes[1].data.content == ""
    check_envelopes([agent])

    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps([{"role": "tool", "content": "x"}]), encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        load_trace(orphan)
    assert caught.value.position == "$[0].tool_call_id"

    unknown = tmp_path / "numbers.json"
    unknown.write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(TraceFormatError, match="unrecognised trace"):
        load_trace(unknown)


def test_untimed_leading_events_take_the_traces_first_time() -> None:
    # v2 memory blocks carry no time and come first: they take the first message's time,
    # so an imported history is not stamped with the day it was imported.
    path = next((SAMPLES / "letta-agent-file").glob("agents__@letta-ai__loop*.af"))
    (agent,) = load_trace(path)
    assert agent.envelopes[0].type == "memory_stored"
    first_timed = next(e.occurred_at for e in agent.envelopes if e.type == "message")
    assert all(e.occurred_at is not None for e in agent.envelopes)
    assert agent.envelopes[0].occurred_at == first_timed


def _chat(tmp_path: Path, name: str, messages: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(messages), encoding="utf-8")
    return path


def test_importers_apply_the_event_size_limit(tmp_path: Path) -> None:
    """A 20 MB event was imported; now the store's CONTEXT_MAX_EVENT_BYTES applies."""
    path = _chat(tmp_path, "huge.json", [{"role": "user", "content": "x" * (20 * 1024 * 1024)}])
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    assert "over the limit of 1048576 bytes" in caught.value.reason
    small = _chat(tmp_path, "small.json", [{"role": "user", "content": "x" * 4000}])
    with pytest.raises(TraceFormatError) as caught:
        load_trace(small, EventLimits(max_event_bytes=2048))
    assert "over the limit of 2048 bytes" in caught.value.reason
    assert load_trace(small)[0].count("message") == 1


@pytest.mark.parametrize("arguments", [{"\udc00": 1}, {"a": "\ud800"}, {"a": 2**63}])
def test_importers_apply_the_bounds(tmp_path: Path, arguments: dict[str, Any]) -> None:
    path = _chat(tmp_path, "odd.json", [
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": arguments}}]}])
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    assert "arguments" in caught.value.reason


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+14:00"])
def test_importers_refuse_times_out_of_range(tmp_path: Path, when: str) -> None:
    path = tmp_path / "when.af"
    path.write_text(json.dumps(_v1([{"role": "user", "content": "hi", "created_at": when}])),
                    encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    assert "occurred_at" in caught.value.reason


def test_importers_refuse_deep_values(tmp_path: Path) -> None:
    deep: Any = "leaf"
    for _ in range(70):
        deep = [deep]
    path = _chat(tmp_path, "deep.json", [
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": {"a": deep}}}]}])
    with pytest.raises(TraceFormatError) as caught:
        load_trace(path)
    assert "nested more than 64" in caught.value.reason
    very_deep = tmp_path / "very-deep.json"
    very_deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        load_trace(very_deep)
    assert "nested more than 64" in caught.value.reason
