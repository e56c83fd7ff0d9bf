"""WebSocket `/api/v1/ws`: follow agents' new events live; capture and restore with progress.

Two forms of request. The seed plan's, keyed by `type` (`context_capture`, `context_restore`)
with flat replies in its field names: see http.ws_plan. Ours, keyed by `action`, with replies
nested under `data` (the page uses these):

Client → server (JSON objects; `request_id` is optional and echoed back):
- `{"action": "follow", "agent_ids": [...], "after_version": N?}`: stream events after
  version N (default: from now on) of each agent; an agent not written yet may be followed.
- `{"action": "unfollow", "agent_ids": [...]}`
- `{"action": "capture", "agent_id": ..., "label"?, "version"?, "access_level"?, ...}`: the
  Capture command's fields
- `{"action": "restore", ...}`: the Restore command's fields (application.commands.restore):
  `package_id` and `target_agent_id`, or an agent (`target_agent_id` and/or
  `source_agent_id`) and a point (`version` | `at`, none: the latest)
- `{"action": "start_automatic_checkpointing", "agent_id", "interval_minutes"?,
  "max_checkpoints"?}` and `{"action": "stop_automatic_checkpointing", "agent_id"}` (the seed's
  names, §6.1; http.ws_auto): replies `automatic_checkpointing_started` / `_stopped`
- `{"action": "context", "agent_id", "version"? | "at"? | "package_id"?, "tail"?,
  "since_version"?}`: the ReadContext command's fields; replies `context` with what
  `GET /agents/{id}/context` answers for them
- `{"action": "ping"}`

Server → client: `{"type": ..., "request_id"?: ..., "data": {...}}` with type `following`,
`event` (a history item plus `agent_id`), `context_capture_started`, `context_captured` (the
checkpoint, as `POST /context/capture` returns it), `context_restoration_started`,
`context_restored` (as the restore routes return it), `pong`, and `error` (`{detail, errors}`
as every HTTP error).

A frame neither form can read (not JSON, neither `action` nor `type`) gets an `error` in both
shapes at once: `message`, `errors` and `status` flat, and `data`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from starlette.concurrency import run_in_threadpool
from starlette.types import Message

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands import Caller, Capture, ReadContext, Restore
from ctxstore.application.errors import AgentNotFound, InvalidRequest
from ctxstore.application.restore_model import RestoreResult
from ctxstore.domain import bounds
from ctxstore.domain.agent_id import check_agent_id
from ctxstore.domain.bounds import Int64, OutOfBounds
from ctxstore.infrastructure.http import actions, ws_plan
from ctxstore.infrastructure.http.auth import (
    KEY_IN_URL,
    UNAUTHORIZED,
    WS_PROTOCOL,
    offered_protocols,
    websocket_tenant,
)
from ctxstore.infrastructure.http.deps import Api, api_of
from ctxstore.infrastructure.http.errors import error_of
from ctxstore.infrastructure.http.hub import Subscription
from ctxstore.infrastructure.http.reads import encoded_read
from ctxstore.infrastructure.http.schemas import ErrorBody
from ctxstore.infrastructure.http.ws_auto import AUTO_CHECKPOINT_ACTIONS, auto_checkpoint_action

router = APIRouter()
log = logging.getLogger("ctxstore.http.ws")
POLL_SECONDS = 1.0
PAGE = 500
MAX_FOLLOWED = 256


class Follow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    request_id: str | int | None = None
    agent_ids: list[str] = Field(min_length=1, max_length=MAX_FOLLOWED)
    after_version: Int64 | None = None


class Unfollow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str
    request_id: str | int | None = None
    agent_ids: list[str] = Field(min_length=1, max_length=MAX_FOLLOWED)


C = TypeVar("C", bound=BaseModel)


def command_of(model: type[C], message: dict[str, Any]) -> C:
    """The command a request frame carries: its fields but `action` and `request_id`."""
    return model.model_validate({k: v for k, v in message.items()
                                 if k not in ("action", "request_id")})


class Connection:
    def __init__(self, websocket: WebSocket, api: Api, caller: Caller):
        self.ws = websocket
        self.api = api
        self.caller = caller
        self.tenant = caller.tenant
        self.cursors: dict[str, int] = {}  # by agent id, as this tenant names them
        self.keys: dict[str, str] = {}  # agent id -> the store's key (domain.agent_id)
        self.send_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.sub: Subscription = api.hub.subscribe()

    async def send(self, type_: str, data: Any, request_id: Any = None, *,
                   flat: bool = False) -> None:
        """A reply nested under `data` (our form), or `flat` (the plan's form: `data`'s
        fields beside `type`)."""
        message: dict[str, Any] = {"type": type_, **data} if flat else {"type": type_,
                                                                           "data": data}
        if request_id is not None:
            message["request_id"] = request_id
        # printable: an echoed request_id may hold a lone surrogate, which UTF-8 cannot carry.
        text = bounds.printable(json.dumps(message, ensure_ascii=False, default=str))
        async with self.send_lock:
            await self.ws.send_text(text)

    async def send_encoded(self, type_: str, data: bytes, request_id: Any = None) -> None:
        """A reply whose `data` is JSON already encoded (a cached context read): spliced in,
        not decoded and encoded again."""
        rid = "" if request_id is None else (
            ',"request_id":' + bounds.printable(json.dumps(request_id, ensure_ascii=False)))
        text = '{"type":' + json.dumps(type_) + ',"data":' + data.decode() + rid + "}"
        async with self.send_lock:
            await self.ws.send_text(text)

    async def error(self, exc: Exception | str, request_id: Any = None) -> None:
        await self.send("error", error_body(exc), request_id)

    async def error_in_both_forms(self, exc: Exception | str, request_id: Any = None) -> None:
        """For a frame whose form is unknown: the plan's flat fields and our `data`."""
        body = error_body(exc)
        await self.send("error", {**ws_plan.failed(None, body), "data": body}, request_id,
                        flat=True)

    # Following -------------------------------------------------------------------------------
    def _start_cursors(self, agent_ids: list[str], after: int | None) -> dict[str, int]:
        """Where each agent's stream starts; another tenant's agent is not found (as HTTP)."""
        found: dict[str, int] = {}
        for agent_id in agent_ids:
            check_agent_id(agent_id)
            key = self.keys[agent_id] = self.api.store.key_for(self.tenant, agent_id)
            summary = self.api.store.summary(key)
            if summary is not None and summary.tenant != self.tenant:
                raise AgentNotFound(agent_id)
            now = summary.version if summary else 0
            found[agent_id] = now if after is None else min(after, now)
        return found

    def _new_events(self, agent_id: str, after: int) -> list[dict[str, Any]]:
        key = self.keys.get(agent_id)
        if key is None:  # unfollowed meanwhile
            return []
        summary = self.api.store.summary(key)
        if summary is None or summary.tenant != self.tenant or summary.version <= after:
            return []
        items = self.api.store.history(key, after_version=after, limit=PAGE)
        return [{"agent_id": agent_id, "version": i.version, "event_id": i.event_id,
                 "type": i.type, "recorded_at": i.recorded_at, "session_id": i.session_id,
                 "data": i.data} for i in items]

    async def pump(self) -> None:
        """Send followed agents' new events: at once on a local write, else every second."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sub.changed.wait(), timeout=POLL_SECONDS)
            self.sub.changed.clear()
            for agent_id in list(self.cursors):
                while agent_id in self.cursors:
                    events = await run_in_threadpool(self._new_events, agent_id,
                                                     self.cursors[agent_id])
                    for event in events:
                        await self.send("event", event)
                        if agent_id in self.cursors:
                            self.cursors[agent_id] = event["version"]
                    if len(events) < PAGE:
                        break

    # Requests --------------------------------------------------------------------------------
    async def handle(self, message: dict[str, Any]) -> None:
        if "action" not in message:
            await self.handle_plan(message)
            return
        action = message.get("action")
        request_id = message.get("request_id")
        if action == "ping":
            await self.send("pong", {}, request_id)
        elif action == "follow":
            follow = Follow.model_validate(message)
            cursors = await run_in_threadpool(self._start_cursors, follow.agent_ids,
                                              follow.after_version)
            if len(set(self.cursors) | set(cursors)) > MAX_FOLLOWED:
                raise InvalidRequest(f"agent_ids: at most {MAX_FOLLOWED} agents per socket")
            self.cursors.update(cursors)
            self.sub.agent_ids = {self.keys[a] for a in self.cursors}
            self.sub.changed.set()
            await self.send("following", {"agent_ids": sorted(self.cursors),
                                          "versions": dict(self.cursors)}, request_id)
        elif action == "unfollow":
            for agent_id in Unfollow.model_validate(message).agent_ids:
                self.cursors.pop(agent_id, None)
                self.keys.pop(agent_id, None)
            self.sub.agent_ids = {self.keys[a] for a in self.cursors}
            await self.send("following", {"agent_ids": sorted(self.cursors),
                                          "versions": dict(self.cursors)}, request_id)
        elif action == "context":
            read = command_of(ReadContext, message)
            data = await run_in_threadpool(encoded_read, self.api, self.caller, read)
            await self.send_encoded("context", data, request_id)
        elif action == "capture":
            self._spawn(self._run(command_of(Capture, message), request_id))
        elif action == "restore":
            self._spawn(self._run(command_of(Restore, message), request_id))
        elif action in AUTO_CHECKPOINT_ACTIONS:
            type_, out = await run_in_threadpool(auto_checkpoint_action, self.api.services,
                                                 self.caller, action, message)
            await self.send(type_, out, request_id)
        else:
            await self.error(f"action: unknown action {action!r}; expected one of follow, "
                             "unfollow, context, capture, restore, ping, "
                             + ", ".join(sorted(AUTO_CHECKPOINT_ACTIONS)), request_id)

    async def handle_plan(self, message: dict[str, Any]) -> None:
        """A request of the plan's form (http.ws_plan); its errors are the plan's too."""
        request_id = message.get("request_id")
        if "type" not in message:
            await self.error_in_both_forms(
                InvalidRequest("required: a request names its `type` (context_capture, "
                               "context_restore) or its `action` (follow, unfollow, capture, "
                               "restore, ping)", field="type"), request_id)
            return
        try:
            cmd = ws_plan.plan_command(message)
        except Exception as e:  # noqa: BLE001 - reported to the client, the socket lives on
            await self.send("error", ws_plan.failed(None, error_body(e)), request_id,
                            flat=True)
            return
        self._spawn(self._run(cmd, request_id, plan=True))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, cmd: Capture | Restore, rid: Any, *, plan: bool = False) -> None:
        """Capture or restore with progress: started, then done or error, in either form."""
        if plan:
            kind, fields = ws_plan.started(cmd)
            await self.send(kind, fields, rid, flat=True)
        elif isinstance(cmd, Capture):
            await self.send("context_capture_started", {
                "agent_id": cmd.agent_id, "label": cmd.label, "version": cmd.version}, rid)
        else:
            await self.send("context_restoration_started",
                            cmd.model_dump(mode="json", exclude_none=True), rid)
        try:
            out: Checkpoint | RestoreResult
            if isinstance(cmd, Capture):
                out = await run_in_threadpool(actions.capture, self.api, self.caller, cmd)
            else:
                out = await run_in_threadpool(actions.restore, self.api, self.caller, cmd)
        except Exception as e:  # noqa: BLE001 - reported to the client, the socket lives on
            if plan:
                await self.send("error", ws_plan.failed(cmd, error_body(e)), rid, flat=True)
            else:
                await self.error(e, rid)
            return
        kind = "context_captured" if isinstance(out, Checkpoint) else "context_restored"
        if not plan:
            await self.send(kind, to_jsonable_python(out), rid)
        elif isinstance(out, Checkpoint):
            await self.send(kind, ws_plan.captured(out), rid, flat=True)
        else:
            await self.send(kind, ws_plan.restored(out), rid, flat=True)

    async def close(self) -> None:
        self.sub.close()
        for task in list(self.tasks):
            task.cancel()


def error_body(exc: Exception | str) -> dict[str, Any]:
    """The `{detail, errors}` body the HTTP routes give for the same failure, plus `status`:
    the HTTP status code that failure gets there."""
    status, body = _error(exc)
    safe = ErrorBody(detail=bounds.printable(body.detail), errors=[
        e.model_copy(update={"field": bounds.printable(e.field),
                             "message": bounds.printable(e.message)}) for e in body.errors])
    return {**safe.model_dump(mode="json"), "status": status}


def _error(exc: Exception | str) -> tuple[int, ErrorBody]:
    """The same status, sentence and fields as the HTTP routes answer (http.errors.error_of)."""
    if isinstance(exc, str):
        exc = InvalidRequest(exc)
    known = error_of(exc)
    if known is None:
        log.error("unexpected WebSocket error", exc_info=exc)
        return 500, ErrorBody(detail=f"internal error: {type(exc).__name__}")
    status, detail, errors = known
    return status, ErrorBody(detail=detail, errors=errors)


def parse_frame(frame: Message) -> dict[str, Any]:
    """A client's frame as a JSON object within the bounds of domain.bounds; ValueError (with
    the reason) for a binary frame, text that is not JSON, or JSON nested too deep;
    InvalidRequest naming the field for a value out of bounds."""
    text = frame.get("text")
    if text is None:
        raise ValueError("binary frames are not understood; send JSON text")
    try:
        message, _ = bounds.loads(text.encode("utf-8", "surrogatepass"))
        bounds.check_json(message)
    except OutOfBounds as e:
        if e.field == "(body)":
            raise ValueError(e.message) from None
        # A value within the frame (`after_version` past 64 bits): the error names its field.
        raise InvalidRequest(str(e)) from None
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    api = api_of(ws)
    # A browser that offered subprotocols fails the handshake unless one is chosen: `ctxstore`,
    # never the one carrying the key.
    await ws.accept(subprotocol=WS_PROTOCOL if WS_PROTOCOL in offered_protocols(ws) else None)
    if "api_key" in ws.query_params:
        await ws.send_text(json.dumps({"type": "error", "data": {
            "detail": KEY_IN_URL, "status": 400,
            "errors": [{"field": "query.api_key", "message": KEY_IN_URL, "index": None}]}}))
        await ws.close(code=4400, reason="key in URL")
        return
    tenant = websocket_tenant(ws)
    if tenant is None:
        await ws.send_text(json.dumps({"type": "error", "data": {
            "detail": UNAUTHORIZED, "errors": [], "status": 401}}))
        await ws.close(code=4401, reason="unauthorized")
        return
    conn = Connection(ws, api, Caller(tenant, keyed=api.keys.enabled))
    api.metrics.websockets.inc()
    pump = asyncio.create_task(conn.pump())
    try:
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                break
            try:
                message = parse_frame(frame)
            except ValueError as e:
                await conn.error_in_both_forms(f"(message): {e}")
                continue
            except InvalidRequest as e:
                await conn.error_in_both_forms(e)
                continue
            try:
                await conn.handle(message)
            except Exception as e:  # noqa: BLE001 - one bad request never closes the socket
                await conn.error(e, message.get("request_id"))
    except WebSocketDisconnect:
        pass
    finally:
        pump.cancel()
        await conn.close()
        api.metrics.websockets.dec()

