"""Capture: take a checkpoint of an agent now or at a version, with its access level, of
the whole content or the parts the seed's `include_*` flags choose."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ctxstore.application.checkpoint_model import AccessLevel, Checkpoint
from ctxstore.application.commands.access import Caller, shown
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, Command
from ctxstore.domain.bounds import BoundedText, Int64
from ctxstore.domain.parts import Part, parts_of

# The seed's flags and the content part (domain.parts) each covers.
INCLUDE_FLAGS: dict[str, Part] = {"include_conversation": "conversation",
                                  "include_memory": "memory",
                                  "include_mcp_state": "mcp_state"}


def _include(description: str) -> Any:
    return Field(default=True, description=f"{description} (the seed's parameter; default "
                 "true). A checkpoint leaving parts out holds them empty, lists what it holds "
                 "in `parts`, and a `replace` restore from it replaces only those parts.")


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
    include_memory: bool = _include("Capture the memories and their links")
    include_mcp_state: bool = _include("Capture the MCP servers' states")
    include_conversation: bool = _include("Capture the messages, reasoning and tool calls")

    @field_validator("include_conversation")
    @classmethod
    def _something_included(cls, value: bool, info: ValidationInfo) -> bool:
        # The last flag declared: the rule spans all three, and the error names one field.
        if not value and not any(info.data.get(f) for f in INCLUDE_FLAGS if f != info.field_name):
            raise PydanticCustomError(
                "nothing_to_capture", "a capture holds at least one part: include_conversation, "
                "include_memory or include_mcp_state must be true")
        return value

    @property
    def parts(self) -> tuple[Part, ...]:
        """The content parts the flags choose, in canonical order."""
        return parts_of(p for f, p in INCLUDE_FLAGS.items() if getattr(self, f))


class Capture(CaptureOptions):
    agent_id: AgentId


def capture(uc: UseCases, caller: Caller, cmd: Capture) -> Checkpoint:
    row = uc.policy.visible(caller, cmd.agent_id)
    return shown(uc.checkpoints.capture(row.agent_id, version=cmd.version, label=cmd.label,
                                        session_id=cmd.session_id,
                                        access_level=cmd.access_level,
                                        shared_with=cmd.shared_with, parts=cmd.parts,
                                        row=row))
