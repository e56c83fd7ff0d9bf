"""The HTTP API's calls as data: what to send and how to read the answer, once.

`Client` and `AsyncClient` differ only in how they send; every call is built here, so the two
cannot drift and a call's parameters, path and result type are written in one place. The
results are the server's own response models (`infrastructure.http.schemas` and the use cases'
dataclasses), so a typed result is exactly what the OpenAPI document promises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.forget import ForgetResult
from ctxstore.application.restore_model import RestoreResult
from ctxstore.infrastructure.http.schemas import (
    AgentPage,
    CheckpointPage,
    ContextState,
    DiffOut,
    HistoryPage,
    RecordResponse,
)
from ctxstore.infrastructure.http.search_schemas import TextSearchOut

T = TypeVar("T")
API = "/api/v1"

MergeStrategy = Literal["replace", "merge"]
ValidationLevel = Literal["basic", "comprehensive"]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the reader of its answer's body."""

    method: str
    path: str
    read: Callable[[bytes], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None


def json_body(call: Call[Any]) -> bytes:
    """The call's body as JSON, as a request carries it; NaN and Infinity are no JSON and are
    refused here, before anything is sent or recorded."""
    try:
        return json.dumps(call.json, allow_nan=False, ensure_ascii=False,
                          separators=(",", ":")).encode()
    except ValueError as e:
        raise ValueError(f"{call.method} {call.path}: the body is not JSON ({e})") from e


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def type_adapter(model: Any) -> TypeAdapter[Any]:
    """One adapter per result type for the process: building one costs more than a call (two
    threads building the same one at once keep either)."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def _reader(model: type[T]) -> Callable[[bytes], T]:
    read: Callable[[bytes], T] = type_adapter(model).validate_json
    return read


def _raw(body: bytes) -> bytes:
    return body


def _agent(agent_id: str) -> str:
    return quote(agent_id, safe="")


def _point(version: int | None, at: datetime | str | None, checkpoint: str | None
           ) -> dict[str, Any]:
    """At most one point (the server says which when more are given); none is the latest."""
    point: dict[str, Any] = {}
    if version is not None:
        point["version"] = version
    if at is not None:
        point["at"] = at.isoformat() if isinstance(at, datetime) else at
    if checkpoint is not None:
        point["package_id"] = checkpoint
    return point


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


class Calls:
    """Builders of the API's calls; see the route of each for what it does."""

    @staticmethod
    def record(agent_id: str, events: Sequence[Mapping[str, Any]]) -> Call[RecordResponse]:
        """Record envelopes (DESIGN §5) of this agent in one batch; an envelope without an
        `agent_id` gets this one (one naming another agent is the server's to refuse).

        A batch with rejected envelopes is a 422 on the wire; the client returns its outcomes
        (what was recorded and why the rest was not) rather than raising, as the server
        recorded the others."""
        return Call("POST", f"{API}/agents/{_agent(agent_id)}/events",
                    _reader(RecordResponse),
                    json=[{"agent_id": agent_id, **event} for event in events])

    @staticmethod
    def context(agent_id: str, *, version: int | None = None,
                at: datetime | str | None = None, checkpoint: str | None = None,
                tail: int | None = None) -> Call[ContextState]:
        """The agent's context at a point (none: its latest); `tail=N` is the window of its
        last N messages with what they refer to (the hash stays the whole state's)."""
        return Call("GET", f"{API}/agents/{_agent(agent_id)}/context", _reader(ContextState),
                    params={**_point(version, at, checkpoint), **_given(tail=tail)})

    @staticmethod
    def events(agent_id: str, *, after_version: int = 0, limit: int = 100,
               types: Sequence[str] | None = None) -> Call[HistoryPage]:
        """A page of the agent's history after a version."""
        return Call("GET", f"{API}/agents/{_agent(agent_id)}/events", _reader(HistoryPage),
                    params=_given(after_version=after_version, limit=limit,
                                  types=list(types) if types else None))

    @staticmethod
    def agents(*, after: str | None = None, limit: int = 100) -> Call[AgentPage]:
        return Call("GET", f"{API}/agents", _reader(AgentPage),
                    params=_given(after=after, limit=limit))

    @staticmethod
    def checkpoint(agent_id: str, *, label: str | None = None, version: int | None = None,
                   session_id: str | None = None,
                   access_level: Literal["private", "shared", "public"] | None = None,
                   include_conversation: bool = True, include_memory: bool = True,
                   include_mcp_state: bool = True) -> Call[Checkpoint]:
        """Capture a checkpoint of the agent now (or at `version`)."""
        return Call("POST", f"{API}/context/capture/{_agent(agent_id)}", _reader(Checkpoint),
                    json=_given(label=label, version=version, session_id=session_id,
                                access_level=access_level,
                                include_conversation=include_conversation,
                                include_memory=include_memory,
                                include_mcp_state=include_mcp_state))

    @staticmethod
    def checkpoints(*, agent_id: str | None = None, q: str | None = None, limit: int = 50,
                    offset: int = 0) -> Call[CheckpointPage]:
        """A page of the checkpoints this caller may read, newest first."""
        return Call("GET", f"{API}/context/packages", _reader(CheckpointPage),
                    params=_given(agent_id=agent_id, q=q, limit=limit, offset=offset))

    @staticmethod
    def restore(target_agent_id: str, *, source_agent_id: str | None = None,
                version: int | None = None, at: datetime | str | None = None,
                checkpoint: str | None = None, merge_strategy: MergeStrategy = "replace",
                validation_level: ValidationLevel = "basic") -> Call[RestoreResult]:
        """Give `target_agent_id` the content of `source_agent_id` (default: itself) at a
        point (none: the source's latest), replacing its own or merged into it."""
        return Call("POST", f"{API}/agents/{_agent(target_agent_id)}/restore",
                    _reader(RestoreResult),
                    json={**_point(version, at, checkpoint),
                          **_given(source_agent_id=source_agent_id),
                          "merge_strategy": merge_strategy,
                          "validation_level": validation_level})

    @staticmethod
    def fork(source_agent_id: str, new_agent_id: str, *, version: int | None = None,
             at: datetime | str | None = None, checkpoint: str | None = None
             ) -> Call[RestoreResult]:
        """A new agent holding the source's content at a point (none: its latest)."""
        return Calls.restore(new_agent_id, source_agent_id=source_agent_id, version=version,
                             at=at, checkpoint=checkpoint)

    @staticmethod
    def rewind(agent_id: str, *, version: int | None = None, at: datetime | str | None = None,
               checkpoint: str | None = None) -> Call[RestoreResult]:
        """The agent's own earlier content made its latest (history is kept)."""
        return Calls.restore(agent_id, source_agent_id=agent_id, version=version, at=at,
                             checkpoint=checkpoint)

    @staticmethod
    def diff(agent_id: str, from_: str, to: str = "latest", *,
             other_agent_id: str | None = None) -> Call[DiffOut]:
        """What changed between two points (`v12`, `latest`, a time, `ckpt-…`), of this agent
        or from this agent's point to another's."""
        return Call("GET", f"{API}/agents/{_agent(agent_id)}/diff", _reader(DiffOut),
                    params=_given(**{"from": from_}, to=to, other_agent_id=other_agent_id))

    @staticmethod
    def search(q: str, *, agent_id: str | None = None, all: bool = False, limit: int = 50
               ) -> Call[TextSearchOut]:
        """Full-text search of what agents said and remembered."""
        return Call("GET", f"{API}/search", _reader(TextSearchOut),
                    params=_given(q=q, agent_id=agent_id, all=all or None, limit=limit))

    @staticmethod
    def export(package_id: str) -> Call[bytes]:
        """A checkpoint as a portable `.ctxpkg` file's bytes."""
        return Call("GET", f"{API}/context/packages/{_agent(package_id)}/export", _raw)

    @staticmethod
    def forget(agent_id: str, *, by: str | None = None) -> Call[ForgetResult]:
        """Forget the agent for good (right to erasure); `by` is who asked (kept in its
        tombstone; default: the server names the API key's tenant). `NotFound` for an agent
        this caller does not have, `Gone` for one forgotten before."""
        return Call("DELETE", f"{API}/agents/{_agent(agent_id)}", _reader(ForgetResult),
                    params=_given(by=by))
