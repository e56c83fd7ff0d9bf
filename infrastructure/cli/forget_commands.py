"""`ctxstore forget AGENT`: erase an agent for good (right to erasure), as
`DELETE /api/v1/agents/{id}` does; asks before it unless `--yes`."""

from __future__ import annotations

import dataclasses
import getpass
from typing import Annotated

import typer

from ctxstore.application.commands import Caller
from ctxstore.application.commands.forget import Forget
from ctxstore.infrastructure.cli.common import (
    CommandRefused,
    caller,
    command,
    commands,
    print_json,
)
from ctxstore.infrastructure.cli.errors import fail, friendly_errors


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def _confirmed(agent_id: str) -> bool:
    try:
        return typer.confirm(f"Forget agent {agent_id!r} for good (this cannot be undone)?",
                             err=True)
    except typer.Abort:  # no terminal to answer on (end of input, Ctrl-C)
        typer.echo("", err=True)
        return False


@friendly_errors
def forget(
    agent_id: Annotated[str, typer.Argument(help="The agent to forget.")],
    tenant: Annotated[str | None, typer.Option(
        "--tenant", help="The agent's tenant (as CONTEXT_API_KEYS names it); default: "
        "`ctxstore --tenant`, else the keyless local tenant.")] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Who asked for the erasure (kept in the tombstone); default: "
        "cli:<user>.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Forget an agent for good: its events, checkpoints, snapshots, indexes and search rows,
    its parts no fork refers to, and its NATS messages. A tombstone keeps its id, who and when;
    its id and event ids are refused afterwards."""
    try:
        cmd = command(Forget, {"agent_id": agent_id, "by": by or _who()},
                      {"agent_id": "AGENT", "by": "--by"})
    except CommandRefused as e:
        fail(str(e))
    who = Caller(tenant) if tenant else caller()
    if not yes and not _confirmed(agent_id):
        fail("not forgotten (answer yes, or pass --yes)")
    result = commands().forget(who, cmd)
    if result.purge_error:
        typer.echo(f"warning: the NATS streams were not purged ({result.purge_error}); "
                   "the README says how to purge them by hand", err=True)
    if result.reclaim_error:
        typer.echo(f"warning: the database kept the freed bytes for now "
                   f"({result.reclaim_error}); the README says what to run", err=True)
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    typer.echo(
        f"forgot {result.agent_id}: {result.events} events, {result.snapshots} snapshots, "
        f"{result.checkpoints} checkpoints, {result.parts_released} parts, "
        f"{result.view_rows} projection rows"
        + (f", {result.stream_messages} NATS messages" if result.stream_messages is not None
           else "")
        + f" (by {result.forgotten_by} at {result.forgotten_at})")


def register(app: typer.Typer) -> None:
    app.command()(forget)
