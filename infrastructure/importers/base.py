"""Shared pieces of the trace importers: the result type, the error, ids and checked access.

Every importer reads a whole file, checks it, and builds validated envelopes (domain.events) in
memory; the first problem raises `TraceFormatError` naming the file and the position (a JSON
decoder line/column, or the JSON path of the offending record), so a caller never records part
of a bad file.

Event ids are uuid5 over the agent id, a digest of the source (the file's sha256, or of one
record for files holding many agents) and the event's position in it: importing the same trace
twice yields identical envelopes, and a store's event-id index recognises the second import as
duplicates.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from ctxstore.domain import bounds
from ctxstore.domain.events import AnyEnvelope, InvalidEnvelope, make_envelope

# Fixed namespace: every ctxstore derives the same event ids from the same trace.
IMPORT_NAMESPACE = UUID("3a0f6a52-8d7e-5c41-a3b6-0c9e2f7d4b18")
MAX_AGENT_ID = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class TraceFormatError(ValueError):
    """A trace file that cannot be imported: `path`, `position` in it, and `reason`."""

    def __init__(self, path: Path | str, position: str, reason: str):
        self.path = Path(path)
        self.position = position
        self.reason = reason
        super().__init__(f"{self.path}: at {position}: {reason}")


@dataclass(frozen=True)
class EventLimits:
    """The bounds of the store an import is for (CONTEXT_MAX_EVENT_BYTES and
    CONTEXT_MAX_CLOCK_SKEW_SECONDS): a trace cannot bring in what a POST could not."""

    max_event_bytes: int = bounds.DEFAULT_MAX_EVENT_BYTES
    max_clock_skew_seconds: float = bounds.DEFAULT_MAX_CLOCK_SKEW_SECONDS


@dataclass(frozen=True)
class ImportedAgent:
    """One agent found in a trace, with its events in order, ready to record."""

    agent_id: str
    source: str  # "<file path>#<JSON path of the agent's record>"
    envelopes: list[AnyEnvelope]
    # letta-v1, letta-v2, letta-v2-ctxstore (export-af), tau-bench, openai-chat, swe-agent
    format: str = ""

    def count(self, type: str) -> int:
        return sum(1 for e in self.envelopes if e.type == type)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_digest(record: Any) -> str:
    """sha256 of one record's canonical JSON: the same run gives the same ids in any file."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_hex(text.encode("utf-8"))


def sanitize_agent_id(raw: str, *, prefix: str = "") -> str:
    """A valid agent id (`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`) from any name, deterministically.

    Unsafe runs become '-'; an over-long id is cut and ends with a hash of the full name so that
    distinct long names stay distinct.
    """
    body = _UNSAFE.sub("-", raw).strip("-_")
    agent_id = f"{prefix}{body}" if body else (prefix.rstrip("-_") or "agent")
    if not agent_id[0].isalnum() or not agent_id[0].isascii():
        agent_id = "a" + agent_id
    if len(agent_id) > MAX_AGENT_ID:
        tail = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:10]
        agent_id = agent_id[: MAX_AGENT_ID - len(tail) - 1].rstrip("-_") + "-" + tail
    return agent_id


def unique_id(candidate: str, taken: set[str]) -> str:
    """`candidate`, or `candidate-2`, `-3`... when already used in the same file."""
    agent_id, n = candidate, 1
    while agent_id in taken:
        n += 1
        suffix = f"-{n}"
        agent_id = candidate[: MAX_AGENT_ID - len(suffix)] + suffix
    taken.add(agent_id)
    return agent_id


def stable_event_id(agent_id: str, digest: str, position: str) -> str:
    return str(uuid5(IMPORT_NAMESPACE, f"{agent_id}|{digest}|{position}"))


def at(path: str, key: str | int) -> str:
    """JSON path of a child: `$.messages[3].role`."""
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


# --- reading -------------------------------------------------------------------------------


def _decode_position(e: json.JSONDecodeError) -> str:
    return f"line {e.lineno} column {e.colno} (char {e.pos})"


def read_json(path: Path) -> tuple[Any, bytes, bool]:
    """The decoded JSON of a file, its bytes, and whether it was JSON encoded twice."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise TraceFormatError(path, "file", f"cannot read: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TraceFormatError(path, f"byte {e.start}", "not UTF-8 text") from e
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise TraceFormatError(path, _decode_position(e), f"invalid JSON: {e.msg}") from e
    except RecursionError:
        raise TraceFormatError(path, "$", f"JSON nested more than {bounds.MAX_JSON_DEPTH} "
                               "levels deep") from None
    double = isinstance(value, str) and value.lstrip()[:1] in ("{", "[")
    if double:
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            position = "inside the JSON-encoded string: " + _decode_position(e)
            raise TraceFormatError(path, position, f"invalid JSON: {e.msg}") from e
        except RecursionError:
            raise TraceFormatError(path, "inside the JSON-encoded string", "JSON nested more "
                                   f"than {bounds.MAX_JSON_DEPTH} levels deep") from None
    return value, raw, double


ROLES = ("system", "user", "assistant", "tool")


class Reader:
    """Checked access to decoded JSON, raising TraceFormatError with the record's JSON path."""

    def __init__(self, path: Path, limits: EventLimits | None = None):
        self.path = path
        self.limits = limits or EventLimits()

    def fail(self, position: str, reason: str) -> TraceFormatError:
        return TraceFormatError(self.path, position, reason)

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_kind(value)}")
        return value

    def items(self, value: Any, path: str, *, optional: bool = True) -> list[Any]:
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return value

    def text(self, value: Any, path: str, *, optional: bool = True) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {_kind(value)}")
        return value

    def role(self, msg: dict[str, Any], path: str) -> str:
        """A chat message's `role`, one of ROLES."""
        role = msg.get("role")
        if role not in ROLES:
            raise self.fail(at(path, "role"), f"unknown role {role!r}; expected one of {ROLES}")
        return str(role)

    def time(self, value: Any, path: str) -> datetime | None:
        text = self.text(value, path)
        if not text:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError as e:
            raise self.fail(path, f"not an ISO 8601 time: {text!r}") from e


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as an object: JSON-decoded when a string, `{"raw": ...}` otherwise."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {"raw": raw}
        if isinstance(value, dict):
            return value
    return {"raw": raw}


# --- emitting ------------------------------------------------------------------------------


@dataclass
class Emitter:
    """Builds one agent's envelopes in order; every envelope is validated as it is made."""

    reader: Reader
    agent_id: str
    digest: str
    envelopes: list[AnyEnvelope] = field(default_factory=list)
    _positions: set[str] = field(default_factory=set)
    _steps: dict[str, int] = field(default_factory=dict)

    def emit(
        self,
        type: str,
        data: Mapping[str, Any],
        position: str,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        key = f"{position}#{type}"
        if key in self._positions:  # pragma: no cover - a bug in an importer, not in the data
            raise AssertionError(f"two {type} events at {position}")
        self._positions.add(key)
        payload = {k: v for k, v in data.items() if v is not None}
        try:
            envelope = make_envelope(
                self.agent_id,
                type,
                payload,
                event_id=stable_event_id(self.agent_id, self.digest, key),
                occurred_at=occurred_at,
                max_event_bytes=self.reader.limits.max_event_bytes,
                max_clock_skew_seconds=self.reader.limits.max_clock_skew_seconds,
            )
        except InvalidEnvelope as e:
            raise self.reader.fail(position, f"cannot make a {type} event: {e}") from e
        self.envelopes.append(envelope)

    def message(self, role: str, msg: dict[str, Any], path: str, content: Any, *,
                occurred_at: datetime | None = None, message_id: str | None = None) -> str | None:
        """The `message` event of a chat message in OpenAI's shape (which Letta's follows); its
        `tool_call_id`, kept on tool messages only."""
        call_id = self.reader.text(msg.get("tool_call_id"), at(path, "tool_call_id"))
        self.emit(
            "message",
            {
                "role": role,
                "content": content,
                "name": self.reader.text(msg.get("name"), at(path, "name")),
                "tool_call_id": call_id if role == "tool" else None,
                "message_id": message_id,
            },
            path,
            occurred_at=occurred_at,
        )
        return call_id

    def reasoning(
        self, thread_id: str, content: str, position: str, *, occurred_at: datetime | None = None
    ) -> None:
        step = self._steps.get(thread_id, 0)
        self._steps[thread_id] = step + 1
        self.emit(
            "reasoning",
            {"thread_id": thread_id, "content": content, "step": step},
            position,
            occurred_at=occurred_at,
        )

    def result(self, source: str, format: str) -> ImportedAgent:
        return ImportedAgent(self.agent_id, source, date_leading_events(self.envelopes), format)


def date_leading_events(envelopes: list[AnyEnvelope]) -> list[AnyEnvelope]:
    """Give untimed leading events (e.g. memory blocks before the first message) the trace's
    first time: otherwise they are recorded at import time and, times never going backwards
    within an agent, the whole trace would be stamped with the day it was imported."""
    first = next((e.occurred_at for e in envelopes if e.occurred_at is not None), None)
    if first is None:
        return envelopes
    dated: list[AnyEnvelope] = []
    for i, envelope in enumerate(envelopes):
        if envelope.occurred_at is not None:
            return dated + envelopes[i:]
        dated.append(envelope.model_copy(update={"occurred_at": first}))
    return dated
