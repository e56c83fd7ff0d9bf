"""OpenAI chat-format transcripts: tau-bench historical trajectories and plain message lists.

Each chat message -> `message` (role, content; `null` content -> ""; name and tool_call_id kept);
each assistant `tool_calls[]` entry -> `tool_call` (arguments JSON-decoded, `{"raw": ...}` when
not an object); each tool-role message -> `tool_result` for its `tool_call_id` as well (the
transcript keeps the message, the call gets its result). No timestamps: occurred_at is None.

tau-bench (`[{task_id, reward, info, traj[], trial}]`): one agent per run, id
`tau-<dataset>-<task_id>-t<trial>` where dataset is the file name up to its first dot, so a cut
of a file (`gpt-4o-airline.first-5-runs.json`) gives the same agents and the same event ids as
the full file (ids derive from the run's own content). A tool output starting with `Error:` (how
tau-bench environments report a failed action) is a result with is_error. The run's reward is a
final `memory_stored` (kind episodic, metadata {reward, task_id, trial}); `info` is not imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctxstore.infrastructure.importers.base import (
    Emitter,
    EventLimits,
    ImportedAgent,
    Reader,
    at,
    parse_arguments,
    record_digest,
    sanitize_agent_id,
    sha256_hex,
    unique_id,
)

TAU_ERROR_PREFIX = "Error:"


def is_tau_bench(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(run, dict) and isinstance(run.get("traj"), list) for run in value)
    )


def is_chat(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.get("messages")
    return isinstance(value, list) and all(
        isinstance(m, dict) and "role" in m for m in value
    )


def dataset_name(path: Path) -> str:
    return path.name.split(".", 1)[0] or path.stem


def load_tau_bench(path: Path, value: Any,
                   limits: EventLimits | None = None) -> list[ImportedAgent]:
    reader = Reader(path, limits)
    dataset = dataset_name(path)
    taken: set[str] = set()
    imported = []
    for i, item in enumerate(reader.items(value, "$", optional=False)):
        rpath = at("$", i)
        run = reader.obj(item, rpath)
        task_id, trial = run.get("task_id"), run.get("trial")
        candidate = sanitize_agent_id(f"{dataset}-{task_id}-t{trial}", prefix="tau-")
        emitter = Emitter(reader, unique_id(candidate, taken), record_digest(run))
        chat_events(emitter, run.get("traj"), at(rpath, "traj"), error_prefix=TAU_ERROR_PREFIX)
        reward = run.get("reward")
        if isinstance(reward, int | float) and not isinstance(reward, bool):
            emitter.emit(
                "memory_stored",
                {
                    "memory_id": "tau-bench-reward",
                    "kind": "episodic",
                    "content": f"tau-bench {dataset} task {task_id} trial {trial}: "
                    f"reward {reward}",
                    "metadata": {"reward": reward, "task_id": task_id, "trial": trial},
                },
                at(rpath, "reward"),
            )
        imported.append(emitter.result(f"{path}#{rpath}", "tau-bench"))
    return imported


def load_chat(path: Path, value: Any, raw: bytes,
              limits: EventLimits | None = None) -> list[ImportedAgent]:
    reader = Reader(path, limits)
    mpath = "$"
    if isinstance(value, dict):
        value, mpath = value.get("messages"), "$.messages"
    emitter = Emitter(reader, sanitize_agent_id(path.stem, prefix="chat-"), sha256_hex(raw))
    chat_events(emitter, value, mpath)
    return [emitter.result(f"{path}#{mpath}", "openai-chat")]


def chat_events(
    emitter: Emitter, messages: Any, path: str, *, error_prefix: str | None = None
) -> None:
    """Emit the events of an OpenAI chat message list, in order."""
    r = emitter.reader
    for i, item in enumerate(r.items(messages, path, optional=False)):
        mpath = at(path, i)
        msg = r.obj(item, mpath)
        role = r.role(msg, mpath)
        content = msg.get("content")
        if content is None:
            content = ""
        elif not isinstance(content, str):
            content = [r.obj(p, at(at(mpath, "content"), j))
                       for j, p in enumerate(r.items(content, at(mpath, "content")))]
        call_id = emitter.message(role, msg, mpath, content)
        if role == "assistant":
            _tool_calls(emitter, msg, mpath)
        elif role == "tool":
            if not call_id:
                raise r.fail(at(mpath, "tool_call_id"), "a tool message without a tool_call_id")
            is_error = (
                error_prefix is not None
                and isinstance(content, str)
                and content.startswith(error_prefix)
            )
            emitter.emit(
                "tool_result", {"call_id": call_id, "output": content, "is_error": is_error}, mpath
            )


def _tool_calls(emitter: Emitter, msg: dict[str, Any], mpath: str) -> None:
    r = emitter.reader
    for k, item in enumerate(r.items(msg.get("tool_calls"), at(mpath, "tool_calls"))):
        cpath = at(at(mpath, "tool_calls"), k)
        call = r.obj(item, cpath)
        function = r.obj(call.get("function"), at(cpath, "function"))
        emitter.emit(
            "tool_call",
            {
                "call_id": str(call.get("id") or cpath),
                "tool": r.text(function.get("name"), at(at(cpath, "function"), "name"),
                               optional=False),
                "arguments": parse_arguments(function.get("arguments")),
            },
            cpath,
        )
