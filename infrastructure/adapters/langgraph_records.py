"""How a LangGraph thread is written into a ctxstore agent, and read back: the encodings and
the per-thread index of checkpoints (the half of `CtxstoreSaver` that does no I/O).

A thread's agent holds, in its own history:

- each message of a root-namespace message channel (a list of LangChain messages) as one
  `message` event (and a `tool_call` event per tool call an AI message makes), with the message
  as LangChain serialises it in `source.item`, so a channel comes back exactly;
- every other channel value in the content field `channels` (DESIGN §2), under the channel's
  name (`<ns>|<name>` inside a subgraph), encoded by LangGraph's own `JsonPlusSerializer`
  (msgpack, never pickle), base64 in JSON;
- one `channels` event per LangGraph checkpoint, whose `source.item` is LangGraph's record of
  it (id, parent, metadata, versions, which channels it holds), and one per `put_writes`,
  prune, run deletion or copy: the index below is the fold of those records, so any process
  rebuilds it from the history alone.

A checkpoint is read as the agent's state at the version its record was written: the messages
and `channels` of that state are exactly the checkpoint's values.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

try:
    from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
    from langgraph.checkpoint.serde.base import SerializerProtocol
except ModuleNotFoundError as missing:  # an optional extra: say which, not just what is missing
    raise ModuleNotFoundError("ctxstore's LangGraph checkpointer needs LangGraph: pip install "
                              "'ctxstore[langgraph]'", name=missing.name) from missing

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 48  # of a value inside an event's data (the doors allow 64 in all)
FRAMEWORK = "langgraph"
ROOT = ""
ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
         "AIMessageChunk": "assistant"}
MAX_SHORT = 256


def encode(serde: SerializerProtocol, value: Any) -> dict[str, Any]:
    """A value as JSON the store takes: itself when it is plain JSON (then the encoding is the
    identity, and compresses and reads as JSON); LangChain messages in LangChain's own dict
    form; anything else by LangGraph's serializer (msgpack, base64). Never pickle."""
    if _plain(value, 0):
        # A copy: the caller may change its value after (LangGraph's loop does).
        return {"j": orjson.loads(orjson.dumps(value))}
    if isinstance(value, list) and value and all(isinstance(m, BaseMessage) for m in value):
        dicts = [message_dict(m) for m in value]
        if _plain(dicts, 0):
            return {"lc": dicts}
    kind, raw = serde.dumps_typed(value)
    if kind == "pickle":
        raise ValueError(f"ctxstore keeps no pickles: a {type(value).__name__} value "
                         "needs LangGraph's pickle fallback")
    return {"t": kind, "b64": base64.b64encode(raw).decode("ascii")}


def decode(serde: SerializerProtocol, encoded: dict[str, Any]) -> Any:
    if "j" in encoded:  # a copy: the caller may change what it is given
        return orjson.loads(orjson.dumps(encoded["j"]))
    if "lc" in encoded:
        return messages_from_dict(encoded["lc"])
    return serde.loads_typed((encoded["t"], base64.b64decode(encoded["b64"])))


def _plain(value: Any, depth: int) -> bool:
    """Whether `value` is JSON that reads back as itself within every bound of the store's
    doors (DESIGN §2): no tuples, sets, NaN, huge integers, lone surrogates, non-string keys,
    reserved objects or deep nesting."""
    kind = type(value)
    if value is None or kind is bool:
        return True
    if kind is int:
        return bool(INT64_MIN <= value <= INT64_MAX)
    if kind is float:
        return math.isfinite(value)
    if kind is str:
        return _text(value)
    if depth >= MAX_DEPTH:
        return False
    if kind is list:
        return all(_plain(v, depth + 1) for v in value)
    if kind is dict:
        if set(value) == {"_type_", "_data_"}:
            return False
        return all(type(k) is str and _text(k) and _plain(v, depth + 1)
                   for k, v in value.items())
    return False


def _text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def channel_key(ns: str, name: str) -> str:
    """The name of a channel in the content's `channels` (the root's keep their own)."""
    return name if ns == ROOT else f"{ns}|{name}"


def is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(m, BaseMessage) for m in value)


def message_item(serde: SerializerProtocol, channel: str, message: BaseMessage
                 ) -> dict[str, Any]:
    """A message as kept in its event's `source.item`: LangChain's own dict form without the
    fields left at their defaults (which reading it back restores), or LangGraph's
    serializer's when that is not plain JSON."""
    as_dict = message_dict(message)
    try:
        json.dumps(as_dict, allow_nan=False)
        return {"channel": channel, "message": as_dict}
    except (TypeError, ValueError):
        return {"channel": channel, "encoded": encode(serde, message)}


def message_dict(message: BaseMessage) -> dict[str, Any]:
    """LangChain's dict form of a message, without the fields left at their defaults."""
    as_dict = message_to_dict(message)
    as_dict["data"] = _without_defaults(message, as_dict["data"])
    return as_dict


def _without_defaults(message: BaseMessage, data: dict[str, Any]) -> dict[str, Any]:
    fields = type(message).model_fields
    kept = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is not None and not field.is_required() and key != "type" \
                and field.get_default(call_default_factory=True) == value:
            continue
        kept[key] = value
    return kept


def message_of(serde: SerializerProtocol, item: dict[str, Any]) -> BaseMessage:
    if "encoded" in item:
        return decode(serde, item["encoded"])  # type: ignore[no-any-return]
    return messages_from_dict([item["message"]])[0]


def fingerprint(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def message_events(item: dict[str, Any], message: BaseMessage, position: int
                   ) -> list[tuple[str, dict[str, Any]]]:
    """The ctxstore events (type, data) of one message: the message, then its tool calls."""
    content: Any = message.content
    if not (isinstance(content, str) or (isinstance(content, list)
                                         and all(isinstance(p, dict) for p in content))):
        content = json.dumps(content, default=str)
    kept = item
    if "message" in item and content is message.content \
            and item["message"]["data"].get("content") == content:
        # The message's content is the event's: kept once (messages_in puts it back).
        kept = {**item, "message": {**item["message"], "data": {
            k: v for k, v in item["message"]["data"].items() if k != "content"}},
                "content_in_event": True}
    data: dict[str, Any] = {"role": ROLES.get(message.type, "assistant"), "content": content,
                            "source": {"framework": FRAMEWORK, "position": position,
                                       "item": kept}}
    if isinstance(message.name, str) and 0 < len(message.name) <= MAX_SHORT:
        data["name"] = message.name
    if message.id and len(message.id) <= MAX_SHORT:
        data["message_id"] = message.id
    call_id = getattr(message, "tool_call_id", None)
    if isinstance(call_id, str) and 0 < len(call_id) <= MAX_SHORT:
        data["tool_call_id"] = call_id
    events: list[tuple[str, dict[str, Any]]] = [("message", data)]
    for call in getattr(message, "tool_calls", None) or []:
        # A call the store could not take as its own event stays in the message's item.
        if call.get("id") and call.get("name") and len(call["id"]) <= MAX_SHORT \
                and _plain(call.get("args") or {}, 0):
            events.append(("tool_call", {"call_id": call["id"], "tool": call["name"][:MAX_SHORT],
                                         "arguments": dict(call.get("args") or {})}))
    return events


def messages_in(state_messages: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """This adapter's message items held in a state, by channel, in order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for message in state_messages:
        source = message.get("source")
        if isinstance(source, dict) and source.get("framework") == FRAMEWORK:
            item = source["item"]
            if item.get("content_in_event"):
                item = {k: v for k, v in item.items() if k != "content_in_event"}
                item["message"] = {**item["message"], "data": {
                    **item["message"]["data"], "content": message["content"]}}
            found.setdefault(item["channel"], []).append(item)
    return found


@dataclass
class Entry:
    """One LangGraph checkpoint: its record, and where its values are (agent, version)."""

    ns: str
    id: str
    record: dict[str, Any]
    agent: str
    version: int
    # (task_id, idx) -> (task_id, channel, encoded value, task_path)
    writes: dict[tuple[str, int], tuple[str, str, dict[str, str], str]] = field(
        default_factory=dict)

    @property
    def parent(self) -> str | None:
        return self.record.get("parent")  # type: ignore[no-any-return]

    def as_latest(self) -> dict[str, Any]:
        """What a copy's record keeps of its source's latest checkpoint of a namespace."""
        writes = [[task, idx, channel, value, path]
                  for (task, idx), (_, channel, value, path) in self.writes.items()]
        return {"ns": self.ns, "id": self.id, "record": self.record, "writes": writes}

    def copy(self) -> Entry:
        return Entry(self.ns, self.id, self.record, self.agent, self.version, dict(self.writes))


@dataclass
class ThreadIndex:
    """The fold of a thread's LangGraph records (module doc): its live checkpoints by
    namespace and id, which ones are pruned, and what the last put of each namespace was."""

    agent: str
    scanned: int = 0  # history read up to this version
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    pruned: set[tuple[str, str]] = field(default_factory=set)
    last_put: dict[str, tuple[str, int]] = field(default_factory=dict)  # ns -> (id, version)
    base: int = 0  # the version of the last rewind this adapter made: earlier puts are stale
    # What this saver last put, while nothing else was written: the root message channels'
    # message objects (a put whose messages start with the very same objects appends the
    # rest without serialising the whole list), and each namespace's latest checkpoint id
    # with its values (message lists as objects, the rest encoded).
    objects: dict[str, list[Any]] | None = None
    latest: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # Entries shared with another thread's index by a copy (`copied`), until a write to one
    # of them here makes it this index's own: a copy costs the thread's length in C, not an
    # Entry made per checkpoint (three milliseconds at 1,500).
    shared: set[tuple[str, str]] = field(default_factory=set)
    # Each namespace's newest live entry as `get` found it, kept up to date by `apply`.
    newest: dict[str, Entry | None] = field(default_factory=dict, repr=False)

    def forget_puts(self) -> None:
        """Others wrote: what this saver last put is no longer known to be the latest."""
        self.objects = None
        self.latest.clear()

    def live(self, ns: str | None = None) -> list[Entry]:
        """Live checkpoints (of one namespace, or all), newest id first."""
        return sorted((e for k, e in self.entries.items()
                       if k not in self.pruned and (ns is None or e.ns == ns)),
                      key=lambda e: e.id, reverse=True)

    def namespaces(self) -> set[str]:
        """The namespaces with a live checkpoint."""
        return {e.ns for k, e in self.entries.items() if k not in self.pruned}

    def get(self, ns: str, checkpoint_id: str | None) -> Entry | None:
        if checkpoint_id is None:  # the newest: every read of a thread's latest asks, so
            # one pass over the entries (not a sort of them), kept current by `apply`
            if ns not in self.newest:
                self.newest[ns] = max((e for k, e in self.entries.items()
                                       if k not in self.pruned and e.ns == ns),
                                      key=lambda e: e.id, default=None)
            return self.newest[ns]
        key = (ns, checkpoint_id)
        return None if key in self.pruned else self.entries.get(key)

    def follows(self, ns: str, parent: str | None) -> bool:
        """Whether a put with this parent continues the namespace's latest content."""
        last = self.last_put.get(ns)
        return parent is not None and last is not None and last[0] == parent \
            and last[1] >= self.base

    def apply(self, version: int, item: dict[str, Any], copied: ThreadIndex | None = None
              ) -> None:
        """Fold one record (a `channels` event's `source.item` at `version`)."""
        kind = item.get("kind")
        if kind == "checkpoint":
            ns, cid = item["ns"], item["id"]
            if item.get("rebased"):
                self.base = version
            made = self.entries[(ns, cid)] = Entry(ns, cid, item, self.agent, version)
            self.pruned.discard((ns, cid))
            self.last_put[ns] = (cid, version)
            if ns in self.newest:  # ids grow with time: a put is the newest, or not it
                newest = self.newest[ns]
                if newest is None or cid >= newest.id:
                    self.newest[ns] = made
        elif kind == "writes":
            at = (item["ns"], item["checkpoint"])
            entry = self.entries.get(at)
            if entry is not None:
                if at in self.shared:
                    if self.newest.get(at[0]) is entry:
                        del self.newest[at[0]]
                    entry = self.entries[at] = entry.copy()
                    self.shared.discard(at)
                for idx, channel, value in item["writes"]:
                    key = (item["task"], idx)
                    if idx >= 0 and key in entry.writes:
                        continue  # a write is recorded once; special channels are replaced
                    entry.writes[key] = (item["task"], channel, value, item.get("path", ""))
        elif kind == "pruned":
            self.newest.clear()
            self.pruned.update((ns, cid) for ns, cid in item["ids"])
            if item.get("rebased"):
                self.base = version
        elif kind == "copied":
            self.newest.clear()
            # The source's checkpoints, read in its history (gone if it was deleted since)...
            if copied is not None:
                self.entries.update(copied.entries)
                keys = copied.entries.keys()
                self.shared.update(keys)
                copied.shared.update(keys)
                self.pruned |= copied.pruned
            self.base = version
            # ...but each namespace's latest is this agent's own: the fork gave it that content.
            for latest in item.get("latest", ()):
                ns, cid = latest["ns"], latest["id"]
                entry = Entry(ns, cid, latest["record"], self.agent, version)
                for task, idx, channel, value, path in latest["writes"]:
                    entry.writes[(task, idx)] = (task, channel, value, path)
                self.entries[(ns, cid)] = entry
                self.shared.discard((ns, cid))
                self.pruned.discard((ns, cid))
                self.last_put[ns] = (cid, version)
