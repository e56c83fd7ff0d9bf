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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langgraph.checkpoint.serde.base import SerializerProtocol

FRAMEWORK = "langgraph"
ROOT = ""
ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
         "AIMessageChunk": "assistant"}
MAX_SHORT = 256


def encode(serde: SerializerProtocol, value: Any) -> dict[str, str]:
    kind, raw = serde.dumps_typed(value)
    return {"t": kind, "b64": base64.b64encode(raw).decode("ascii")}


def decode(serde: SerializerProtocol, encoded: dict[str, str]) -> Any:
    return serde.loads_typed((encoded["t"], base64.b64decode(encoded["b64"])))


def channel_key(ns: str, name: str) -> str:
    """The name of a channel in the content's `channels` (the root's keep their own)."""
    return name if ns == ROOT else f"{ns}|{name}"


def is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(m, BaseMessage) for m in value)


def message_item(serde: SerializerProtocol, channel: str, message: BaseMessage
                 ) -> dict[str, Any]:
    """A message as kept in its event's `source.item`: LangChain's own dict form, or
    LangGraph's serializer's when that is not plain JSON."""
    as_dict = message_to_dict(message)
    try:
        json.dumps(as_dict, allow_nan=False)
        return {"channel": channel, "message": as_dict}
    except (TypeError, ValueError):
        return {"channel": channel, "encoded": encode(serde, message)}


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
    data: dict[str, Any] = {"role": ROLES.get(message.type, "assistant"), "content": content,
                            "source": {"framework": FRAMEWORK, "position": position,
                                       "item": item}}
    if isinstance(message.name, str) and 0 < len(message.name) <= MAX_SHORT:
        data["name"] = message.name
    if message.id and len(message.id) <= MAX_SHORT:
        data["message_id"] = message.id
    call_id = getattr(message, "tool_call_id", None)
    if isinstance(call_id, str) and 0 < len(call_id) <= MAX_SHORT:
        data["tool_call_id"] = call_id
    events: list[tuple[str, dict[str, Any]]] = [("message", data)]
    for call in getattr(message, "tool_calls", None) or []:
        if call.get("id") and call.get("name") and len(call["id"]) <= MAX_SHORT:
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
    # The root message channels the agent's latest content holds (fingerprints), when known.
    messages: dict[str, list[str]] | None = None

    def live(self, ns: str | None = None) -> list[Entry]:
        """Live checkpoints (of one namespace, or all), newest id first."""
        return sorted((e for k, e in self.entries.items()
                       if k not in self.pruned and (ns is None or e.ns == ns)),
                      key=lambda e: e.id, reverse=True)

    def get(self, ns: str, checkpoint_id: str | None) -> Entry | None:
        if checkpoint_id is None:
            live = self.live(ns)
            return live[0] if live else None
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
                self.messages = None
            self.entries[(ns, cid)] = Entry(ns, cid, item, self.agent, version)
            self.pruned.discard((ns, cid))
            self.last_put[ns] = (cid, version)
        elif kind == "writes":
            entry = self.entries.get((item["ns"], item["checkpoint"]))
            if entry is not None:
                for idx, channel, value in item["writes"]:
                    key = (item["task"], idx)
                    if idx >= 0 and key in entry.writes:
                        continue  # a write is recorded once; special channels are replaced
                    entry.writes[key] = (item["task"], channel, value, item.get("path", ""))
        elif kind == "pruned":
            self.pruned.update((ns, cid) for ns, cid in item["ids"])
            if item.get("rebased"):
                self.base = version
                self.messages = None
        elif kind == "copied" and copied is not None:
            for key, entry in copied.entries.items():
                self.entries[key] = entry.copy()
            self.pruned |= copied.pruned
            self.base = version
            self.messages = None
