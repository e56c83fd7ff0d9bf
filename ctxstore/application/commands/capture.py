"""Capture: take a checkpoint of an agent now or at a version, with its access level."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from ctxstore.application.checkpoint_model import AccessLevel, Checkpoint
from ctxstore.application.commands.access import Caller, shown
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, Command
from ctxstore.domain.bounds import BoundedText, Int64

SELECTIVE_CAPTURE = ("include_memory", "include_mcp_state", "include_conversation")


def _whole_capture(description: str) -> Any:
    return Field(default=True, description=f"{description} (the seed's parameter). Only `true` "
                 "for now: a capture holds the whole state; `false` is a 422.")


class CaptureOptions(Command):
    """How to capture (HTTP takes the agent from the path, so these are its parameters)."""

    label: BoundedText | None = None
    version: Int64 | None = Field(default=None,
                                  description="Capture this version (default: the latest).")
    session_id: Annotated[BoundedText, Field(min_length=1)] | None = None
    access_level: AccessLevel = Field(
        default="private",
        description="private: this tenant only; shared: this tenant and those named in "
        "`shared_with`; public: any tenant may read, export and restore from it.")
    shared_with: list[BoundedText] = Field(
        default_factory=list, max_length=100,
        description="For access_level `shared`: the tenants (as named in CONTEXT_API_KEYS) "
        "that may read, export and restore from it.")
    include_memory: bool = _whole_capture("Capture the memories")
    include_mcp_state: bool = _whole_capture("Capture the MCP servers' states")
    include_conversation: bool = _whole_capture("Capture the messages")

    @field_validator(*SELECTIVE_CAPTURE)
    @classmethod
    def _whole_state_only(cls, value: bool) -> bool:
        # Leaving a part out silently would give a checkpoint that restores more than asked.
        if not value:
            raise PydanticCustomError(
                "not_supported", "selective capture is not supported yet: a capture holds "
                "the whole state; leave it true (or out)")
        return value


class Capture(CaptureOptions):
    agent_id: AgentId


def capture(uc: UseCases, caller: Caller, cmd: Capture) -> Checkpoint:
    key = uc.policy.visible(caller, cmd.agent_id).agent_id
    return shown(uc.checkpoints.capture(key, version=cmd.version, label=cmd.label,
                                        session_id=cmd.session_id,
                                        access_level=cmd.access_level,
                                        shared_with=cmd.shared_with))
