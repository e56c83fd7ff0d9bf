"""Letta / MemGPT Agent Files (`.af`), schema v1 (one agent, `core_memory[]`) and v2
(`agents[]`, shared `blocks[]`, `mcp_servers`).

Per agent, in this order:
- each core memory block -> `memory_stored` (kind long_term, memory_id = label, metadata with
  label, limit, description, block id, read_only and the block's own metadata when present);
- each MCP server of the file (v2) -> `mcp_state` (server = its name, state = its record);
- each message, in file order -> `reasoning` for each `reasoning` content part (thread = the
  agent id), then `message` (text parts: one string, or the list of parts when there are
  several or other kinds), then `tool_call` per assistant `tool_calls[]`; a tool-role message
  also gives `tool_result` per `tool_returns[]` entry (is_error = status != success), or one
  from its text when it has none (is_error when the text is a JSON object whose status is not
  OK/success). `created_at` -> occurred_at (naive times are UTC).

An agent whose metadata holds ctxstore's record (a file `ctxstore export-af` wrote) is read by
letta_export.decode_exact instead, the exact inverse of that export, unless the file was
changed since (then it is read as any Letta file).


A tool message thus appears twice, as a transcript message and as the result of its call: the
message list stays the chat the agent saw, and the tool calls carry their results.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ctxstore.infrastructure.importers.base import (
    Emitter,
    EventLimits,
    ImportedAgent,
    Reader,
    TraceFormatError,
    at,
    parse_arguments,
    sanitize_agent_id,
    sha256_hex,
    unique_id,
)
from ctxstore.infrastructure.importers.letta_export import (
    agent_blocks,
    decode_exact,
)

OK_STATUSES = ("ok", "success")


def is_letta(value: Any) -> bool:
    return isinstance(value, dict) and (
        isinstance(value.get("agents"), list)
        or ("messages" in value and ("core_memory" in value or "agent_type" in value))
    )


def load_letta(path: Path, value: Any, raw: bytes,
               limits: EventLimits | None = None) -> list[ImportedAgent]:
    reader = Reader(path, limits)
    doc = reader.obj(value, "$")
    digest = sha256_hex(raw)
    base = sanitize_agent_id(path.stem, prefix="letta-")
    if not isinstance(doc.get("agents"), list):
        if not is_letta(doc):
            raise reader.fail("$", "not a Letta agent file: no agents[] nor messages[]")
        emitter = Emitter(reader, base, digest)
        _memories_v1(emitter, doc)
        _messages(emitter, doc, "$")
        return [emitter.result(f"{path}#$", "letta-v1")]

    blocks = _blocks_v2(reader, doc)
    agents = reader.items(doc["agents"], "$.agents")
    taken: set[str] = set()
    imported = []
    for i, item in enumerate(agents):
        apath = at("$.agents", i)
        agent = reader.obj(item, apath)
        name = reader.text(agent.get("name"), at(apath, "name")) or str(agent.get("id") or i)
        candidate = base if len(agents) == 1 else sanitize_agent_id(f"{base}-{name}")
        agent_id = unique_id(candidate, taken)
        exact = Emitter(reader, agent_id, digest)
        if decode_exact(exact, doc, agent, apath, blocks):
            imported.append(exact.result(f"{path}#{apath}", "letta-v2-ctxstore"))
            continue
        emitter = Emitter(reader, agent_id, digest)
        _memories_v2(emitter, agent, apath, blocks)
        _mcp_servers(emitter, doc)
        _messages(emitter, agent, apath)
        imported.append(emitter.result(f"{path}#{apath}", "letta-v2"))
    return imported


# --- memory --------------------------------------------------------------------------------


def _memory(
    emitter: Emitter, block: dict[str, Any], bpath: str, *, metadata_key: str, taken: set[str]
) -> None:
    r = emitter.reader
    label = r.text(block.get("label"), at(bpath, "label"))
    block_id = block.get("id")
    memory_id = label or (str(block_id) if block_id is not None else bpath)
    if memory_id in taken and block_id is not None:
        memory_id = str(block_id)
    taken.add(memory_id)
    value = r.text(block.get("value"), at(bpath, "value")) or ""
    metadata = {
        "label": label,
        "limit": block.get("limit"),
        "description": block.get("description"),
        "block_id": block_id,
        "read_only": block.get("read_only"),
    }
    extra = block.get(metadata_key)
    if extra:
        metadata["metadata"] = extra
    emitter.emit(
        "memory_stored",
        {
            "memory_id": memory_id,
            "kind": "long_term",
            "content": value,
            "metadata": {k: v for k, v in metadata.items() if v is not None},
        },
        bpath,
        occurred_at=r.time(block.get("created_at"), at(bpath, "created_at")),
    )


def _memories_v1(emitter: Emitter, doc: dict[str, Any]) -> None:
    r, taken = emitter.reader, set[str]()
    for j, item in enumerate(r.items(doc.get("core_memory"), "$.core_memory")):
        bpath = at("$.core_memory", j)
        _memory(emitter, r.obj(item, bpath), bpath, metadata_key="metadata_", taken=taken)


def _blocks_v2(reader: Reader, doc: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    blocks: dict[str, tuple[str, dict[str, Any]]] = {}
    for j, item in enumerate(reader.items(doc.get("blocks"), "$.blocks")):
        bpath = at("$.blocks", j)
        block = reader.obj(item, bpath)
        blocks[str(block.get("id", bpath))] = (bpath, block)
    return blocks


def _memories_v2(
    emitter: Emitter,
    agent: dict[str, Any],
    apath: str,
    blocks: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    r, taken = emitter.reader, set[str]()
    for _block_id, bpath, block in agent_blocks(r, agent, apath, blocks):
        _memory(emitter, block, bpath, metadata_key="metadata", taken=taken)


def _mcp_servers(emitter: Emitter, doc: dict[str, Any]) -> None:
    r = emitter.reader
    servers = doc.get("mcp_servers")
    if isinstance(servers, dict):
        entries = [(str(k), v, at("$.mcp_servers", str(k))) for k, v in servers.items()]
    else:
        entries = []
        for k, item in enumerate(r.items(servers, "$.mcp_servers")):
            spath = at("$.mcp_servers", k)
            server = r.obj(item, spath)
            entries.append((str(server.get("server_name") or server.get("id") or k), item, spath))
    seen: set[str] = set()
    for name, state, spath in entries:
        server_name = name if name not in seen else f"{name} ({spath})"
        seen.add(server_name)
        emitter.emit("mcp_state", {"server": server_name, "state": r.obj(state, spath)}, spath)


# --- messages ------------------------------------------------------------------------------


def _messages(emitter: Emitter, agent: dict[str, Any], apath: str) -> None:
    r = emitter.reader
    mpath = at(apath, "messages")
    for i, item in enumerate(r.items(agent.get("messages"), mpath)):
        _message(emitter, r.obj(item, at(mpath, i)), at(mpath, i))


def _message(emitter: Emitter, msg: dict[str, Any], path: str) -> None:
    r = emitter.reader
    role = r.role(msg, path)
    when = r.time(msg.get("created_at"), at(path, "created_at"))
    content = _content(emitter, msg.get("content"), at(path, "content"), when)
    call_id = emitter.message(role, msg, path, content, occurred_at=when,
                              message_id=_str_or_none(msg.get("id")))
    if role == "assistant":
        _tool_calls(emitter, msg, path, when)
    elif role == "tool":
        _tool_results(emitter, msg, path, content, call_id, when)


def _content(
    emitter: Emitter, value: Any, path: str, when: datetime | None
) -> str | list[dict[str, Any]]:
    r = emitter.reader
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    parts: list[dict[str, Any]] = []
    for j, item in enumerate(r.items(value, path, optional=False)):
        part = r.obj(item, at(path, j))
        if part.get("type") == "reasoning":
            text = part.get("reasoning", part.get("text"))
            text = r.text(text, at(at(path, j), "reasoning")) or ""
            emitter.reasoning(emitter.agent_id, text, at(path, j), occurred_at=when)
        elif part.get("type") == "text":
            text = r.text(part.get("text"), at(at(path, j), "text")) or ""
            parts.append({"type": "text", "text": text})
        else:
            parts.append(part)
    if not parts:
        return ""
    if len(parts) == 1 and parts[0].get("type") == "text":
        return str(parts[0]["text"])
    return parts


def _tool_calls(emitter: Emitter, msg: dict[str, Any], path: str, when: datetime | None) -> None:
    r = emitter.reader
    for k, item in enumerate(r.items(msg.get("tool_calls"), at(path, "tool_calls"))):
        cpath = at(at(path, "tool_calls"), k)
        call = r.obj(item, cpath)
        function = r.obj(call.get("function"), at(cpath, "function"))
        tool = r.text(function.get("name"), at(at(cpath, "function"), "name"), optional=False)
        emitter.emit(
            "tool_call",
            {
                "call_id": _str_or_none(call.get("id")) or cpath,
                "tool": tool,
                "arguments": parse_arguments(function.get("arguments")),
            },
            cpath,
            occurred_at=when,
        )


def _tool_results(
    emitter: Emitter,
    msg: dict[str, Any],
    path: str,
    content: str | list[dict[str, Any]],
    call_id: str | None,
    when: datetime | None,
) -> None:
    r = emitter.reader
    returns = r.items(msg.get("tool_returns"), at(path, "tool_returns"))
    for k, item in enumerate(returns):
        rpath = at(at(path, "tool_returns"), k)
        ret = r.obj(item, rpath)
        output: Any = ret.get("func_response")
        if ret.get("stdout") or ret.get("stderr"):
            output = {"func_response": output, "stdout": ret.get("stdout"),
                      "stderr": ret.get("stderr")}
        rid = _str_or_none(ret.get("tool_call_id")) or call_id
        if not rid:
            raise r.fail(at(rpath, "tool_call_id"), "a tool return without a tool_call_id")
        emitter.emit(
            "tool_result",
            {"call_id": rid, "output": output, "is_error": ret.get("status") != "success"},
            rpath,
            occurred_at=when,
        )
    if returns:
        return
    if not call_id:
        raise r.fail(at(path, "tool_call_id"), "a tool message without a tool_call_id")
    emitter.emit(
        "tool_result",
        {"call_id": call_id, "output": content, "is_error": _status_error(content)},
        path,
        occurred_at=when,
    )


def _status_error(content: Any) -> bool:
    """MemGPT tool messages are `{"status": "OK"|"Failed", "message": ...}` JSON text."""
    if not isinstance(content, str):
        return False
    try:
        value = json.loads(content)
    except ValueError:
        return False
    status = value.get("status") if isinstance(value, dict) else None
    return isinstance(status, str) and status.lower() not in OK_STATUSES


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


__all__ = ["TraceFormatError", "is_letta", "load_letta"]
