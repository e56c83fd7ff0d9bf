"""The use cases as typed commands, and the one access policy they all apply.

Every door (HTTP routes, the WebSocket, NATS RPC and ingest, the CLI) parses its input into a
command, calls `Commands` with the `Caller` it serves, and maps the typed result or error to its
own output. The rules (batch semantics, points, targets, tenants and access levels) live here
once, so the doors accept and refuse the same requests (tests/test_doors.py runs one table of
requests through all four). Errors are the application's (`application.errors`, with the field
at fault) or pydantic's ValidationError (a command that cannot be built), which every door maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands import agent_file as _agent_file
from ctxstore.application.commands import auto_checkpoint as _auto
from ctxstore.application.commands import capture as _capture
from ctxstore.application.commands import catalogue as _catalogue
from ctxstore.application.commands import diff as _diff
from ctxstore.application.commands import forget as _forget
from ctxstore.application.commands import packages as _packages
from ctxstore.application.commands import read as _read
from ctxstore.application.commands import record as _record
from ctxstore.application.commands import restore as _restore
from ctxstore.application.commands.access import LOCAL, AccessPolicy, Caller, shown
from ctxstore.application.commands.agent_file import AgentFileWriter, ExportAgentFile
from ctxstore.application.commands.auto_checkpoint import (
    AutoCheckpointList,
    AutoCheckpointOptions,
    AutoCheckpointStatus,
    ScheduleView,
    StartAutoCheckpoints,
    StopAutoCheckpoints,
)
from ctxstore.application.commands.capture import Capture, CaptureOptions
from ctxstore.application.commands.catalogue import CheckpointList, ListCheckpoints
from ctxstore.application.commands.context import EventLimits, UseCases
from ctxstore.application.commands.diff import Diff
from ctxstore.application.commands.forget import Forget
from ctxstore.application.commands.packages import ExportPackage, Imported, ImportPackage
from ctxstore.application.commands.read import Located, ReadContext
from ctxstore.application.commands.record import RecordEvents, RecordReport, parse_event
from ctxstore.application.commands.restore import (
    Restore,
    RestoreOptions,
    RestoreSource,
    RestoreTarget,
)
from ctxstore.application.diff import ContextDiff
from ctxstore.application.forget import ForgetResult
from ctxstore.application.restore_model import RestoreResult
from ctxstore.application.results import EventOutcome
from ctxstore.domain.events import AnyEnvelope

__all__ = [
    "LOCAL", "AccessPolicy", "AgentFileWriter", "AutoCheckpointList", "AutoCheckpointOptions",
    "AutoCheckpointStatus", "Caller", "Capture", "ScheduleView", "StartAutoCheckpoints",
    "StopAutoCheckpoints", "CaptureOptions", "CheckpointList",
    "Commands", "Diff", "EventLimits", "Forget", "ForgetResult", "ExportAgentFile",
    "ExportPackage", "ImportPackage",
    "Imported",
    "ListCheckpoints", "Located", "ReadContext", "RecordEvents", "RecordReport", "Restore",
    "UseCases",
    "RestoreOptions", "RestoreSource", "RestoreTarget", "parse_event", "shown",
]


class Commands:
    """One handler per command. Blocking (the store): doors call it from a worker thread."""

    def __init__(self, use_cases: UseCases):
        self.use_cases = use_cases
        self.policy = use_cases.policy

    def record(self, caller: Caller, cmd: RecordEvents) -> RecordReport:
        with self.use_cases.store.one_connection.scope():
            return _record.record_events(self.use_cases, caller, cmd)

    def record_parsed(self, caller: Caller, envelopes: Sequence[AnyEnvelope]
                      ) -> list[EventOutcome]:
        with self.use_cases.store.one_connection.scope():
            return _record.record_parsed(self.use_cases, caller, envelopes)

    def locate(self, caller: Caller, cmd: ReadContext) -> Located:
        with self.use_cases.store.one_connection.scope():
            return _read.locate(self.use_cases, caller, cmd)

    def answer(self, caller: Caller, cmd: ReadContext, located: Located) -> dict[str, Any]:
        with self.use_cases.store.one_connection.scope():
            return _read.answer(self.use_cases, caller, cmd, located)

    def read(self, caller: Caller, cmd: ReadContext) -> dict[str, Any]:
        with self.use_cases.store.one_connection.scope():
            return _read.read_context(self.use_cases, caller, cmd)

    def capture(self, caller: Caller, cmd: Capture) -> Checkpoint:
        with self.use_cases.store.one_connection.scope():
            return _capture.capture(self.use_cases, caller, cmd)

    def restore(self, caller: Caller, cmd: Restore) -> RestoreResult:
        with self.use_cases.store.one_connection.scope():
            return _restore.restore(self.use_cases, caller, cmd)

    def diff(self, caller: Caller, cmd: Diff) -> ContextDiff:
        with self.use_cases.store.one_connection.scope():
            return _diff.diff(self.use_cases, caller, cmd)

    def forget(self, caller: Caller, cmd: Forget) -> ForgetResult:
        return _forget.forget(self.use_cases, caller, cmd)

    def checkpoint(self, caller: Caller, package_id: str) -> Checkpoint:
        return self.policy.checkpoint(caller, package_id)

    def list_checkpoints(self, caller: Caller, cmd: ListCheckpoints) -> CheckpointList:
        return _catalogue.list_checkpoints(self.use_cases, caller, cmd)

    def export(self, caller: Caller, cmd: ExportPackage) -> bytes:
        return _packages.export_package(self.use_cases, caller, cmd)

    def export_agent_file(self, caller: Caller, cmd: ExportAgentFile,
                          write: AgentFileWriter) -> bytes:
        return _agent_file.export_agent_file(self.use_cases, caller, cmd, write)

    def import_package(self, caller: Caller, cmd: ImportPackage) -> Imported:

        return _packages.import_package(self.use_cases, caller, cmd)

    def start_auto_checkpoints(self, caller: Caller, cmd: StartAutoCheckpoints
                               ) -> ScheduleView:
        return _auto.start(self.use_cases, caller, cmd)

    def stop_auto_checkpoints(self, caller: Caller, cmd: StopAutoCheckpoints) -> ScheduleView:
        return _auto.stop(self.use_cases, caller, cmd)

    def auto_checkpoint_status(self, caller: Caller, cmd: AutoCheckpointStatus
                               ) -> AutoCheckpointList:
        return _auto.status(self.use_cases, caller, cmd)
