"""`ctxstore export-af`: an agent's context at a point as a Letta Agent File (`.af`)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from ctxstore.application.commands import ExportAgentFile
from ctxstore.infrastructure.cli import common
from ctxstore.infrastructure.cli.errors import fail, friendly_errors
from ctxstore.infrastructure.importers import EventLimits
from ctxstore.infrastructure.importers.letta_export import encode_state
from ctxstore.infrastructure.importers.letta_schema import SchemaUnavailable, schema_check


@friendly_errors
def export_af(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .af file to write.")],
    version: Annotated[int | None, typer.Option(help="The state at this version.", min=0)
                       ] = None,
    at: Annotated[str | None, typer.Option(help="The state at this time (ISO 8601).")] = None,
    checkpoint_id: Annotated[str | None, typer.Option(
        "--checkpoint", help="The state this checkpoint holds.")] = None,
    check_schema: Annotated[bool, typer.Option(
        "--check-schema", help="Also check the file against Letta's own schema (letta-client "
        "0.1.324: pip install 'ctxstore[letta]') before writing it.")] = False,
) -> None:
    """Export an agent's context (now, at a version, a time or a checkpoint) as a Letta Agent
    File (v2); `ctxstore import` reads it back to the same content hash."""
    cmd = common.command(ExportAgentFile, {"agent_id": agent_id, "version": version,
                                           "at": common.parse_time(at) if at else None,
                                           "package_id": checkpoint_id}, common.POINT_OPTIONS)
    config = common.settings()
    limits = EventLimits(max_event_bytes=config.max_event_bytes,
                         max_clock_skew_seconds=config.max_clock_skew_seconds)
    shown: dict[str, Any] = {}

    def write(state: dict[str, Any]) -> bytes:
        shown.update(version=state["version"], content_hash=state["content_hash"])
        return encode_state(state, limits)

    data = common.commands().export_agent_file(common.caller(), cmd, write)
    if check_schema:
        _check_schema(data)
    _write_file(output, data)
    common.console.print(f"exported {agent_id} at version {shown['version']} "
                  f"({shown['content_hash']}) to {output}", highlight=False)


def _check_schema(data: bytes) -> None:
    try:
        problems = schema_check(data)
    except SchemaUnavailable as e:
        fail(str(e))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        fail(f"not written: the file does not meet Letta's schema: {problems[0]}{more}")


def _write_file(output: Path, data: bytes) -> None:
    """Whole or not at all: a part file renamed over the target."""
    tmp = output.with_name(output.name + ".part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, output)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        fail(f"cannot write {output}: {e.strerror or e}")


def register(app: typer.Typer) -> None:
    app.command("export-af")(export_af)
