"""A real LangGraph `StateGraph` (`MessagesState` and a counter channel, a fake model node, no
network) checkpointed by `CtxstoreSaver`: turns, time travel (history, invoking from an earlier
checkpoint), forks (`update_state`, `copy_thread`), and the thread's messages as ctxstore
events — embedded on SQLite and remote on PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph

from ctxstore.infrastructure.adapters.agent_ids import agent_id_for
from ctxstore.infrastructure.adapters.langgraph import CtxstoreSaver, ValueTooLarge
from ctxstore.infrastructure.client import NotFound
from tests.served import CTXSTORE, running, serve_env
from tests.support import fresh_schema, make_settings

KEY = "lg-graph-key"


class State(MessagesState):
    turns: int


def model(state: State) -> dict[str, Any]:
    """A fake model: answers the last human message, calling a tool on "weather"."""
    last = state["messages"][-1]
    if isinstance(last, HumanMessage) and "weather" in str(last.content):
        call = {"id": f"call-{state.get('turns', 0)}", "name": "weather",
                "args": {"city": "Paris"}}
        return {"messages": [AIMessage("", tool_calls=[call]),
                             ToolMessage("sunny", tool_call_id=call["id"]),
                             AIMessage("It is sunny in Paris.")],
                "turns": state.get("turns", 0) + 1}
    return {"messages": [AIMessage(f"echo: {last.content}")],
            "turns": state.get("turns", 0) + 1}


def graph(saver: CtxstoreSaver) -> Any:
    builder = StateGraph(State)
    builder.add_node("model", model)
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    return builder.compile(checkpointer=saver)


@pytest.fixture(scope="module")
def served(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("lg-graph-serve")
    env = serve_env(tmp, CONTEXT_STORAGE_BACKEND="postgres", CONTEXT_DATABASE_URL=postgres_dsn,
                    CONTEXT_DATABASE_SCHEMA=fresh_schema(postgres_dsn),
                    CONTEXT_API_KEYS=f"{KEY}:lg-graph")
    with running([], env, tmp / "serve.log") as url:
        yield url, env


@pytest.fixture(params=["embedded", "remote"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CtxstoreSaver]:
    if request.param == "embedded":
        made = CtxstoreSaver(settings=make_settings("sqlite", tmp_path))
    else:
        made = CtxstoreSaver(url=request.getfixturevalue("served")[0], api_key=KEY)
    try:
        yield made
    finally:
        made.close()


def texts(values: dict[str, Any]) -> list[str]:
    return [str(m.content) for m in values["messages"]]


def stored_messages(saver: CtxstoreSaver, thread_id: str) -> list[str]:
    """The thread's messages as ctxstore holds them (its agent's latest context)."""
    async def read() -> list[str]:
        state = await saver._api().context(agent_id_for(thread_id))
        return [m["content"] for m in state.messages]
    return saver._run(read())


def config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def test_turns_time_travel_and_forks(saver: CtxstoreSaver) -> None:
    app = graph(saver)
    thread = "support chat #1"  # not an agent id: encoded, and kept on every record
    for text in ("hello", "what is the weather", "thanks"):
        app.invoke({"messages": [HumanMessage(text)]}, config(thread))
    now = app.get_state(config(thread))
    assert texts(now.values) == ["hello", "echo: hello", "what is the weather", "",
                                 "sunny", "It is sunny in Paris.", "thanks", "echo: thanks"]
    assert now.values["turns"] == 3
    assert stored_messages(saver, thread) == texts(now.values)

    # Time travel: the state after the first turn, and a new turn from there.
    history = list(app.get_state_history(config(thread)))
    assert [h.values.get("turns") for h in history] == [3, 2, 2, 2, 1, 1, 1, None, None]
    first = next(h for h in reversed(history) if h.values.get("turns") == 1 and not h.next)
    assert texts(first.values) == ["hello", "echo: hello"]
    branch = app.invoke({"messages": [HumanMessage("again")]}, first.config)
    assert texts(branch)[2:] == ["again", "echo: again"] and branch["turns"] == 2
    # The agent's content follows the thread's latest; the old branch stays readable.
    assert stored_messages(saver, thread) == texts(branch)
    assert texts(app.get_state(now.config).values) == texts(now.values)
    assert len(list(app.get_state_history(config(thread)))) == len(history) + 3

    # A fork by update_state from the old branch's latest checkpoint.
    forked = app.update_state(now.config, {"messages": [HumanMessage("edited")]})
    assert texts(app.get_state(config(thread)).values) == texts(now.values) + ["edited"]
    assert app.get_state(forked).values["turns"] == 3
    assert stored_messages(saver, thread) == texts(now.values) + ["edited"]

    # A history walk (one state read, then the events between checkpoints, restores included)
    # gives what reading each checkpoint alone gives.
    walked = list(app.get_state_history(config(thread)))
    assert len(walked) == len(history) + 4
    for snapshot in walked:
        assert app.get_state(snapshot.config).values == snapshot.values

    # copy_thread: ctxstore's fork; the copy continues on its own.
    saver.copy_thread(thread, "support chat #1 (copy)")
    copy = config("support chat #1 (copy)")
    assert app.get_state(copy).values == app.get_state(config(thread)).values
    assert ([h.config["configurable"]["checkpoint_id"] for h in app.get_state_history(copy)]
            == [h.config["configurable"]["checkpoint_id"]
                for h in app.get_state_history(config(thread))])
    after = app.invoke({"messages": [HumanMessage("on the copy")]}, copy)
    assert texts(after)[-2:] == ["on the copy", "echo: on the copy"]
    assert texts(app.get_state(config(thread)).values)[-1] == "edited"
    assert stored_messages(saver, "support chat #1 (copy)") == texts(after)


async def test_async_graph_and_typed_events(saver: CtxstoreSaver) -> None:
    app = graph(saver)
    thread = "async-thread-1"
    await app.ainvoke({"messages": [HumanMessage("what is the weather")]}, config(thread))
    state = await app.aget_state(config(thread))
    assert texts(state.values) == ["what is the weather", "", "sunny", "It is sunny in Paris."]

    async def events() -> list[tuple[str, dict[str, Any]]]:
        page = await saver._api().events(agent_id_for(thread), limit=100,
                                         types=["message", "tool_call"])
        return [(e.type, e.data) for e in page.items]

    typed = await saver._arun(events())
    assert [(t, d.get("role")) for t, d in typed] == [
        ("message", "user"), ("message", "assistant"), ("tool_call", None),
        ("message", "tool"), ("message", "assistant")]
    assert typed[2][1]["tool"] == "weather" and typed[2][1]["arguments"] == {"city": "Paris"}
    assert typed[3][1]["tool_call_id"] == "call-0"
    # A second turn records only what is new (storage grows with the conversation).
    await app.ainvoke({"messages": [HumanMessage("bye")]}, config(thread))
    assert len(await saver._arun(events())) == len(typed) + 2


def test_a_thread_is_searchable(served: tuple[str, dict[str, str]]) -> None:
    """The thread's messages are ctxstore messages: full-text search finds them."""
    with CtxstoreSaver(url=served[0], api_key=KEY) as saver:
        graph(saver).invoke({"messages": [HumanMessage("zeppelin voyage tomorrow")]},
                            config("searchable"))
        subprocess.run([CTXSTORE, "project", "--once", "--quiet"], env=served[1], check=True,
                       timeout=300, capture_output=True)
        found = saver._run(saver._api().search("zeppelin voyage"))
    assert [h.agent_id for h in found.hits] == [agent_id_for("searchable")]
    assert "zeppelin" in found.hits[0].snippet


def test_removed_messages_and_a_second_writer(saver: CtxstoreSaver, tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    """A message removed (`RemoveMessage`) leaves the agent holding exactly the thread's
    messages; a second saver on the same store continues the thread, and the first one sees
    its turn."""
    from langchain_core.messages import RemoveMessage

    def trim(state: State) -> dict[str, Any]:
        return {"messages": [RemoveMessage(id=m.id) for m in state["messages"][:-2]
                             if m.id is not None]}

    builder = StateGraph(State)
    builder.add_node("model", model)
    builder.add_node("trim", trim)
    builder.add_edge(START, "model")
    builder.add_edge("model", "trim")
    builder.add_edge("trim", END)
    app = builder.compile(checkpointer=saver)
    thread = "trimmed"
    app.invoke({"messages": [HumanMessage("one")]}, config(thread))
    app.invoke({"messages": [HumanMessage("two")]}, config(thread))
    assert texts(app.get_state(config(thread)).values) == ["two", "echo: two"]
    assert stored_messages(saver, thread) == ["two", "echo: two"]

    if saver._embedded is not None:
        other = CtxstoreSaver(settings=saver._embedded.services.settings)
    else:
        other = CtxstoreSaver(url=saver._url, api_key=KEY)
    with other:
        graph(other).invoke({"messages": [HumanMessage("three")]}, config(thread))
        assert texts(graph(other).get_state(config(thread)).values) == [
            "two", "echo: two", "three", "echo: three"]
    final = app.invoke({"messages": [HumanMessage("four")]}, config(thread))
    assert texts(final) == ["four", "echo: four"]
    assert stored_messages(saver, thread) == ["four", "echo: four"]


def test_a_ctxstore_checkpoint_keeps_the_channels(saver: CtxstoreSaver) -> None:
    """A thread's `channels` are content like its messages: a ctxstore checkpoint holds them
    (its hash is the agent's) and a restore from it gives them to another agent."""
    app = graph(saver)
    app.invoke({"messages": [HumanMessage("hello")]}, config("captured"))
    agent = agent_id_for("captured")

    async def capture_and_restore() -> tuple[Any, Any, Any]:
        api = saver._api()
        state = await api.context(agent)
        taken = await api.checkpoint(agent, label="lg")
        await api.restore("restored-from-lg", source_agent_id=agent,
                          checkpoint=taken.package_id, validation_level="comprehensive")
        return state, taken, await api.context("restored-from-lg")

    state, taken, restored = saver._run(capture_and_restore())
    channels = (state.model_extra or {})["channels"]
    assert channels["turns"] == {"j": 1}
    assert taken.integrity_hash == state.content_hash
    assert (restored.model_extra or {})["channels"] == channels
    assert restored.content_hash == state.content_hash


def test_a_copy_outlives_its_deleted_source(saver: CtxstoreSaver) -> None:
    """`copy_thread` then `delete_thread` of the source (forget): the copy keeps its latest
    checkpoint (it is the copy's own content, with its pending writes) and goes on from it."""
    app = graph(saver)
    app.invoke({"messages": [HumanMessage("hello")]}, config("to-forget"))
    app.invoke({"messages": [HumanMessage("again")]}, config("to-forget"))
    before = app.get_state(config("to-forget"))
    saver.copy_thread("to-forget", "kept-copy")
    saver.delete_thread("to-forget")
    assert saver.get_tuple(config("to-forget")) is None
    copied = app.get_state(config("kept-copy"))
    assert copied.values == before.values
    assert copied.config["configurable"]["checkpoint_id"] \
        == before.config["configurable"]["checkpoint_id"]
    after = app.invoke({"messages": [HumanMessage("still here")]}, config("kept-copy"))
    assert texts(after)[-2:] == ["still here", "echo: still here"] and after["turns"] == 3
    assert stored_messages(saver, "kept-copy") == texts(after)


def test_reads_from_what_the_saver_wrote_match_the_store(saver: CtxstoreSaver) -> None:
    """Checkpoints this saver wrote are read from its timeline (no state read from the
    store), across time travel, a fork, a copy and a second writer's turn; a new saver, which
    reads every state from the store, reads each the same."""
    app = graph(saver)
    thread, copy = "timeline", "timeline (copy)"
    for text in ("hello", "what is the weather", "thanks"):
        app.invoke({"messages": [HumanMessage(text)]}, config(thread))
    history = list(app.get_state_history(config(thread)))
    first = next(h for h in reversed(history) if h.values.get("turns") == 1 and not h.next)
    app.invoke({"messages": [HumanMessage("again")]}, first.config)
    app.update_state(history[0].config, {"messages": [HumanMessage("edited")]})
    saver.copy_thread(thread, copy)
    app.invoke({"messages": [HumanMessage("on the copy")]}, config(copy))
    if saver._embedded is not None:
        other = CtxstoreSaver(settings=saver._embedded.services.settings)
    else:
        other = CtxstoreSaver(url=saver._url, api_key=KEY)
    with other:
        graph(other).invoke({"messages": [HumanMessage("from another")]}, config(thread))
    app.invoke({"messages": [HumanMessage("and back")]}, config(thread))

    def states(reader: CtxstoreSaver, thread_id: str) -> list[tuple[str, dict[str, Any]]]:
        checkpoints = [h.config for h in graph(reader).get_state_history(config(thread_id))]
        return [(c["configurable"]["checkpoint_id"], graph(reader).get_state(c).values)
                for c in checkpoints]

    saver._states.clear()
    warm = states(saver, copy)
    assert saver._states == {}  # all from the timeline: nothing read from the store
    warm += states(saver, thread)  # the other writer's checkpoints are read from the store
    if saver._embedded is not None:
        cold_saver = CtxstoreSaver(settings=saver._embedded.services.settings)
    else:
        cold_saver = CtxstoreSaver(url=saver._url, api_key=KEY)
    with cold_saver:
        cold = states(cold_saver, copy) + states(cold_saver, thread)
    assert len(warm) == len(cold) > 20
    assert warm == cold


def test_a_value_over_the_event_limit_is_refused_by_name(saver: CtxstoreSaver) -> None:
    """A channel value is kept whole in one event: one over the store's event limit (1 MiB)
    fails the run with `ValueTooLarge` naming the channel and the limit, nothing else."""
    from typing_extensions import TypedDict

    class Blob(TypedDict):
        blob: str

    def grow(state: Blob) -> dict[str, Any]:
        return {"blob": state["blob"] * (2 * 1024 * 1024)}

    builder = StateGraph(Blob)
    builder.add_node("grow", grow)
    builder.add_edge(START, "grow")
    builder.add_edge("grow", END)
    app = builder.compile(checkpointer=saver)
    with pytest.raises(ValueTooLarge, match=r"channel 'blob' \(\d+ bytes encoded\).*"
                                            r"over the limit of 1048576 bytes"):
        app.invoke({"blob": "x"}, config("too large"))
    assert app.invoke({"blob": ""}, config("small enough")) == {"blob": ""}


def test_a_put_with_a_message_over_the_limit_records_nothing(saver: CtxstoreSaver) -> None:
    """A put is refused whole before it is sent: the store would record the valid rest of
    the batch (the checkpoint and its first message, without the second)."""
    from langgraph.checkpoint.base import empty_checkpoint

    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"messages": [HumanMessage("hi"),
                                                 AIMessage("x" * (2 * 1024 * 1024))]}
    checkpoint["channel_versions"] = {"messages": 1}
    with pytest.raises(ValueTooLarge, match="a message does not fit: event is"):
        saver.put(config("big message"), checkpoint, {}, {"messages": 1})
    assert list(saver.list(config("big message"))) == []
    with pytest.raises(NotFound):  # not one event of it was recorded
        stored_messages(saver, "big message")
