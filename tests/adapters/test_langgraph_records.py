"""How `CtxstoreSaver` encodes channel values: plain JSON as itself, messages in LangChain's
dict form, everything else by LangGraph's serializer; each reads back equal, never as pickle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from ctxstore.infrastructure.adapters.langgraph_records import ThreadIndex, decode, encode

SERDE = JsonPlusSerializer()


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "héllo", [1, "a", None], {"k": {"n": [1, 2]}}, 2**63 - 1,
])
def test_plain_json_is_kept_as_itself(value: Any) -> None:
    encoded = encode(SERDE, value)
    assert encoded == {"j": value}
    assert decode(SERDE, encoded) == value


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value", [
    (1, 2), {1, 2}, b"\x00\xff", float("inf"), datetime(2026, 1, 2, tzinfo=UTC),
    {"_type_": "x", "_data_": 1}, {3: "int key"}, "lone \ud800 surrogate", _nested(60),
])
def test_anything_else_reads_back_as_langgraphs_serializer_gives_it(value: Any) -> None:
    """Exactly what LangGraph's own savers give back (msgpack makes a tuple a list)."""
    encoded = encode(SERDE, value)
    assert "j" not in encoded
    assert decode(SERDE, encoded) == SERDE.loads_typed(SERDE.dumps_typed(value))


def test_messages_are_kept_in_langchain_form() -> None:
    messages = [HumanMessage("hi", id="1"),
                AIMessage("", id="2", tool_calls=[{"id": "c", "name": "t", "args": {}}])]
    encoded = encode(SERDE, messages)
    assert "lc" in encoded and encoded["lc"][0] == {"type": "human", "data": {
        "content": "hi", "type": "human", "id": "1"}}
    assert decode(SERDE, encoded) == messages


def test_no_pickle() -> None:
    class Odd:
        pass

    with pytest.raises(Exception) as refused:
        encode(JsonPlusSerializer(pickle_fallback=True), Odd())
    assert "pickle" in str(refused.value)
    with pytest.raises(Exception):  # noqa: B017 - whatever msgpack raises, nothing is kept
        encode(SERDE, Odd())


def test_a_tool_call_the_store_cannot_take_stays_in_its_message() -> None:
    from ctxstore.infrastructure.adapters.langgraph_records import (
        message_events,
        message_item,
        message_of,
    )

    message = AIMessage("", id="m", tool_calls=[
        {"id": "ok", "name": "t", "args": {"n": 1}},
        {"id": "nan", "name": "t", "args": {"n": float("nan")}}])
    events = message_events(message_item(SERDE, "messages", message), message, 0)
    assert [(kind, data.get("call_id")) for kind, data in events] == [
        ("message", None), ("tool_call", "ok")]
    item = events[0][1]["source"]["item"]
    assert "encoded" in item  # not plain JSON: kept by LangGraph's serializer
    assert [c["id"] for c in message_of(SERDE, item).tool_calls] == ["ok", "nan"]


def test_a_copied_threads_checkpoints_are_shared_until_either_side_writes_to_one() -> None:
    """A copy shares the source's entries (no Entry made per checkpoint); a write to one on
    either side makes that side's entry its own, and the other does not see it."""
    def write(index: ThreadIndex, version: int, task: str) -> None:
        index.apply(version, {"kind": "writes", "ns": "", "checkpoint": "c1", "task": task,
                              "path": "", "writes": [[0, "messages", {"j": task}]]})

    source = ThreadIndex("agent-a")
    source.apply(1, {"kind": "checkpoint", "ns": "", "id": "c1", "parent": None})
    source.apply(2, {"kind": "checkpoint", "ns": "", "id": "c2", "parent": "c1"})
    write(source, 3, "before")
    copy = ThreadIndex("agent-b")
    copy.apply(1, {"kind": "copied", "from": "agent-a", "version": 3, "latest": []}, source)
    assert copy.entries[("", "c1")] is source.entries[("", "c1")]
    write(copy, 2, "copy's")
    write(source, 4, "source's")
    assert set(copy.entries[("", "c1")].writes) == {("before", 0), ("copy's", 0)}
    assert set(source.entries[("", "c1")].writes) == {("before", 0), ("source's", 0)}
    assert copy.entries[("", "c2")] is source.entries[("", "c2")]  # untouched: still shared


def test_the_newest_checkpoint_follows_every_record() -> None:
    """`get(ns, None)` keeps what it found until a record is folded: a newer put, a prune of
    the newest, and a put in another namespace each give the answer a fresh pass gives."""
    index = ThreadIndex("agent")

    def put(version: int, ns: str, cid: str) -> None:
        index.apply(version, {"kind": "checkpoint", "ns": ns, "id": cid, "parent": None})

    assert index.get("", None) is None
    put(1, "", "0001")
    put(2, "", "0002")
    newest = index.get("", None)
    assert newest is not None and newest.id == "0002" and index.get("", None) is newest
    put(3, "", "0003")
    assert index.get("", None).id == "0003"  # type: ignore[union-attr]
    index.apply(4, {"kind": "pruned", "ids": [["", "0003"]]})
    assert index.get("", None).id == "0002"  # type: ignore[union-attr]
    put(5, "sub", "0009")
    assert index.get("", None).id == "0002"  # type: ignore[union-attr]
    assert index.get("sub", None).id == "0009"  # type: ignore[union-attr]
    put(6, "", "0000")  # an older id put again later: not the newest
    assert index.get("", None).id == "0002"  # type: ignore[union-attr]
    fresh = ThreadIndex("agent", entries=dict(index.entries), pruned=set(index.pruned))
    assert {ns: index.get(ns, None) for ns in ("", "sub")} == {
        ns: fresh.get(ns, None) for ns in ("", "sub")}
