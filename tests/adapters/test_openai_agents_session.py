"""`CtxstoreSession`, the OpenAI Agents SDK session over ctxstore: the behaviours the SDK's own
tests check of its `SQLiteSession` (tests/memory/test_session.py upstream), run against ours,
embedded (SQLite in this process) and remote (a real `ctxstore serve` on PostgreSQL); an `Agent`
run with a fake model keeps its history in it; items come back exactly as given; pop and clear
are rewinds that keep history."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.memory import SessionSettings

from ctxstore.client import Client
from ctxstore.infrastructure.adapters.agent_ids import agent_id_for
from ctxstore.infrastructure.adapters.openai_agents import CtxstoreSession
from tests.adapters.fake_model import FakeModel, function_call, text_message
from tests.served import running, serve_env
from tests.support import fresh_schema, make_settings

set_tracing_disabled(True)  # no trace export: there is no network here

Make = Callable[..., CtxstoreSession]


@pytest.fixture(scope="module")
def server(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("oa-serve")
    env = serve_env(tmp, CONTEXT_STORAGE_BACKEND="postgres", CONTEXT_DATABASE_URL=postgres_dsn,
                    CONTEXT_DATABASE_SCHEMA=fresh_schema(postgres_dsn),
                    CONTEXT_API_KEYS="oa-key:oa-tenant")
    with running([], env, tmp / "serve.log") as url:
        yield url


@pytest.fixture(params=["embedded", "remote"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    made: list[CtxstoreSession] = []
    if request.param == "embedded":
        settings = make_settings("sqlite", tmp_path)

        def build(session_id: str, **kw: Any) -> CtxstoreSession:
            made.append(CtxstoreSession(session_id, settings=settings, **kw))
            return made[-1]
    else:
        url = request.getfixturevalue("server")

        def build(session_id: str, **kw: Any) -> CtxstoreSession:
            made.append(CtxstoreSession(session_id, url=url, api_key="oa-key", **kw))
            return made[-1]
    yield build
    for session in made:
        session.close()


def sid() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


# The SDK's SQLiteSession behaviours --------------------------------------------------------
async def test_add_get_and_clear(make: Make) -> None:
    session = make(sid())
    await session.add_items([{"role": "user", "content": "Hello"},
                             {"role": "assistant", "content": "Hi there!"}])
    got = await session.get_items()
    assert [(i.get("role"), i.get("content")) for i in got] == [
        ("user", "Hello"), ("assistant", "Hi there!")]
    await session.clear_session()
    assert await session.get_items() == []


async def test_pop_item_one_by_one(make: Make) -> None:
    session = make(sid())
    assert await session.pop_item() is None
    items: list[Any] = [{"role": "user", "content": "Hello"},
                        {"role": "assistant", "content": "Hi there!"},
                        {"role": "user", "content": "How are you?"}]
    await session.add_items(items)
    assert len(await session.get_items()) == 3
    for expected in reversed(items):
        assert await session.pop_item() == expected
    assert await session.pop_item() is None
    assert await session.get_items() == []


async def test_pop_affects_only_its_session(make: Make) -> None:
    one, two = make(sid()), make(sid())
    await one.add_items([{"role": "user", "content": "Session 1 message"}])
    await two.add_items([{"role": "user", "content": "Session 2 message 1"},
                         {"role": "user", "content": "Session 2 message 2"}])
    popped = await two.pop_item()
    assert popped is not None and popped.get("content") == "Session 2 message 2"
    assert [i.get("content") for i in await one.get_items()] == ["Session 1 message"]
    assert [i.get("content") for i in await two.get_items()] == ["Session 2 message 1"]


async def test_get_items_with_limit(make: Make) -> None:
    session = make(sid())
    texts = ["Message 1", "Response 1", "Message 2", "Response 2", "Message 3", "Response 3"]
    await session.add_items([{"role": "user" if i % 2 == 0 else "assistant", "content": t}
                             for i, t in enumerate(texts)])
    assert [i.get("content") for i in await session.get_items()] == texts
    assert [i.get("content") for i in await session.get_items(limit=2)] == texts[-2:]
    assert [i.get("content") for i in await session.get_items(limit=4)] == texts[-4:]
    assert [i.get("content") for i in await session.get_items(limit=10)] == texts
    assert await session.get_items(limit=0) == []


async def test_unicode_and_sql_looking_text(make: Make) -> None:
    session = make(sid())
    texts = ["こんにちは", "😊👍", "Привет", "O'Reilly", "DROP TABLE sessions;",
             '"SELECT * FROM users WHERE name = "admin";"', "Robert'); DROP TABLE students;--"]
    await session.add_items([{"role": "user", "content": t} for t in texts])
    assert [i.get("content") for i in await session.get_items()] == texts


async def test_concurrent_adds_from_threads_keep_every_item(make: Make) -> None:
    session = make(sid())

    def add(i: int) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(session.add_items([{"role": "user",
                                                        "content": f"Message {i}"}]))
        finally:
            loop.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(add, range(10)))
    got = await session.get_items()
    assert sorted(str(i.get("content")) for i in got) == sorted(f"Message {i}"
                                                                for i in range(10))


async def test_session_settings_limit_and_its_override(make: Make) -> None:
    assert make(sid()).session_settings == SessionSettings()
    session = make(sid(), session_settings=SessionSettings(limit=3))
    await session.add_items([{"role": "user", "content": f"Message {i}"} for i in range(5)])
    assert [i.get("content") for i in await session.get_items()] == [
        "Message 2", "Message 3", "Message 4"]
    assert [i.get("content") for i in await session.get_items(limit=2)] == [
        "Message 3", "Message 4"]


# An Agent run keeps its history here ---------------------------------------------------------
@function_tool
def city_weather(city: str) -> str:
    """The weather in a city."""
    return f"fog in {city}"


async def test_an_agent_run_keeps_its_history_with_tool_calls(make: Make) -> None:
    session = make(sid())
    model = FakeModel()
    agent = Agent(name="weather", model=model, tools=[city_weather])
    model.add_turns([function_call("city_weather", json.dumps({"city": "SF"}), "call-1")],
                    [text_message("It is foggy in SF.")])
    first = await Runner.run(agent, "Weather in SF?", session=session)
    assert first.final_output == "It is foggy in SF."

    model.add_turns([text_message("You asked about SF.")])
    second = await Runner.run(agent, "What did I ask?", session=session)
    assert second.final_output == "You asked about SF."
    sent = model.last_turn_args["input"]
    # The second turn's model input is the first turn's items, from the session, then the ask.
    assert [(i.get("type"), i.get("role")) for i in sent] == [
        (None, "user"), ("function_call", None), ("function_call_output", None),
        ("message", "assistant"), (None, "user")]
    assert sent[0]["content"] == "Weather in SF?" and sent[-1]["content"] == "What did I ask?"
    assert sent[2]["output"] == "fog in SF"
    history = await session.get_items()
    assert history[:len(sent)] == sent and len(history) == len(sent) + 1
    assert history[-1].get("role") == "assistant"


async def test_without_a_session_there_is_no_history() -> None:
    model = FakeModel()
    agent = Agent(name="t", model=model)
    model.add_turns([text_message("Hello")], [text_message("I don't remember")])
    await Runner.run(agent, "Hi there")
    await Runner.run(agent, "Do you remember?")
    assert len(model.last_turn_args["input"]) == 1


# What ctxstore adds ---------------------------------------------------------------------------
ITEMS: list[Any] = [
    {"role": "developer", "content": "Be brief."},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "greet"}]},
    {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "lookup",
     "arguments": "{\"q\": \"x\"}", "status": "completed"},
    {"type": "function_call_output", "call_id": "c1", "output": "42"},
    {"type": "web_search_call", "id": "ws_1", "status": "completed"},
    {"type": "item_reference", "id": "ref_1"},
    {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
     "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]},
]


async def test_items_come_back_exactly_and_ctxstore_sees_a_typed_conversation(
        make: Make, request: pytest.FixtureRequest) -> None:
    session = make("support chat #7 / ünïcode")  # not an agent id: encoded, original kept
    assert session.agent_id == agent_id_for("support chat #7 / ünïcode")
    assert session.agent_id.startswith("x-")
    await session.add_items(ITEMS[:4])
    await session.add_items(ITEMS[4:])
    assert await session.get_items() == ITEMS

    state = await session._client().context(session.agent_id)
    assert [m["role"] for m in state.messages] == ["system", "user", "assistant", "assistant"]
    assert state.messages[-1]["content"][0]["text"] == "Hello!"
    calls = {c["call_id"]: c for c in state.tool_calls}
    assert calls["c1"]["tool"] == "lookup" and calls["c1"]["arguments"] == {"q": "x"}
    assert calls["c1"]["result"]["output"] == "42"
    assert calls["ws_1"]["tool"] == "web_search_call"
    assert state.reasoning["openai-agents"][0]["content"] == "greet"
    page = await session._client().events(session.agent_id)
    assert {e.session_id for e in page.items} == {"support chat #7 / ünïcode"}


async def test_pop_and_clear_are_rewinds_that_keep_history(make: Make) -> None:
    session = make(sid())
    await session.add_items(ITEMS[:5])
    assert await session.pop_item() == ITEMS[4]  # the tool result: the call stays, unanswered
    state = await session._client().context(session.agent_id)
    assert [c.get("result") for c in state.tool_calls] == [None]
    await session.add_items([ITEMS[4]])  # the same item again: a new event, a new position
    assert await session.get_items() == ITEMS[:5]
    await session.clear_session()
    assert await session.get_items() == []
    client = session._client()
    page = await client.events(session.agent_id, limit=1000)
    kinds = [e.type for e in page.items]
    assert kinds.count("tool_result") == 2 and kinds[-1] == "context_restored"
    # Everything is still there to go back to: the version before the clear.
    await client.rewind(session.agent_id, version=page.items[-2].version)
    assert await session.get_items() == ITEMS[:5]


async def test_a_refused_item_is_a_clear_error_and_nothing_is_lost(make: Make) -> None:
    session = make(sid())
    await session.add_items([{"role": "user", "content": "kept"}])
    # The store's own tag for its values: the server refuses that item and records the rest.
    reserved = {"role": "user", "content": "x", "extra": {"_type_": "a", "_data_": "b"}}
    with pytest.raises(ValueError, match=r"refused item 1: .*_type_.* \(data\.source"):
        await session.add_items([{"role": "user", "content": "fine"}, reserved])
    assert [i.get("content") for i in await session.get_items()] == ["kept", "fine"]
    # Not JSON at all: refused before anything is sent.
    with pytest.raises(ValueError, match="not JSON"):
        await session.add_items([{"role": "user", "content": "lost?"},
                                 {"role": "user", "content": "x", "score": float("nan")}])
    assert [i.get("content") for i in await session.get_items()] == ["kept", "fine"]


def test_remote_items_are_the_tenants_own(server: str) -> None:
    session = CtxstoreSession("tenant-check", url=server, api_key="oa-key")
    try:
        asyncio.run(session.add_items([{"role": "user", "content": "mine"}]))
    finally:
        session.close()
    with Client(server, api_key="oa-key") as mine:
        assert mine.context("tenant-check").messages[0]["content"] == "mine"
