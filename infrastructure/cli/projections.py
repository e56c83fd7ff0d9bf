"""Projection commands: run the worker, show an agent's evolution (table, analysis, chart),
search what agents saw; and the catalogue query behind `ctxstore checkpoints --filter`.

Reading commands first project whatever the views have not seen yet (safe beside a running
worker: tracking records make each event count once), so the embedded SQLite store needs no
worker process for the CLI.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ctxstore.application.context_search import ContextSearch
from ctxstore.application.store import from_us, to_us
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.cli.common import (
    console,
    parse_time,
    print_json,
    services,
    settings,
    store,
)
from ctxstore.infrastructure.cli.errors import fail, friendly_errors
from ctxstore.infrastructure.process_tuning import tune_process
from ctxstore.infrastructure.projection_worker import DEFAULT_BATCH, ProjectionWorker
from ctxstore.projections.analysis import analyse
from ctxstore.projections.catalogue import CatalogueFilter, CheckpointEntry
from ctxstore.projections.context_analysis import analyze_context_evolution, parse_period
from ctxstore.projections.evolution import BUCKETS
from ctxstore.projections.search import SearchQuery, search_text
from ctxstore.projections.views import ContextViews

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CatchUpOpt = Annotated[bool, typer.Option(
    "--catch-up/--no-catch-up", help="Project events the views have not seen yet first.")]


def views() -> ContextViews:
    return services().views


def caught_up_views(catch_up: bool = True) -> ContextViews:
    if catch_up:
        ProjectionWorker(store(), views()).run_once()
    return views()


@friendly_errors
def project(
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Drop the views and project the whole log again from zero "
        "(stop other workers first).")] = False,
    once: Annotated[bool, typer.Option(
        "--once", help="Project what is recorded now, then exit.")] = False,
    batch_size: Annotated[int, typer.Option(help="Notifications per transaction.", min=1)
                          ] = DEFAULT_BATCH,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Run the projection worker (evolution, search, checkpoint catalogue), exactly once."""
    counted = {"events": 0, "last": time.monotonic()}

    def progress(n: int, position: int) -> None:
        counted["events"] += n
        if not quiet and time.monotonic() - counted["last"] >= 2:
            counted["last"] = time.monotonic()
            console.print(f"projected up to notification {position}", highlight=False)

    worker = ProjectionWorker(store(), views(), batch_size=batch_size, on_batch=progress)
    started = time.monotonic()
    if rebuild:
        n = worker.rebuild()
        console.print(f"rebuilt the views from {n} notifications in "
                      f"{time.monotonic() - started:.1f} s", highlight=False)
    if once:
        if not rebuild:
            n = worker.run_once()
            console.print(f"projected {n} notifications; views at notification "
                          f"{worker.position}", highlight=False)
        return
    tune_process(settings())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if not quiet:
        console.print(f"projecting from notification {worker.position}; Ctrl-C stops",
                      highlight=False)
    worker.run_forever(stop)
    console.print(f"stopped at notification {worker.position}", highlight=False)


def _window(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    return (to_us(parse_time(since)) if since else None,
            to_us(parse_time(until)) if until else None)


@friendly_errors
def evolution(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    bucket: Annotated[str, typer.Option(help="minute, hour or day.")] = "hour",
    since: Annotated[str | None, typer.Option(help="From this time (ISO).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Draw a chart into FILE.png or FILE.svg.")
                    ] = None,
    analysis: Annotated[bool, typer.Option(
        "--analysis", help="Trends of size, compression, memories and tools.")] = False,
    time_period: Annotated[str | None, typer.Option(
        "--time-period", help="The last PERIOD only (P7D, PT12H, 12h, 7d, 2w, seconds); "
        "with --analysis, the seed's analysis: packages, size trend, compression efficiency, "
        "content evolution.")] = None,
    catch_up: CatchUpOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """How an agent's context evolved: per time bucket, a table, an analysis or a chart."""
    if bucket not in BUCKETS:
        fail(f"--bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        fail(f"--plot: {plot.name!r} must end in .png or .svg")
    if time_period is not None and (since or until):
        fail("--time-period: give it or --since/--until, not both")
    if store().index.agent(agent_id) is None:
        fail(f"agent {agent_id!r} has no recorded events")
    since_us, until_us = _window(since, until)
    if time_period is not None:
        period = parse_period(time_period, "--time-period")
        if analysis and plot is None:
            seed = analyze_context_evolution(
                ContextSearch(services().checkpoints), caught_up_views(catch_up), agent_id,
                period, tenant=LOCAL_TENANT, bucket=bucket)
            if as_json:
                print_json(seed)
            else:
                _print_seed_analysis(seed)
            return
        since_us = to_us(datetime.now(UTC) - period)
    result = analyse(caught_up_views(catch_up), agent_id, bucket, since_us, until_us)
    if plot is not None:
        from ctxstore.infrastructure.plotting import plot_analysis

        plot_analysis(result, plot)
        console.print(f"wrote {plot}", highlight=False)
        return
    if as_json:
        print_json(result.as_dict() if analysis else
                   [p.as_dict() for p in views().evolution(agent_id, bucket, since_us, until_us)])
        return
    if analysis:
        _print_analysis(result.as_dict())
        return
    table = Table(title=f"{agent_id}: evolution per {bucket}")
    for column in ("start", "version", "events", "msgs", "tokens", "tools", "errors",
                   "mem +/-", "live mem", "stored", "ratio", "ckpt", "restore"):
        table.add_column(column, justify="left" if column == "start" else "right")
    for w in result.windows:
        ratio = f"{w.compression_ratio:.2f}" if w.compression_ratio is not None else "-"
        table.add_row(from_us(w.start_us).strftime("%Y-%m-%d %H:%M"), str(w.version),
                      str(w.events), str(w.messages), str(w.tokens), str(w.tool_calls),
                      str(w.tool_errors), f"+{w.memories_added}/-{w.memories_forgotten}",
                      str(w.live_memories), str(w.context_stored_bytes), ratio,
                      str(w.checkpoints), str(w.restores))
    console.print(table)


def _print_analysis(data: dict[str, Any]) -> None:
    console.print(f"[bold]{data['agent_id']}[/] from {data['since']} to {data['until']} "
                  f"({len(data['windows'])} {data['bucket']} windows with events)",
                  highlight=False)
    for name, label in (("size_trend", "stored size"), ("raw_size_trend", "raw size"),
                        ("compression_trend", "compression ratio (compressed ÷ original)"),
                        ("memory_trend", "live memories")):
        t = data[name]
        if t["first"] is None:
            continue
        slope = f", {t['slope_per_hour']:+.3g}/hour" if t["slope_per_hour"] is not None else ""
        console.print(f"  {label}: {t['first']:.4g} -> {t['last']:.4g} ({t['direction']}"
                      f"{slope})", highlight=False)
    console.print(f"  memories: +{data['memories_added']} stored, -{data['memories_forgotten']} "
                  "forgotten", highlight=False)
    if data["tool_mix"]:
        mix = ", ".join(f"{tool} {n}" for tool, n in list(data["tool_mix"].items())[:8])
        console.print(f"  tool mix: {mix}", highlight=False)


def _print_seed_analysis(data: dict[str, Any]) -> None:
    efficiency = data["compression_efficiency"]
    ratio = efficiency["average_compression_ratio"]
    console.print(f"[bold]{data['agent_id']}[/] over {data['time_period']} "
                  f"(since {data['since']}): {data['total_packages']} packages"
                  + (f", average compression ratio {ratio:.3f} (compressed/original), "
                     f"{efficiency['bytes_saved']} bytes saved" if ratio is not None else ""),
                  highlight=False)
    size = data["size_trend"]
    if size["first"] is not None:
        console.print(f"  package size: {size['first']:.0f} -> {size['last']:.0f} bytes "
                      f"({size['direction']})", highlight=False)
    content = data["content_evolution"]
    for name in ("messages", "memories", "tool_invocations"):
        t = content[name]
        if t["first"] is not None:
            console.print(f"  {name.replace('_', ' ')} per package: {t['first']:.0f} -> "
                          f"{t['last']:.0f} ({t['direction']})", highlight=False)
    _print_analysis(data["analysis"])


@friendly_errors
def search(
    query: Annotated[str, typer.Argument(help='Words and "quoted phrases", all must match.')],
    agent_id: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    every: Annotated[bool, typer.Option(
        "--all", help="Every match, not only each agent's first.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many hits.", min=1)] = 50,
    catch_up: CatchUpOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Full-text search of messages and memories: when did each agent first see it?"""
    parsed = SearchQuery.parse(query, agent_id=agent_id, first_only=not every, limit=limit)
    hits = search_text(caught_up_views(catch_up), store(), parsed)
    if as_json:
        print_json([h.as_dict() for h in hits])
        return
    if not hits:
        console.print(f"no message or memory matches {query!r}", highlight=False)
        return
    title = "first seen" if not every else "matches"
    table = Table(title=f"{title}: {query}")
    table.add_column("agent", overflow="fold")
    table.add_column("version", justify="right")
    table.add_column("at")
    table.add_column("in")
    table.add_column("snippet", overflow="fold")
    for h in hits:
        table.add_row(h.agent_id, str(h.version), from_us(h.ts_us).isoformat(timespec="seconds"),
                      f"{h.source} ({h.label})" if h.label else h.source,
                      escape(" ".join(h.snippet.split())))
    console.print(table)


def catalogue_checkpoints(agent_id: str | None = None, *, created_after: str | None = None,
                          min_messages: int | None = None, access_level: str | None = None,
                          text: str | None = None, include_pruned: bool = False,
                          limit: int = 100) -> list[CheckpointEntry]:
    """The checkpoint catalogue (oldest first) behind `ctxstore checkpoints` with filters."""
    flt = CatalogueFilter(
        agent_id=agent_id,
        created_after_us=to_us(parse_time(created_after)) if created_after else None,
        min_message_count=min_messages, access_level=access_level, text=text,
        include_pruned=include_pruned, limit=limit,
    )
    return list(reversed(caught_up_views().checkpoints(flt)))


def register(app: typer.Typer) -> None:
    app.command()(project)
    app.command()(evolution)
    app.command()(search)
