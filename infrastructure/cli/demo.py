"""`ctxstore demo`: the main job end to end on the embedded SQLite store, with real traces."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.rule import Rule
from rich.table import Table

from ctxstore.application.store import from_us
from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.cli.common import console
from ctxstore.infrastructure.cli.errors import fail, friendly_errors
from ctxstore.infrastructure.cli.importing import import_paths, print_summary
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.plotting import render_evolution_plot
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.infrastructure.samples import TRACES as SAMPLES
from ctxstore.infrastructure.settings import Settings

CONVERSATION_AGENT = "letta-memgpt_agent__memgpt_agent_with_convo-2025-03-31_bee301d2"


def _step(title: str) -> None:
    console.print()
    console.print(Rule(f"[bold]{title}"))


def _summary_line(state: dict[str, Any]) -> str:
    return (f"version {state['version']}: {len(state['messages'])} messages, "
            f"{len(state['tool_calls'])} tool calls, {len(state['memories'])} memories  "
            f"{state['content_hash'][:23]}…")


def _show_messages(state: dict[str, Any], last: int = 3) -> None:
    for message in state["messages"][-last:]:
        content = message["content"]
        text = content if isinstance(content, str) else " ".join(
            str(p.get("text", "")) for p in content)
        text = " ".join(text.split())
        console.print(f"    [cyan]{message['role']:>9}[/] {text[:110]}", highlight=False)


def run_demo(services: Services, samples: Path, workdir: Path) -> dict[str, Any]:
    """The demo's steps; returns what it showed so tests can check it."""
    store = services.store
    shown: dict[str, Any] = {}
    _step("1. Import real agent traces (Letta, tau-bench, SWE-agent) into the event store")
    results, errors = import_paths(store, [samples], quiet=True)
    if errors:
        fail("; ".join(errors))
    print_summary(results)
    shown["imported"] = sum(s.recorded for _, s in results)
    again, _ = import_paths(store, [samples], quiet=True)
    shown["reimported_duplicates"] = sum(s.duplicates for _, s in again)
    console.print(f"  importing again records nothing new: "
                  f"{sum(s.recorded for _, s in again)} recorded, "
                  f"{shown['reimported_duplicates']} duplicates (event ids are stable)")

    _step("2. Agents and their versions")
    table = Table()
    for column in ("agent", "version", "first event", "last event"):
        table.add_column(column, overflow="fold")
    for a in store.agents():
        table.add_row(a.agent_id, str(a.version), from_us(a.created_us).isoformat()[:19],
                      from_us(a.updated_us).isoformat()[:19])
    console.print(table)

    agent_id = CONVERSATION_AGENT
    _step(f"3. History of {agent_id} (first events)")
    table = Table()
    for column in ("version", "type", "occurred", "data"):
        table.add_column(column, overflow="fold")
    for item in store.history(agent_id, limit=12):
        data = item.data.get("content") or item.data.get("tool") or item.data.get("memory_id")
        table.add_row(str(item.version), item.type, item.recorded_at[:19],
                      " ".join(str(data).split())[:70])
    console.print(table)

    _step("4. The agent now, and at an earlier point (by version and by time)")
    now = store.context(agent_id)
    console.print(f"  now:        {_summary_line(now)}")
    _show_messages(now)
    earlier = store.context(agent_id, version=40)
    console.print(f"  version 40: {_summary_line(earlier)}")
    _show_messages(earlier)
    moment = from_us(store.index.timestamps(store.agent_at(agent_id).id, [60])[60])
    at_time = store.context(agent_id, at=moment)
    console.print(f"  at {moment.isoformat()[:19]}: {_summary_line(at_time)}")
    shown.update(now=now["version"], earlier_hash=earlier["content_hash"],
                 at_time_version=at_time["version"])

    _step("5. Capture a checkpoint (a compressed, hashed context package)")
    checkpoint = services.checkpoints.capture(agent_id, label="before-rewind")
    console.print(f"  {checkpoint.package_id} at version {checkpoint.version}: "
                  f"{checkpoint.original_size_bytes:,} bytes of canonical JSON stored in "
                  f"{checkpoint.compressed_size_bytes:,} "
                  f"(ratio {checkpoint.compression_ratio:.2f}, "
                  f"{checkpoint.space_saving:.0%} smaller, "
                  f"{checkpoint.compression_strategy}), {checkpoint.message_count} messages, "
                  f"{checkpoint.memory_count} memories", highlight=False)

    _step("6. Rewind the agent in place to version 40 (history is kept: a new event)")
    rewind = services.restore.restore(agent_id, Point(version=40), agent_id,
                                      validation_level="comprehensive")
    console.print(f"  {rewind.mode}: now version {rewind.target_version}, rebuilt from "
                  f"{rewind.base} {rewind.base_version} + {rewind.events_replayed} events in "
                  f"{rewind.duration_ms:.1f} ms; hash equals version 40's: "
                  f"{rewind.content_hash == earlier['content_hash']}", highlight=False)
    before = store.context(agent_id, version=now["version"])
    console.print(f"  the old branch is still readable: version {before['version']} has "
                  f"{len(before['messages'])} messages", highlight=False)

    fork_id = "sam-fork"
    _step(f"7. Fork the checkpoint into a new agent, {fork_id}")
    fork = services.restore.restore(None, Point(checkpoint_id=checkpoint.package_id), fork_id)
    console.print(f"  {fork.mode}: {fork_id} version {fork.target_version}, hash equals the "
                  f"checkpoint's: {fork.content_hash == checkpoint.integrity_hash}",
                  highlight=False)
    change = services.diff.diff(agent_id, Point(version=rewind.target_version),
                                Point(version=fork.target_version),
                                other_agent_id=fork_id).summary()
    console.print(f"  diff rewound {agent_id[:20]}… → {fork_id}: {change['messages_added']} "
                  f"messages and {change['tool_calls_added']} tool calls added",
                  highlight=False)
    shown.update(rewind_hash=rewind.content_hash, fork_hash=fork.content_hash,
                 checkpoint_hash=checkpoint.integrity_hash)

    _step("8. How the context evolved (projection → chart)")
    views = services.views
    projected = ProjectionWorker(store, views).run_once()
    # The trace's own period (the checkpoint and rewind above happen today).
    period = store.index.timestamps(store.agent_at(agent_id).id, [1, now["version"]])
    minute = 60_000_000
    plot = render_evolution_plot(views, agent_id, workdir / "evolution.png", bucket="minute",
                                 since_us=period[1] - period[1] % minute,
                                 until_us=period[now["version"]] + minute,
                                 title=f"{agent_id}: context evolution")
    console.print(f"  projected {projected} events; chart written to [bold]{plot}[/]")
    shown["plot"] = plot
    return shown


@friendly_errors
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo's SQLite store goes (wiped).")
                       ] = Path("var/demo"),
    samples: Annotated[Path, typer.Option(help="Trace files to import.")] = SAMPLES,
) -> None:
    """Run the main job on the embedded SQLite store with real traces: import, browse, rewind."""
    if workdir.exists():
        shutil.rmtree(workdir)
    settings = Settings(storage_backend="sqlite", storage_path=workdir)
    services = bootstrap(settings)
    console.print(f"[bold]ctxstore demo[/] — embedded SQLite store at {workdir}/")
    run_demo(services, samples, workdir)
    console.print()
    console.print(f"[green]Done.[/] Explore it yourself: CONTEXT_STORAGE_PATH={workdir} "
                  f"ctxstore agents")


def register(app: typer.Typer) -> None:
    app.command()(demo)
