"""`ctxstore import`: real agent traces (Letta, tau-bench, SWE-agent) into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ctxstore.application.importing import ImportSummary, record_in_batches
from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.cli.common import caller, console, settings, store
from ctxstore.infrastructure.cli.errors import err_console, friendly_errors
from ctxstore.infrastructure.importers import (
    EventLimits,
    ImportedAgent,
    TraceFormatError,
    iter_trace_files,
    load_trace,
)


def import_paths(target: ContextStore, paths: list[Path], *, batch_size: int = 1000,
                 quiet: bool = False, limits: EventLimits | None = None,
                 tenant: str = LOCAL_TENANT
                 ) -> tuple[list[tuple[Path, ImportSummary]], list[str]]:
    """Import every trace file under `paths` as the tenant's agents; a bad file is reported
    and writes nothing."""
    files: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if not path.exists():
            errors.append(f"{path}: no such file or folder")
            continue
        files.extend(iter_trace_files(path))
    loaded: list[tuple[Path, list[ImportedAgent]]] = []
    for file in files:
        try:
            loaded.append((file, load_trace(file, limits)))
        except TraceFormatError as e:
            errors.append(str(e))
    total = sum(len(a.envelopes) for _, agents in loaded for a in agents)
    results: list[tuple[Path, ImportSummary]] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as bar:
        task = bar.add_task("importing", total=total)
        for file, agents in loaded:
            bar.update(task, description=f"importing {file.name[:40]}")
            summary = ImportSummary()
            for agent in agents:
                record_in_batches(target, agent.envelopes, batch_size=batch_size,
                                  tenant=tenant, progress=lambda n: bar.advance(task, n),
                                  summary=summary)
            results.append((file, summary))
    return results, errors


@friendly_errors
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Trace files or folders to import.")],
    batch_size: Annotated[int, typer.Option(help="Events per transaction.", min=1)] = 1000,
) -> None:
    """Import agent traces: Letta .af, tau-bench / OpenAI chat .json, SWE-agent .traj, as
    the tenant's agents (`ctxstore --tenant T import ...`; default: the local tenant)."""
    config = settings()
    limits = EventLimits(max_event_bytes=config.max_event_bytes,
                         max_clock_skew_seconds=config.max_clock_skew_seconds)
    results, errors = import_paths(store(), paths, batch_size=batch_size, limits=limits,
                                   tenant=caller().tenant)
    print_summary(results)
    for error in errors:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(1)


def print_summary(results: list[tuple[Path, ImportSummary]]) -> None:
    table = Table(title="import summary")
    for column in ("file", "agents", "events", "recorded", "duplicates", "rejected"):
        table.add_column(column, justify="left" if column == "file" else "right",
                         overflow="fold")
    for file, s in results:
        table.add_row(file.name, str(len(s.agents)), str(s.events), str(s.recorded),
                      str(s.duplicates), str(len(s.rejected)))
    if results:
        table.add_row("[bold]total", *(str(sum(v)) for v in zip(
            *((len(s.agents), s.events, s.recorded, s.duplicates, len(s.rejected))
              for _, s in results), strict=True)))
        console.print(table)
    for _, s in results:
        for reason in s.rejected:
            err_console.print(f"[yellow]rejected:[/] {reason}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
