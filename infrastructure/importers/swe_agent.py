"""SWE-agent trajectories (`.traj`): `{environment, trajectory[], history[], info}`.

One agent per file, id `swe-<file stem>-<first 8 hex of the file's sha256>` (the same stem, e.g.
`marshmallow-code__marshmallow-1867`, names many runs). `history[]` is the chat the model saw:
- every history message -> `message`;
- an assistant message's `thought` (when not blank) -> `reasoning` (thread = the agent id),
  before the message;
- its action -> `tool_call`: the structured `tool_calls[]` of function-calling runs (name and
  decoded arguments), else tool `bash` with arguments `{"command": action}` (SWE-agent runs
  every command, its own included, in the environment's shell);
- the observation that answers it (role `tool` in function-calling runs, the next `user`
  message in older ones) -> `tool_result`.

`trajectory[]` is the log of steps actually executed; history actions are matched to its steps
in order. A matched step gives the result's duration (`execution_time`) and, when the history
ends before the observation (the final `submit`), its output. Steps missing from the history
(retried after a format error, or the last one) are kept as `reasoning` + `tool_call` +
`tool_result` without a message, where they happened. No timestamps: occurred_at is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxstore.infrastructure.importers.base import (
    Emitter,
    EventLimits,
    ImportedAgent,
    Reader,
    at,
    parse_arguments,
    sanitize_agent_id,
    sha256_hex,
)


def is_swe_agent(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("history"), list) and (
        "trajectory" in value or "info" in value or "environment" in value
        or all(isinstance(m, dict) and "role" in m for m in value["history"])
    )


@dataclass
class _Call:
    call_id: str
    step: dict[str, Any] | None
    step_path: str | None


class _Importer:
    def __init__(self, emitter: Emitter, doc: dict[str, Any]):
        self.e = emitter
        self.r = emitter.reader
        self.steps = self.r.items(doc.get("trajectory"), "$.trajectory")
        self.next_step = 0
        self.pending: list[_Call] = []

    def run(self, history: list[Any]) -> None:
        for i, item in enumerate(history):
            path = at("$.history", i)
            msg = self.r.obj(item, path)
            role = self.r.role(msg, path)
            if role == "assistant":
                self._assistant(msg, path, i)
            elif role == "tool" or (role == "user" and self.pending):
                self._observation(msg, path, role)
            else:
                self._message(msg, path, role)
        for call in self.pending:  # the history ends before the last observation
            if call.step is not None and call.step_path is not None:
                self._result(call.call_id, call.step.get("observation"), call.step,
                             at(call.step_path, "observation"))
        self.pending = []
        for j in range(self.next_step, len(self.steps)):
            self._step_only(j)

    def _content(self, msg: dict[str, Any], path: str) -> Any:
        content = msg.get("content")
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        return [self.r.obj(p, at(at(path, "content"), j))
                for j, p in enumerate(self.r.items(content, at(path, "content")))]

    def _message(self, msg: dict[str, Any], path: str, role: str, call_id: str | None = None
                 ) -> Any:
        content = self._content(msg, path)
        self.e.emit("message", {"role": role, "content": content, "tool_call_id": call_id}, path)
        return content

    def _match_step(self, action: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """The next trajectory step with this action; steps skipped on the way are emitted."""
        for j in range(self.next_step, len(self.steps)):
            step = self.r.obj(self.steps[j], at("$.trajectory", j))
            if step.get("action") == action:
                for skipped in range(self.next_step, j):
                    self._step_only(skipped)
                self.next_step = j + 1
                return step, at("$.trajectory", j)
        return None, None

    def _assistant(self, msg: dict[str, Any], path: str, i: int) -> None:
        self.pending = []
        action = self.r.text(msg.get("action"), at(path, "action"))
        calls = self.r.items(msg.get("tool_calls"), at(path, "tool_calls"))
        step, step_path = self._match_step(action) if (action or calls) else (None, None)
        thought = self.r.text(msg.get("thought"), at(path, "thought"))
        if thought and thought.strip():
            self.e.reasoning(self.e.agent_id, thought, at(path, "thought"))
        self._message(msg, path, "assistant")
        for k, item in enumerate(calls):
            cpath = at(at(path, "tool_calls"), k)
            call = self.r.obj(item, cpath)
            function = self.r.obj(call.get("function"), at(cpath, "function"))
            call_id = str(call.get("id") or cpath)
            tool = self.r.text(function.get("name"), at(at(cpath, "function"), "name"),
                               optional=False)
            self.e.emit("tool_call", {"call_id": call_id, "tool": tool,
                                      "arguments": parse_arguments(function.get("arguments"))},
                        cpath)
            self.pending.append(_Call(call_id, step if k == 0 else None, step_path))
        if not calls and action:
            call_id = f"history-{i}"
            self.e.emit("tool_call", {"call_id": call_id, "tool": "bash",
                                      "arguments": {"command": action}}, at(path, "action"))
            self.pending.append(_Call(call_id, step, step_path))

    def _observation(self, msg: dict[str, Any], path: str, role: str) -> None:
        ids = [str(x) for x in self.r.items(msg.get("tool_call_ids"), at(path, "tool_call_ids"))]
        by_id = {c.call_id: c for c in self.pending}
        calls = [by_id.get(x) or _Call(x, None, None) for x in ids] if ids else self.pending
        first = calls[0].call_id if role == "tool" and calls else None
        content = self._message(msg, path, role, first)
        for k, call in enumerate(calls):
            position = (at(at(path, "tool_call_ids"), k) if ids
                        else at(path, "content") + (f"<{k}>" if k else ""))
            self._result(call.call_id, content, call.step, position)
        self.pending = []

    def _result(self, call_id: str, output: Any, step: dict[str, Any] | None, position: str
                ) -> None:
        seconds = step.get("execution_time") if step else None
        duration = (seconds * 1000.0 if isinstance(seconds, int | float)
                    and not isinstance(seconds, bool) and seconds >= 0 else None)
        self.e.emit("tool_result", {"call_id": call_id, "output": output,
                                    "duration_ms": duration}, position)

    def _step_only(self, j: int) -> None:
        spath = at("$.trajectory", j)
        step = self.r.obj(self.steps[j], spath)
        thought = self.r.text(step.get("thought"), at(spath, "thought"))
        if thought and thought.strip():
            self.e.reasoning(self.e.agent_id, thought, at(spath, "thought"))
        action = self.r.text(step.get("action"), at(spath, "action")) or ""
        call_id = f"step-{j}"
        self.e.emit("tool_call", {"call_id": call_id, "tool": "bash",
                                  "arguments": {"command": action}}, at(spath, "action"))
        self._result(call_id, step.get("observation"), step, at(spath, "observation"))


def load_swe_agent(path: Path, value: Any, raw: bytes,
                   limits: EventLimits | None = None) -> list[ImportedAgent]:
    reader = Reader(path, limits)
    doc = reader.obj(value, "$")
    digest = sha256_hex(raw)
    emitter = Emitter(reader, sanitize_agent_id(f"{path.stem}-{digest[:8]}", prefix="swe-"),
                      digest)
    _Importer(emitter, doc).run(reader.items(doc.get("history"), "$.history", optional=False))
    return [emitter.result(f"{path}#$", "swe-agent")]
