"""`ctxstore auto-checkpoint start|stop|status`: per-agent automatic checkpoints (the seed's
plan §6.1). The schedule is kept in the store; the processes that run rounds (`serve`,
`ingest`) pick it up within CONTEXT_CHECKPOINT_POLL_SECONDS."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from pydantic_core import to_jsonable_python

from ctxstore.application.commands import (
    AutoCheckpointStatus,
    ScheduleView,
    StartAutoCheckpoints,
    StopAutoCheckpoints,
)
from ctxstore.infrastructure.cli.common import caller, command, commands, console, print_json
from ctxstore.infrastructure.cli.errors import friendly_errors

auto_app = typer.Typer(help="Per-agent automatic checkpoints: start, stop, status.",
                       no_args_is_help=True)
OPTIONS = {"agent_id": "AGENT_ID", "interval_minutes": "--interval",
           "max_checkpoints": "--max"}
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AgentArg = Annotated[str, typer.Argument(help="The agent.")]


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "-"


def _show(s: ScheduleView) -> None:
    console.print(
        f"[bold]{s.agent_id}[/]: every {s.interval_minutes:g} min, keeps {s.max_checkpoints}; "
        f"next {_when(s.next_due_at)}; last capture {_when(s.last_capture_at)}"
        + (f" ({s.last_package_id})" if s.last_package_id else "")
        + (f"; last error: {s.last_error}" if s.last_error else ""), highlight=False)


@auto_app.command("start")
@friendly_errors
def start(
    agent_id: AgentArg,
    interval: Annotated[float, typer.Option("--interval",
                                            help="Minutes between rounds (fractions allowed).")
                        ] = 30,
    max_checkpoints: Annotated[int, typer.Option("--max", help="Checkpoints of this agent "
                                                 "kept while the schedule runs.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Checkpoint AGENT_ID every --interval minutes when it changed, keeping --max."""
    cmd = command(StartAutoCheckpoints, {"agent_id": agent_id, "interval_minutes": interval,
                                         "max_checkpoints": max_checkpoints}, OPTIONS)
    view = commands().start_auto_checkpoints(caller(), cmd)
    print_json(to_jsonable_python(view)) if as_json else _show(view)


@auto_app.command("stop")
@friendly_errors
def stop(agent_id: AgentArg, as_json: JsonOpt = False) -> None:
    """End AGENT_ID's own schedule (it follows the default again); its checkpoints stay."""
    cmd = command(StopAutoCheckpoints, {"agent_id": agent_id}, OPTIONS)
    view = commands().stop_auto_checkpoints(caller(), cmd)
    if as_json:
        print_json(to_jsonable_python(view))
    else:
        console.print(f"stopped automatic checkpoints of [bold]{view.agent_id}[/]",
                      highlight=False)


@auto_app.command("status")
@friendly_errors
def status(agent_id: Annotated[str | None, typer.Argument(help="One agent (default: all).")
                               ] = None, as_json: JsonOpt = False) -> None:
    """Each agent's schedule: interval, maximum, next round, last capture."""
    cmd = command(AutoCheckpointStatus, {"agent_id": agent_id}, OPTIONS)
    listing = commands().auto_checkpoint_status(caller(), cmd)
    if as_json:
        print_json(to_jsonable_python(listing))
        return
    for view in listing.schedules:
        _show(view)
    default = listing.default_interval_minutes
    console.print(("other agents: every " + f"{default:g} min" if default is not None
                   else "other agents: no automatic checkpoints")
                  + f", keeping {listing.default_max_checkpoints}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(auto_app, name="auto-checkpoint")
