"""`ctxstore demo`: the main job end to end on the embedded SQLite store, with real traces."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.rule import Rule
from rich.table import Table

from application.store import ContextStore, from_us
from infrastructure.bootstrap import build_store
from infrastructure.cli.common import console
from infrastructure.cli.errors import fail, friendly_errors
from infrastructure.cli.importing import import_paths, print_summary
from infrastructure.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "traces"
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


def run_demo(store: ContextStore, samples: Path, workdir: Path) -> dict[str, Any]:
    """The demo's steps; returns what it showed so tests can check it."""
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
    store = build_store(Settings(storage_backend="sqlite", storage_path=workdir))
    console.print(f"[bold]ctxstore demo[/] — embedded SQLite store at {workdir}/")
    run_demo(store, samples, workdir)
    console.print()
    console.print(f"[green]Done.[/] Explore it yourself: CONTEXT_STORAGE_PATH={workdir} "
                  f"ctxstore agents")


def register(app: typer.Typer) -> None:
    app.command()(demo)
