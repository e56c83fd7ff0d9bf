"""`.af` export (issue 15 item 3): every Letta trace (and the bundled tau-bench and SWE-agent
ones), imported into a real store, exported at a point through the application's command and
imported again as another agent, has the same content (and so content hash) as the exported
point; every exported file validates against the agent-file schema of `letta-client` 0.1.324
(the `letta` extra) and uses no field outside it; any state the events can make exports, or
the export refuses it (never a wrong file).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from letta_client.types import AgentFileSchema
from support import SAMPLES, SHARED_TRACES, make_settings

from ctxstore.application.commands import LOCAL, Caller, ExportAgentFile
from ctxstore.application.errors import AgentNotFound, PointNotFound
from ctxstore.application.importing import record_in_batches
from ctxstore.application.store import LOCAL_TENANT
from ctxstore.domain.events import make_envelope
from ctxstore.domain.state import apply_event, content_hash, empty_content
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.importers import ImportedAgent, iter_trace_files, load_trace
from ctxstore.infrastructure.importers.letta_export import (
    AgentFileError,
    agent_file,
    encode_state,
    folded_hash,
)
from ctxstore.infrastructure.importers.letta_schema import schema_check
from devtools.services import libpq_dsn

LETTA_SCHEMA_VERSION = "0.1.324"
CONVO = "memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af"


def letta_traces() -> list[Path]:
    shared = SHARED_TRACES / "letta-agent-file"
    return [*iter_trace_files(shared), *iter_trace_files(SAMPLES / "letta-agent-file")]


def test_the_schema_checked_is_the_pinned_one() -> None:
    """The typed schema is in letta-client 0.1.x only (1.x ships none): the test extra pins
    the version validated against, and a different one installed would make these tests
    check something else than they say."""
    from importlib.metadata import version

    assert version("letta-client") == LETTA_SCHEMA_VERSION
    assert len(letta_traces()) >= 35, "the shared traces and the bundled samples"


@pytest.fixture(scope="module")
def services(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One PostgreSQL store for the module (each file imports as its own agents)."""
    opened = bootstrap(make_settings("postgres", tmp_path_factory.mktemp("af"), postgres_dsn))
    yield opened
    opened.close()
    with psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{opened.settings.database_schema}" CASCADE')


def export(services: Services, cmd: ExportAgentFile, caller: Caller = LOCAL) -> bytes:
    return services.commands.export_agent_file(caller, cmd, encode_state)


def import_file(services: Services, path: Path) -> list[str]:
    agents = load_trace(path)
    for agent in agents:
        summary = record_in_batches(services.store, agent.envelopes)
        assert not summary.rejected, summary.rejected
    return [a.agent_id for a in agents]


def check_schema(data: bytes) -> dict[str, Any]:
    assert schema_check(data) == []
    doc = json.loads(data)
    assert len(AgentFileSchema.model_validate(doc).agents) == 1
    return doc


def test_the_schema_check_names_what_is_wrong_and_what_is_outside() -> None:
    """The check itself can fail: a missing required field, a wrong type, an unknown field."""
    content = empty_content()
    content["messages"] = [{"role": "user", "content": "hi"}]
    doc = agent_file({**content, "agent_id": "a", "version": 1, "as_of": None,
                      "content_hash": content_hash(content)})
    assert schema_check(json.dumps(doc).encode()) == []
    doc["agents"][0]["messages"][0]["shiny"] = 1
    assert schema_check(json.dumps(doc).encode()) == [
        "$.agents[0].messages[0].shiny: not in Letta's agent-file schema"]
    del doc["blocks"]
    doc["tools"] = "none"
    problems = schema_check(json.dumps(doc).encode())
    assert any(p.startswith("$.blocks: ") for p in problems)
    assert any(p.startswith("$.tools: ") for p in problems)


def other_traces() -> list[Path]:
    """Agents that never were Letta's (OpenAI chat, SWE-agent): their states export too."""
    return [*iter_trace_files(SAMPLES / "tau-bench"), *iter_trace_files(SAMPLES / "swe-agent")]


@pytest.mark.parametrize("path", letta_traces() + other_traces(), ids=lambda p: p.name[:60])
def test_every_trace_round_trips_through_export_af(

        services: Services, path: Path, tmp_path: Path) -> None:
    for n, agent_id in enumerate(import_file(services, path)):
        source = services.store.context(agent_id)
        data = export(services, ExportAgentFile(agent_id=agent_id))
        doc = check_schema(data)
        assert doc["agents"][0]["name"] == agent_id
        copy = tmp_path / f"copy-{uuid.uuid4().hex[:8]}-{n}.af"
        copy.write_bytes(data)
        (target,) = import_file(services, copy)
        assert target != agent_id
        again = services.store.context(target)
        assert again["content_hash"] == source["content_hash"]
        # the content itself, not only its digest: a failure then shows what differs
        for field in ("messages", "reasoning", "tool_calls", "memories", "memory_links",
                      "mcp_servers"):
            assert again[field] == source[field], field


def test_export_at_a_version_a_time_and_a_checkpoint(services: Services, tmp_path: Path
                                                     ) -> None:
    copy = tmp_path / "at-points.af"
    copy.write_bytes((SAMPLES / "letta-agent-file" / CONVO).read_bytes())
    (agent_id,) = import_file(services, copy)
    key = services.store.key_for(LOCAL_TENANT, agent_id)
    middle = services.store.context(agent_id, version=60)
    checkpoint = services.checkpoints.capture(key, version=70)
    for k, (cmd, version) in enumerate([
        (ExportAgentFile(agent_id=agent_id, version=40), 40),
        (ExportAgentFile(agent_id=agent_id, at=middle["as_of"]),
         services.store.version_at(key, datetime.fromisoformat(middle["as_of"]))),
        (ExportAgentFile(agent_id=agent_id, package_id=checkpoint.package_id), 70),
        (ExportAgentFile(agent_id=agent_id, version=0), 0),
    ]):
        point = services.store.context(agent_id, version=version)
        data = export(services, cmd)
        doc = check_schema(data)
        assert doc["metadata"]["ctxstore_content_hash"] == point["content_hash"]
        assert doc["metadata"]["ctxstore_version"] == str(version)
        if version == 0:  # the empty agent: a file with no messages, nothing to record
            assert doc["agents"][0]["messages"] == [] and doc["blocks"] == []
            continue
        out = tmp_path / f"point-{k}.af"
        out.write_bytes(data)
        (target,) = import_file(services, out)
        assert services.store.context(target)["content_hash"] == point["content_hash"]


def test_unknown_agents_points_and_other_tenants_are_errors(services: Services,
                                                            tmp_path: Path) -> None:
    copy = tmp_path / "tenant.af"
    copy.write_bytes((SAMPLES / "letta-agent-file" /
                      "memgpt_agent__memgpt_agent@2025-11-20_b8d467fd.af").read_bytes())
    (agent_id,) = import_file(services, copy)
    with pytest.raises(AgentNotFound):
        export(services, ExportAgentFile(agent_id="nobody-here"))
    with pytest.raises(PointNotFound):
        export(services, ExportAgentFile(agent_id=agent_id, version=10**6))
    with pytest.raises(AgentNotFound):  # another tenant's agent is not there for it
        export(services, ExportAgentFile(agent_id=agent_id), Caller("someone-else"))


# --- any state the events make --------------------------------------------------------------

WORDS = ["hi", "", "ok then", "{\"status\": \"OK\"}", "ünï"]
CALLS = ["c1", "c2", "c3"]
MEMORIES = ["human", "persona", "m-3"]


def _data(draw: st.DrawFn, kind: str, memories: set[str]) -> dict[str, Any]:
    word = draw(st.sampled_from(WORDS))
    if kind == "message":
        role = draw(st.sampled_from(["system", "user", "assistant", "tool"]))
        content: Any = draw(st.sampled_from([
            word, [], [{"type": "text", "text": word}],
            [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
            [{"type": "text", "text": word, "cache": True}]]))
        data: dict[str, Any] = {"role": role, "content": content}
        for key, values in (("message_id", ["message-0", "message-1", "x9"]),
                            ("name", ["bob"]), ("tokens", [0, 7])):
            if draw(st.booleans()):
                data[key] = draw(st.sampled_from(values))
        if role == "tool" or draw(st.booleans()):
            data["tool_call_id"] = draw(st.sampled_from(CALLS))
        return data
    if kind == "reasoning":
        data = {"thread_id": draw(st.sampled_from(["t1", "weird thread.[0]"])),
                "content": word}
        if draw(st.booleans()):
            data["step"] = draw(st.integers(0, 3))
        return data
    if kind == "tool_call":
        data = {"call_id": draw(st.sampled_from(CALLS)), "tool": "send_message",
                "arguments": draw(st.sampled_from([{}, {"x": 1.5, "y": [None, "é"]},
                                                   {"raw": "not json"}]))}
        if draw(st.booleans()):
            data["server"] = "github"
        return data
    if kind == "tool_result":
        data = {"call_id": draw(st.sampled_from(CALLS)),
                "output": draw(st.sampled_from([word, None, {"a": [1, 2]}, 3])),
                "is_error": draw(st.booleans())}
        if draw(st.booleans()):
            data["duration_ms"] = 12.5
        return data
    if kind == "memory_stored":
        data = {"memory_id": draw(st.sampled_from(MEMORIES)),
                "kind": draw(st.sampled_from(["short_term", "long_term", "episodic",
                                              "semantic"])),
                "content": word * draw(st.sampled_from([1, 3000]))}
        for key, values in (("embedding", [[0.25, -1.0]]), ("importance", [0.5]),
                            ("metadata", [{"label": "human"}, {"label": 3, "limit": 2},
                                          {"metadata": {"k": "v"}, "read_only": True}])):
            if draw(st.booleans()):
                data[key] = draw(st.sampled_from(values))
        return data
    if kind == "memory_updated":
        return {"memory_id": draw(st.sampled_from(sorted(memories))), "content": word,
                "metadata": {"edited": True}}
    if kind == "memory_forgotten":
        return {"memory_id": draw(st.sampled_from(sorted(memories)))}
    if kind == "channels":  # a LangGraph thread's other channels (None removes one)
        return {"values": {name: draw(st.sampled_from([None, 3, word, {"a": [1, None]}]))
                           for name in draw(st.sampled_from([["counter"], ["plan", "x y"]]))}}
    if kind == "memory_linked":
        return {"source_id": draw(st.sampled_from(MEMORIES)),
                "target_id": draw(st.sampled_from(MEMORIES)), "relation": "about"}
    return {"server": draw(st.sampled_from(["fs", "Zapier 1"])),
            "state": draw(st.sampled_from([
                {"status": word}, {"server_type": "sse", "server_name": "x"},
                {"id": "mcp_server-0", "server_type": "streamable_http",
                 "server_name": "Zapier 1", "server_url": "https://z", "stdio_config": None,
                 "metadata_": {}}]))}


@st.composite
def states(draw: st.DrawFn) -> dict[str, Any]:
    content, memories = empty_content(), set[str]()
    for n in range(draw(st.integers(0, 25))):
        kinds = ["message", "reasoning", "tool_call", "tool_result", "memory_stored",
                 "memory_linked", "mcp_state", "channels"]
        if memories:
            kinds += ["memory_updated", "memory_forgotten"]
        kind = draw(st.sampled_from(kinds))
        data = _data(draw, kind, memories)
        envelope = make_envelope("prop", kind, data, event_id=f"e{n}")
        apply_event(content, kind, envelope.data_dict())
        memories = set(content["memories"])
    return {**content, "agent_id": "prop", "version": 1, "as_of": None,
            "content_hash": content_hash(content)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=states())
def test_any_state_the_events_make_exports_and_reads_back(state: dict[str, Any]) -> None:
    try:
        data = encode_state(state)  # raises unless the file imports back to the state's hash
    except AgentFileError:
        pytest.fail("a state made by events could not be exported")
    check_schema(data)


def test_a_state_no_events_can_make_is_refused_not_written_wrong() -> None:
    """A result after an unanswered call of the same id would attach to it on import: such a
    state (only a merge could make one) is refused with the reason."""
    content = empty_content()
    content["tool_calls"] = [{"call_id": "c1", "tool": "t", "arguments": {}, "result": None},
                             {"call_id": "c1", "result": {"output": "x", "is_error": False}}]
    state = {**content, "agent_id": "odd", "version": 2, "as_of": None,
             "content_hash": content_hash(content)}
    with pytest.raises(AgentFileError, match="would import as"):
        encode_state(state)


def _exported(tmp_path: Path, name: str, doc: dict[str, Any]) -> ImportedAgent:
    path = tmp_path / f"{name}.af"
    path.write_text(json.dumps(doc), encoding="utf-8")
    (agent,) = load_trace(path)
    return agent


def test_a_file_changed_after_export_is_read_as_any_letta_file(tmp_path: Path) -> None:
    """The record applies only to the file it was written with: one edited since (in its
    Letta fields, or a damaged record, or a format this ctxstore does not know) is read the
    way any Letta file is, so the edit is what gets imported, not a stale record."""
    content = empty_content()
    content["messages"] = [{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "yo"}]
    content["reasoning"] = {"elsewhere": [{"content": "hmm", "step": 4}]}
    content["memories"] = {"human": {"kind": "long_term", "content": "Sarah"}}
    state = {**content, "agent_id": "a", "version": 4, "as_of": None,
             "content_hash": content_hash(content)}
    exact = _exported(tmp_path, "untouched", agent_file(state))
    assert exact.format == "letta-v2-ctxstore"
    assert folded_hash(exact.envelopes) == state["content_hash"]

    edited = agent_file(state)
    edited["blocks"][0]["value"] = "Chad"
    agent = _exported(tmp_path, "edited", edited)
    assert agent.format == "letta-v2"
    (memory,) = [e.data_dict() for e in agent.envelopes if e.type == "memory_stored"]
    assert memory["content"] == "Chad" and memory["metadata"]["label"] == "human"
    assert agent.count("reasoning") == 0  # Letta's reading has none; the stale record is unused

    for change in ({"message_ids": [None]}, {"tool_calls": [{"message": "message-9",
                                                              "index": 0}]},
                   {"format": 99}):
        damaged = agent_file(state)
        damaged["agents"][0]["metadata"]["ctxstore"].update(change)
        agent = _exported(tmp_path, "damaged", damaged)
        assert agent.format == "letta-v2", change
        assert [e.data_dict()["content"] for e in agent.envelopes if e.type == "message"] == [
            "hi", "yo"]
