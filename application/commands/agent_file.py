"""Export an agent's context at a point as another framework's agent file (Letta's `.af`).

The point is read as `ReadContext` reads it (same access rules, same errors); the format is
the caller's `AgentFileWriter` (an infrastructure codec), so the application holds no file
format and the CLI never reaches into the store.
"""

from __future__ import annotations

from typing import Any, Protocol

from ctxstore.application.commands import read as _read
from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import UseCases
from ctxstore.application.commands.fields import AgentId, OnePoint


class ExportAgentFile(OnePoint):
    """The caller's agent at a point (version, at or package_id; none: the latest)."""

    agent_id: AgentId


class AgentFileWriter(Protocol):
    def __call__(self, state: dict[str, Any]) -> bytes:
        """The file's bytes for a DESIGN §2 state."""


def export_agent_file(uc: UseCases, caller: Caller, cmd: ExportAgentFile,
                      write: AgentFileWriter) -> bytes:
    read = _read.ReadContext(agent_id=cmd.agent_id, version=cmd.version, at=cmd.at,
                             package_id=cmd.package_id)
    return write(_read.read_context(uc, caller, read))
