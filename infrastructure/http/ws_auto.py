"""The WebSocket's per-agent automatic checkpoint requests (the seed's
`start_automatic_checkpointing` / `stop_automatic_checkpointing`, §6.1), through the same typed
commands as HTTP and the CLI. Kept apart from ws.py so its message shapes can change without
touching these."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python

from ctxstore.application.commands import Caller, StartAutoCheckpoints, StopAutoCheckpoints
from ctxstore.infrastructure.container import Services

START, STOP = "start_automatic_checkpointing", "stop_automatic_checkpointing"
AUTO_CHECKPOINT_ACTIONS = (START, STOP)
_FRAME_KEYS = ("action", "type", "request_id")


def auto_checkpoint_action(services: Services, caller: Caller, action: str,
                           message: dict[str, Any]) -> tuple[str, Any]:
    """The reply's type and body (the schedule); blocking: call from a worker thread. A bad
    field raises pydantic's ValidationError, an unknown agent AgentNotFound (the socket's
    `error` reply, as for every request)."""
    fields = {k: v for k, v in message.items() if k not in _FRAME_KEYS}
    if action == START:
        view = services.commands.start_auto_checkpoints(
            caller, StartAutoCheckpoints.model_validate(fields))
        return "automatic_checkpointing_started", to_jsonable_python(view)
    view = services.commands.stop_auto_checkpoints(
        caller, StopAutoCheckpoints.model_validate(fields))
    return "automatic_checkpointing_stopped", to_jsonable_python(view)
