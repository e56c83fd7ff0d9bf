"""An agent's context as a Letta Agent File (`.af`, the v2 multi-entity format), and back.

Why v2: it is the format Letta exports and imports today (the shared traces from 2025-10-31 on
are v2; v1 is the legacy one-agent shape), and it is the one `letta-client` types as
`AgentFileSchema` (0.1.x; the 1.x clients ship no typed schema), which the tests and
`export-af --check-schema` (letta_schema.py) validate exported files against.

What Letta has a place for goes in Letta's own fields, so Letta shows it:
- each message -> a `messages[]` entry (`message-<i>`, role, text content parts, name,
  tool_call_id), all of them in `in_context_message_ids`;
- each tool call whose result a later tool message carries -> `tool_calls[]` of the assistant
  message before that tool message (OpenAI's shape: id, function name, JSON arguments);
- each memory -> a core memory block (`block-<j>`: label, value, limit, description,
  read_only, metadata, taken from a Letta block's metadata when the memory came from one);
- each MCP server state -> an `mcp_servers[]` record (`mcp_server-<k>`).

What Letta has no place for (reasoning threads, memory links, a framework's channels, memory
kinds, embeddings and importance, tool results, message ids and tokens, exact content parts,
MCP states that are not server records, tool calls no tool message answers) is kept in the
agent's `metadata.ctxstore` (the schema allows any JSON there): only what the Letta fields
cannot say, keyed by the Letta ids it completes, with the content hash exported. The importer
(letta.py) reads a file carrying it with `decode_exact` below, the exact inverse, so export ->
import gives the same content hash (DESIGN §2); `encode_state` checks that before it returns,
so a state it cannot carry is an error, never a wrong file. A file changed since (the hash no
longer comes out) is read as any Letta file instead. """

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ctxstore.domain.events import AnyEnvelope
from ctxstore.domain.state import apply_event, content_hash, empty_content
from ctxstore.infrastructure.importers.base import (
    Emitter,
    EventLimits,
    Reader,
    TraceFormatError,
    at,
)

EXTENSION = "ctxstore"  # the key of our record in the agent's metadata
FORMAT = 1
AGENT_FILE_ID = "agent-0"
DEFAULT_BLOCK_LIMIT = 5000  # Letta's default core memory block limit (characters)
MCP_SERVER_TYPES = ("sse", "stdio", "streamable_http")
# The message fields Letta's message record carries itself; the others go to the extension.
LETTA_MESSAGE_FIELDS = ("role", "content", "name", "tool_call_id")


class AgentFileError(ValueError):
    """A state that cannot be written as an agent file that reads back to it."""


# --- writing -------------------------------------------------------------------------------


def encode_state(state: dict[str, Any], limits: EventLimits | None = None) -> bytes:
    """The `.af` bytes of a DESIGN §2 state; AgentFileError unless they import back to the
    state's content hash."""
    data = json.dumps(agent_file(state), ensure_ascii=False, allow_nan=False).encode("utf-8")
    got = imported_hash(data, limits)
    if got != state["content_hash"]:
        raise AgentFileError(f"agent {state['agent_id']!r} at version {state['version']}: "
                             f"its agent file would import as {got}, not "
                             f"{state['content_hash']}")
    return data


def agent_file(state: dict[str, Any]) -> dict[str, Any]:
    """The agent file document (AgentFileSchema's JSON) of a DESIGN §2 state."""
    extension: dict[str, Any] = {"format": FORMAT, "content_hash": state["content_hash"]}
    messages = _messages(state["messages"], extension)
    _tool_calls(state["messages"], state["tool_calls"], messages, extension)
    blocks = _blocks(state["memories"], extension)
    servers = _mcp_servers(state["mcp_servers"], extension)
    if state["reasoning"]:
        extension["reasoning"] = state["reasoning"]
    if state["memory_links"]:
        extension["memory_links"] = state["memory_links"]
    if state.get("channels"):  # a framework's named values (a LangGraph thread's channels)
        extension["channels"] = state["channels"]
    system = next((m["content"] for m in state["messages"]
                   if m["role"] == "system" and isinstance(m["content"], str)), None)
    agent: dict[str, Any] = {
        "id": AGENT_FILE_ID,
        "name": state["agent_id"],
        "system": system,
        "block_ids": [b["id"] for b in blocks],
        "tool_ids": [],
        "tags": [],
        "in_context_message_ids": [m["id"] for m in messages],
        "messages": messages,
        "files_agents": [],
        "group_ids": [],
        "metadata": {EXTENSION: extension},
    }
    return {
        "agents": [{k: v for k, v in agent.items() if v is not None}],
        "groups": [],
        "blocks": blocks,
        "files": [],
        "sources": [],
        "tools": [],
        "mcp_servers": servers,
        # AgentFileSchema's metadata takes strings only
        "metadata": {"ctxstore_agent_id": state["agent_id"],
                     "ctxstore_version": str(state["version"]),
                     "ctxstore_content_hash": state["content_hash"]},
        "created_at": state["as_of"],
    }


def _text_parts(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Letta content parts: text parts as they are, any other part as its JSON text (Letta's
    part types are a closed set)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [{"type": "text", "text": p["text"]}
            if set(p) == {"type", "text"} and p["type"] == "text" and isinstance(p["text"], str)
            else {"type": "text", "text": json.dumps(p, ensure_ascii=False)} for p in content]


def _read_parts(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """The content Letta text parts stand for when the extension says nothing: one part is
    its text, several are the list."""
    if len(parts) == 1:
        return str(parts[0]["text"])
    return [{"type": "text", "text": p["text"]} for p in parts]


def _messages(messages: list[dict[str, Any]], extension: dict[str, Any]) -> list[dict[str, Any]]:
    """Letta message records; the extension keeps `message_ids` (one per message, null for
    none) when any differs from its Letta id, and per Letta id what else Letta cannot say."""
    out, extra, ids = [], {}, []
    for i, message in enumerate(messages):
        letta_id = f"message-{i}"
        parts = _text_parts(message["content"])
        record: dict[str, Any] = {"type": "message", "id": letta_id, "role": message["role"],
                                  "content": parts, "agent_id": AGENT_FILE_ID}
        for key in ("name", "tool_call_id"):
            if key in message:
                record[key] = message[key]
        rest = {k: v for k, v in message.items()
                if k not in LETTA_MESSAGE_FIELDS and k != "message_id"}
        ids.append(message.get("message_id"))
        if _read_parts(parts) != message["content"]:
            rest["content"] = message["content"]
        if rest:
            extra[letta_id] = rest
        out.append(record)
    if extra:
        extension["messages"] = extra
    if ids != [m["id"] for m in out]:
        extension["message_ids"] = ids
    return out


def _tool_calls(messages: list[dict[str, Any]], calls: list[dict[str, Any]],
                records: list[dict[str, Any]], extension: dict[str, Any]) -> None:
    """A call goes on the assistant message before the tool message that answers it (where
    Letta and OpenAI put it); its result, server and any call no tool message answers stay in
    the extension, in the state's order."""
    pending: dict[str, list[int]] = {}
    for t, call in enumerate(calls):
        if "tool" in call:
            pending.setdefault(call["call_id"], []).append(t)
    placed: dict[int, tuple[int, int, int]] = {}  # call -> its message, place, answer
    assistant: int | None = None
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            assistant = i
            continue
        call_id = message.get("tool_call_id")
        if message["role"] != "tool" or assistant is None or not pending.get(call_id or ""):
            continue
        t = pending[str(call_id)].pop(0)
        call = calls[t]
        record = records[assistant]
        record.setdefault("tool_calls", []).append({
            "id": call["call_id"], "type": "function",
            "function": {"name": call["tool"],
                         "arguments": json.dumps(call["arguments"], ensure_ascii=False)}})
        placed[t] = (assistant, len(record["tool_calls"]) - 1, i)
    listed = []
    for t, call in enumerate(calls):
        if t not in placed:
            listed.append({"call": call})
            continue
        i, k, reply = placed[t]
        entry = {"message": records[i]["id"], "index": k,
                 **{key: v for key, v in call.items()
                    if key not in ("call_id", "tool", "arguments")}}
        result = call["result"]
        if result is not None and result.get("output") == messages[reply]["content"]:
            # the answering tool message's content: said once, not twice
            entry["result"] = {key: v for key, v in result.items() if key != "output"}
            entry["output_from"] = records[reply]["id"]
        listed.append(entry)
    if listed:
        extension["tool_calls"] = listed


def _blocks(memories: dict[str, dict[str, Any]], extension: dict[str, Any]
            ) -> list[dict[str, Any]]:
    blocks, extra, labels = [], {}, set[str]()
    for j, (memory_id, memory) in enumerate(memories.items()):
        meta = memory.get("metadata") or {}
        label = meta.get("label") if isinstance(meta.get("label"), str) else None
        for candidate in (label, memory_id, f"{memory_id}-{j}"):
            if candidate and candidate not in labels:
                label = candidate
                break
        labels.add(str(label))
        content = memory["content"]
        limit = meta.get("limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < len(content):
            limit = max(DEFAULT_BLOCK_LIMIT, len(content))
        block: dict[str, Any] = {"id": f"block-{j}", "label": label, "value": content,
                                 "limit": limit}
        if isinstance(meta.get("description"), str):
            block["description"] = meta["description"]
        if isinstance(meta.get("read_only"), bool):
            block["read_only"] = meta["read_only"]
        block["metadata"] = meta["metadata"] if isinstance(meta.get("metadata"), dict) else {}
        blocks.append(block)
        extra[block["id"]] = {"memory_id": memory_id,
                              **{k: v for k, v in memory.items() if k != "content"}}
    if extra:
        extension["memories"] = extra
    return blocks


def _mcp_servers(servers: dict[str, dict[str, Any]], extension: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    out, extra = [], {}
    for k, (name, state) in enumerate(servers.items()):
        stdio = state.get("stdio_config")
        kind = state.get("server_type")
        if kind not in MCP_SERVER_TYPES:
            kind = "stdio" if isinstance(stdio, dict) else "streamable_http"
        record: dict[str, Any] = {"id": f"mcp_server-{k}", "server_type": kind,
                                  "server_name": name}
        for key, wanted in (("server_url", str), ("stdio_config", dict), ("metadata_", dict)):
            if key in state and (state[key] is None or isinstance(state[key], wanted)):
                record[key] = state[key]
        if record != state:
            extra[record["id"]] = state
        out.append(record)
    if extra:
        extension["mcp_servers"] = extra
    return out


def imported_hash(data: bytes, limits: EventLimits | None = None) -> str:
    """The content hash the importer's events of an agent file fold into."""
    from ctxstore.infrastructure.importers.letta import load_letta  # letta.py imports us

    (agent,) = load_letta(Path("export.af"), json.loads(data), data, limits)
    return folded_hash(agent.envelopes)


def folded_hash(envelopes: list[AnyEnvelope]) -> str:
    content = empty_content()
    for envelope in envelopes:
        apply_event(content, envelope.type, envelope.data_dict())
    return content_hash(content)


# --- reading -------------------------------------------------------------------------------


def extension_of(agent: dict[str, Any]) -> dict[str, Any] | None:
    """Our record in an agent of a v2 file, when ctxstore wrote it."""
    metadata = agent.get("metadata")
    value = metadata.get(EXTENSION) if isinstance(metadata, dict) else None
    return value if isinstance(value, dict) and "format" in value else None


def decode_exact(emitter: Emitter, doc: dict[str, Any], agent: dict[str, Any], apath: str,
                 blocks: dict[str, tuple[str, dict[str, Any]]]) -> bool:
    """Whether `emitter` now holds the exact events of an agent ctxstore wrote: the record is
    there, of this format, consistent with Letta's fields, and they fold into the content hash
    it was exported at. A file changed since (edited, or imported into Letta and exported
    again, which renumbers messages but keeps the agent's metadata) is not: the caller then
    reads it as any Letta file, rather than apply a record that no longer fits it."""
    ext = extension_of(agent)
    if ext is None or ext.get("format") != FORMAT:
        return False
    try:
        decode_agent(emitter, doc, agent, apath, blocks)
    except TraceFormatError:
        return False
    return folded_hash(emitter.envelopes) == ext.get("content_hash")


def decode_agent(emitter: Emitter, doc: dict[str, Any], agent: dict[str, Any], apath: str,
                 blocks: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """The events of an agent ctxstore wrote: the inverse of `agent_file`."""
    r = emitter.reader
    epath = at(at(apath, "metadata"), EXTENSION)
    ext = r.obj(extension_of(agent), epath)
    _decode_memories(emitter, agent, apath, blocks, ext, epath)
    for k, link in enumerate(r.items(ext.get("memory_links"), at(epath, "memory_links"))):
        lpath = at(at(epath, "memory_links"), k)
        emitter.emit("memory_linked", r.obj(link, lpath), lpath)
    known = r.obj(ext.get("mcp_servers") or {}, at(epath, "mcp_servers"))
    for k, item in enumerate(r.items(doc.get("mcp_servers"), "$.mcp_servers")):
        spath = at("$.mcp_servers", k)
        record = r.obj(item, spath)
        state = known.get(str(record.get("id")), record)
        name = r.text(record.get("server_name"), at(spath, "server_name"), optional=False)
        emitter.emit("mcp_state", {"server": name, "state": r.obj(state, spath)}, spath)
    records = _decode_messages(emitter, agent, apath, ext, epath)
    _decode_tool_calls(emitter, records, ext, epath)
    channels = r.obj(ext.get("channels") or {}, at(epath, "channels"))
    if channels:
        emitter.emit("channels", {"values": channels}, at(epath, "channels"))
    reasoning = r.obj(ext.get("reasoning") or {}, at(epath, "reasoning"))
    for thread_id, steps in reasoning.items():
        tpath = at(at(epath, "reasoning"), thread_id)
        for n, step in enumerate(r.items(steps, tpath)):
            spath = at(tpath, n)
            emitter.emit("reasoning", {"thread_id": thread_id, **r.obj(step, spath)}, spath)


def agent_blocks(r: Reader, agent: dict[str, Any], apath: str,
                 blocks: dict[str, tuple[str, dict[str, Any]]]
                 ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The blocks a v2 agent's `block_ids` name, once each: id, JSON path, record."""
    done: set[str] = set()
    for k, block_id in enumerate(r.items(agent.get("block_ids"), at(apath, "block_ids"))):
        if str(block_id) not in blocks:
            raise r.fail(at(at(apath, "block_ids"), k), f"unknown block id {block_id!r}")
        if str(block_id) not in done:
            done.add(str(block_id))
            yield str(block_id), *blocks[str(block_id)]


def _decode_memories(emitter: Emitter, agent: dict[str, Any], apath: str,
                     blocks: dict[str, tuple[str, dict[str, Any]]], ext: dict[str, Any],
                     epath: str) -> None:
    r = emitter.reader
    extra = r.obj(ext.get("memories") or {}, at(epath, "memories"))
    for block_id, bpath, block in agent_blocks(r, agent, apath, blocks):
        memory = r.obj(extra.get(str(block_id)), at(at(epath, "memories"), str(block_id)))
        value = r.text(block.get("value"), at(bpath, "value"), optional=False)
        emitter.emit("memory_stored", {**memory, "content": value}, bpath)


def _decode_messages(emitter: Emitter, agent: dict[str, Any], apath: str,
                     ext: dict[str, Any], epath: str
                     ) -> dict[str, tuple[dict[str, Any], Any]]:
    """The messages' events; by Letta id, each record and the content it stands for."""
    r = emitter.reader
    extra = r.obj(ext.get("messages") or {}, at(epath, "messages"))
    records: dict[str, tuple[dict[str, Any], Any]] = {}
    mpath = at(apath, "messages")
    items = r.items(agent.get("messages"), mpath)
    ids = r.items(ext.get("message_ids"), at(epath, "message_ids"))
    if "message_ids" in ext and len(ids) != len(items):
        raise r.fail(at(epath, "message_ids"), f"{len(ids)} message ids for {len(items)} "
                     "messages")
    for i, item in enumerate(items):
        path = at(mpath, i)
        msg = r.obj(item, path)
        letta_id = r.text(msg.get("id"), at(path, "id"), optional=False) or path
        parts = _letta_parts(emitter, msg, path)
        data = {k: msg.get(k) for k in LETTA_MESSAGE_FIELDS if k != "content"}
        data["message_id"] = ids[i] if ids else letta_id
        data["content"] = _read_parts(parts)
        data.update(r.obj(extra.get(letta_id, {}), at(at(epath, "messages"), letta_id)))
        emitter.emit("message", data, path)
        records[letta_id] = (msg, data["content"])
    return records


def _letta_parts(emitter: Emitter, msg: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """A message's content as the text parts `agent_file` writes (a string is one)."""
    r = emitter.reader
    content = msg.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts = []
    for j, item in enumerate(r.items(content, at(path, "content"))):
        ppath = at(at(path, "content"), j)
        part = r.obj(item, ppath)
        parts.append({"type": "text",
                      "text": r.text(part.get("text"), at(ppath, "text"), optional=False)})
    return parts


def _decode_tool_calls(emitter: Emitter, records: dict[str, tuple[dict[str, Any], Any]],
                       ext: dict[str, Any], epath: str) -> None:
    r = emitter.reader
    cpath = at(epath, "tool_calls")
    for t, item in enumerate(r.items(ext.get("tool_calls"), cpath)):
        path = at(cpath, t)
        entry = dict(r.obj(item, path))
        if "call" in entry:
            call = r.obj(entry["call"], at(path, "call"))
        else:
            call = _placed_call(emitter, records, entry, path)
        result = call.get("result")
        if "tool" in call:
            emitter.emit("tool_call", {k: v for k, v in call.items() if k != "result"}, path)
        if result is not None:
            emitter.emit("tool_result", {"call_id": call.get("call_id"),
                                         **r.obj(result, at(path, "result"))}, path)


def _placed_call(emitter: Emitter, records: dict[str, tuple[dict[str, Any], Any]],
                 entry: dict[str, Any], path: str) -> dict[str, Any]:
    """A call the extension places on a Letta message: its id, name and arguments from
    there, the rest (result, server) from the entry, and the result's output from the
    content of the tool message `output_from` names."""
    r = emitter.reader
    letta_id, index = entry.pop("message", None), entry.pop("index", None)
    if "output_from" in entry:
        reply = entry.pop("output_from")
        if str(reply) not in records:
            raise r.fail(at(path, "output_from"), f"no message {reply!r}")
        result = r.obj(entry.get("result"), at(path, "result"))
        entry["result"] = {**result, "output": records[str(reply)][1]}
    msg = records[str(letta_id)][0] if str(letta_id) in records else None

    calls = r.items(msg.get("tool_calls") if msg else None, at(path, "message"))
    if not isinstance(index, int) or not 0 <= index < len(calls):
        raise r.fail(at(path, "index"), f"no tool call {index!r} on message {letta_id!r}")
    cpath = at(at(path, "message"), index)
    call = r.obj(calls[index], cpath)
    function = r.obj(call.get("function"), at(cpath, "function"))
    try:
        arguments = json.loads(r.text(function.get("arguments"), at(cpath, "arguments")) or "{}")
    except ValueError as e:
        raise r.fail(at(cpath, "arguments"), f"not JSON: {e}") from e
    return {"call_id": call.get("id"), "tool": function.get("name"),
            "arguments": arguments, **entry}


__all__ = ["AgentFileError", "agent_blocks", "agent_file", "decode_agent", "decode_exact",
           "encode_state", "extension_of", "folded_hash", "imported_hash"]
