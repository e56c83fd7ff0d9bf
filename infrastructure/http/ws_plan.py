"""The seed plan's WebSocket messages (its Phase 4), as written: requests keyed by `type`,
replies flat with the plan's field names. The socket (http.ws) speaks these beside its own
`action` requests; this module holds what differs: which command a `type` request builds, and
the shape of each reply.

Requests (the plan names only its replies; these are DESIGN §5's request names):
- `{"type": "context_capture", "agent_id", "session_id"?, "include_memory"?,
  "include_mcp_state"?, "include_conversation"?}` (and any other field of the Capture
  command: `label`, `version`, `access_level`, `shared_with`)
- `{"type": "context_restore", "package_id", "target_agent_id", "validation_level"?,
  "merge_strategy"?}`

Replies: `context_capture_started` {agent_id}; `context_captured` {package_id,
compression_ratio, size_bytes, and the rest of the checkpoint}; `context_restoration_started`
{package_id}; `context_restored` {success, details, and the rest of the restore result};
`error` {message, errors: [{field, message}], status}. A `request_id` sent is echoed back.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from pydantic_core import to_jsonable_python

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands import Capture, Restore, RestoreTarget
from ctxstore.application.errors import InvalidRequest
from ctxstore.application.restore_model import RestoreResult
from ctxstore.domain.bounds import BoundedText

PLAN_REQUESTS = ("context_capture", "context_restore")
FRAME_KEYS = ("type", "request_id")


class PlanRestore(RestoreTarget):
    """The plan's restore request: a checkpoint into a target, nothing else."""

    package_id: Annotated[BoundedText, Field(min_length=1)] = Field(
        description="The checkpoint to restore.")


def plan_command(message: dict[str, Any]) -> Capture | Restore:
    """The command a `type` request builds; ValidationError or InvalidRequest naming the field
    at fault."""
    kind = message.get("type")
    fields = {k: v for k, v in message.items() if k not in FRAME_KEYS}
    if kind == "context_capture":
        return Capture.model_validate(fields)
    if kind == "context_restore":
        return Restore.model_validate(PlanRestore.model_validate(fields).model_dump())
    raise InvalidRequest(f"unknown request type {kind!r}; expected one of "
                         f"{', '.join(PLAN_REQUESTS)} (or an `action` request)", field="type")


def started(cmd: Capture | Restore) -> tuple[str, dict[str, Any]]:
    if isinstance(cmd, Capture):
        return "context_capture_started", {"agent_id": cmd.agent_id}
    return "context_restoration_started", {"package_id": cmd.package_id}


def captured(checkpoint: Checkpoint) -> dict[str, Any]:
    """The checkpoint flat: the plan's package_id, compression_ratio and size_bytes are its
    fields."""
    fields: dict[str, Any] = to_jsonable_python(checkpoint)
    return fields


def restored(result: RestoreResult) -> dict[str, Any]:
    """The restore result flat, with the plan's `details` (our `restoration_details`)."""
    fields: dict[str, Any] = to_jsonable_python(result)
    return {**fields, "details": fields["restoration_details"]}


def failed(cmd: Capture | Restore | None, error: dict[str, Any]) -> dict[str, Any]:
    """An `error` reply from the `{detail, errors, status}` body every door's error has; the
    message begins as the plan's do."""
    what = ("Context capture failed: " if isinstance(cmd, Capture)
            else "Context restoration failed: " if isinstance(cmd, Restore) else "")
    return {"message": what + error["detail"], "errors": error["errors"],
            "status": error["status"]}
