"""Checkpoint, restore, diff, export and import commands (DESIGN §3)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands import (
    Capture,
    Diff,
    ExportPackage,
    ImportPackage,
    ListCheckpoints,
    Restore,
)
from ctxstore.application.context_search import ContextSearch
from ctxstore.infrastructure.cli.common import (
    POINT_OPTIONS,
    caller,
    command,
    commands,
    console,
    parse_time,
    print_json,
    services,
)
from ctxstore.infrastructure.cli.errors import fail, friendly_errors

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def _show_checkpoint(cp: Checkpoint) -> None:
    console.print(f"checkpoint [bold]{cp.package_id}[/] of {cp.agent_id} at version "
                  f"{cp.version}" + (f" ({cp.label})" if cp.label else ""), highlight=False)
    console.print(f"  {cp.message_count} messages, {cp.memory_count} memories, "
                  f"{cp.tool_invocation_count} tool calls; {_size(cp.original_size_bytes)} -> "
                  f"{_size(cp.compressed_size_bytes)} (ratio {cp.compression_ratio}, "
                  f"{cp.space_saving:.0%} saved, "
                  f"{cp.compression_strategy}{', encrypted' if cp.is_encrypted else ''}); "
                  f"{cp.access_level}", highlight=False)
    console.print(f"  {cp.integrity_hash}", highlight=False)


@friendly_errors
def checkpoint(
    agent_id: Annotated[str, typer.Argument(help="The agent to capture.")],
    label: Annotated[str | None, typer.Option(help="A name for the checkpoint.")] = None,
    version: Annotated[int | None, typer.Option(help="Capture this version (default: now).",
                                                min=0)] = None,
    session: Annotated[str | None, typer.Option(help="Session id to file it under.")] = None,
    access_level: Annotated[str, typer.Option(help="private, shared or public.")] = "private",
    shared_with: Annotated[list[str] | None, typer.Option(
        "--shared-with", help="Repeat: a tenant a `shared` checkpoint is readable by.")] = None,
    conversation: Annotated[bool, typer.Option(
        help="Capture the messages, reasoning and tool calls.")] = True,
    memory: Annotated[bool, typer.Option(help="Capture the memories and their links.")] = True,
    mcp_state: Annotated[bool, typer.Option(help="Capture the MCP servers' states.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Take a checkpoint (context package) of an agent: the whole state, or only the parts
    chosen (a partial checkpoint, as HTTP's include_* flags make)."""
    cmd = command(Capture, {"agent_id": agent_id, "version": version, "label": label,
                            "session_id": session, "access_level": access_level,
                            "shared_with": shared_with or [],
                            "include_conversation": conversation, "include_memory": memory,
                            "include_mcp_state": mcp_state},
                  {"session_id": "--session", "label": "--label",
                   "shared_with": "--shared-with", "include_conversation": "--conversation",
                   "include_memory": "--memory", "include_mcp_state": "--mcp-state",
                   **POINT_OPTIONS})
    cp = commands().capture(caller(), cmd)
    if as_json:
        print_json(cp.to_dict())
    else:
        _show_checkpoint(cp)


@friendly_errors
def checkpoints(
    agent_id: Annotated[str | None, typer.Argument(help="Only this agent's.")] = None,
    created_after: Annotated[str | None, typer.Option(help="Created after (ISO time).")] = None,
    min_messages: Annotated[int | None, typer.Option(help="At least N messages.", min=0)] = None,
    access_level: Annotated[str | None, typer.Option(help="private, shared or public.")] = None,
    text: Annotated[str | None, typer.Option("--text", "-q", help="In label, agent, id, hash.")
                    ] = None,
    pruned: Annotated[bool, typer.Option("--pruned", help="Also those retention removed.")
                      ] = False,
    keywords: Annotated[list[str] | None, typer.Option(
        "--keyword", "-k", help="Repeat: ALL must be in the label, session, agent or the "
        "package's text (case-insensitive).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List checkpoints, oldest first (filters query the projected checkpoint catalogue)."""
    if created_after or min_messages is not None or access_level or text or pruned:
        from ctxstore.infrastructure.cli.projections import catalogue_checkpoints

        rows = [Checkpoint.from_dict(e.as_dict()) for e in catalogue_checkpoints(
            agent_id, created_after=created_after, min_messages=min_messages,
            access_level=access_level, text=text, include_pruned=pruned)]
        if keywords:
            rows = ContextSearch(services().checkpoints).with_keywords(rows, keywords)
    else:  # oldest first, as the catalogue lists them
        rows = commands().list_checkpoints(caller(), ListCheckpoints(
            agent_id=agent_id, limit=2**31, keywords=tuple(keywords or ()))).items[::-1]
    if as_json:
        print_json([cp.to_dict() for cp in rows])
        return
    table = Table(title=f"{len(rows)} checkpoints" + (f" of {agent_id}" if agent_id else ""))
    table.add_column("package id", no_wrap=True)
    table.add_column("agent", overflow="fold")
    for column in ("ver", "msgs", "size"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("label", overflow="fold")
    for cp in rows:
        label = (cp.label or "") + (" [imported]" if cp.origin == "imported" else "")
        table.add_row(cp.package_id, cp.agent_id, str(cp.version), str(cp.message_count),
                      _size(cp.compressed_size_bytes), label)
    console.print(table)


@friendly_errors
def checkpoint_prune(
    agent_id: Annotated[str | None, typer.Argument(help="Only this agent's.")] = None,
    days: Annotated[float | None, typer.Option(
        help="Remove checkpoints older than this many days (default: CONTEXT_RETENTION_DAYS).",
        min=0)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")
                       ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply checkpoint retention now: remove checkpoints older than CONTEXT_RETENTION_DAYS and
    those over CONTEXT_MAX_CHECKPOINTS_PER_AGENT (the automatic runner does this every round).
    The history keeps a CheckpointsPruned event per agent; the catalogue marks them pruned."""
    if days is not None and days <= 0:
        fail("--days: must be more than 0")
    service = services().checkpoints
    if dry_run:
        pruned, failed = service.due_for_pruning(agent_id, retention_days=days), {}
    else:
        report = service.prune(agent_id, retention_days=days)
        pruned, failed = report.pruned, report.failed
    if as_json:
        print_json({"dry_run": dry_run, "pruned": pruned, "failed": failed})
    else:
        verb = "would prune" if dry_run else "pruned"
        total = sum(len(ids) for ids in pruned.values())
        console.print(f"{verb} {total} checkpoints of {len(pruned)} agents", highlight=False)
        for agent, ids in sorted(pruned.items()):
            console.print(f"  {agent}: {', '.join(ids)}", highlight=False)
    if failed:
        fail("could not prune: " + "; ".join(f"{a}: {e}" for a, e in sorted(failed.items())))


@friendly_errors
def restore(
    source: Annotated[str | None, typer.Argument(
        help="The agent to restore from (may be left out with --checkpoint).")] = None,
    version: Annotated[int | None, typer.Option(help="Source version.", min=0)] = None,
    at: Annotated[str | None, typer.Option(help="Source state at this time (ISO).")] = None,
    checkpoint_id: Annotated[str | None, typer.Option("--checkpoint", help="Checkpoint id.")
                             ] = None,
    into: Annotated[str | None, typer.Option(
        help="Target agent (default: the source itself, a rewind).")] = None,
    merge: Annotated[bool, typer.Option(
        "--merge", help="Merge into the target's content instead of replacing it.")] = False,
    validate: Annotated[str, typer.Option(help="basic or comprehensive.")] = "basic",
    as_json: JsonOpt = False,
) -> None:
    """Restore an agent's context from a point of SOURCE (none: its latest), or from a
    checkpoint, into --into (default: SOURCE itself, a rewind), replacing or merging."""
    cmd = command(Restore, {"source_agent_id": source, "version": version,
                            "at": parse_time(at) if at else None, "package_id": checkpoint_id,
                            "target_agent_id": into,
                            "merge_strategy": "merge" if merge else "replace",
                            "validation_level": validate},
                  {"source_agent_id": "SOURCE", "target_agent_id": "--into", **POINT_OPTIONS})
    result = commands().restore(caller(), cmd)
    if as_json:
        print_json(result.to_dict())
        return
    base = (f"checkpoint {result.checkpoint_id}" if result.base == "checkpoint"
            else f"snapshot at version {result.base_version}" if result.base == "snapshot"
            else "the start of the history" if result.base == "events" else "the empty context")
    console.print(f"{result.mode}: {result.target_agent_id} is now version "
                  f"{result.target_version} with {result.source_agent_id} at version "
                  f"{result.source_version} ({result.merge_strategy})", highlight=False)
    console.print(f"  built from {base} + {result.events_replayed} events, "
                  f"{result.validation_level} validation, {result.duration_ms:.1f} ms",
                  highlight=False)
    console.print(f"  {result.content_hash}", highlight=False)


@friendly_errors
def diff(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    from_point: Annotated[str, typer.Option(
        "--from", help="Base point: a version, an ISO time, a checkpoint id or 'latest'.")],
    to_point: Annotated[str, typer.Option("--to", help="Other point (default: latest).")
                        ] = "latest",
    other: Annotated[str | None, typer.Option(help="Compare with this agent at --to.")
                     ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two points of one agent, or of two agents."""
    cmd = command(Diff, {"agent_id": agent_id, "from": from_point, "to": to_point,
                         "other_agent_id": other},
                  {"from": "--from", "to": "--to", "other_agent_id": "--other",
                   "agent_id": "AGENT_ID"})
    result = commands().diff(caller(), cmd)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"{result.base.agent_id}@{result.base.version} -> "
                  f"{result.other.agent_id}@{result.other.version}"
                  + ("  (identical content)" if result.identical else ""), highlight=False)
    table = Table()
    table.add_column("change")
    table.add_column("count", justify="right")
    table.add_column("examples", overflow="fold")
    examples: dict[str, Any] = {
        "messages_added": [m.get("content") for m in result.messages_added[:3]],
        "messages_removed": [m.get("content") for m in result.messages_removed[:3]],
        "memories_stored": list(result.memories_stored)[:3],
        "memories_updated": list(result.memories_updated)[:3],
        "memories_forgotten": list(result.memories_forgotten)[:3],
        "tool_calls_added": [c.get("tool", c["call_id"]) for c in result.tool_calls_added[:3]],
        "mcp_servers_changed": list(result.mcp_changed)[:3],
    }
    for name, count in result.summary().items():
        if count:
            shown = examples.get(name)
            table.add_row(name.replace("_", " "), str(count),
                          ", ".join(str(x)[:60] for x in shown) if shown else "")
    console.print(table)


@friendly_errors
def export(
    package_id: Annotated[str, typer.Argument(help="The checkpoint to export.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .ctxpkg file to write.")],
) -> None:
    """Export a checkpoint to a portable .ctxpkg file."""
    data = commands().export(caller(), ExportPackage(package_id))
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, output)
    console.print(f"exported {package_id} to {output} ({_size(len(data))})", highlight=False)


@friendly_errors
def import_package(
    file: Annotated[Path, typer.Argument(help="A .ctxpkg file.", exists=True, dir_okay=False)],
    as_json: JsonOpt = False,
) -> None:
    """Import a .ctxpkg file as a checkpoint of this store (verified before anything is
    written)."""
    limit = services().checkpoints.max_package_bytes
    if file.stat().st_size > limit + 2 * 1024 * 1024:
        services().checkpoints.check_size(file.stat().st_size, f"package file {file}")
    cp = commands().import_package(caller(), ImportPackage(file.read_bytes())).checkpoint
    if as_json:
        print_json(cp.to_dict())
    else:
        _show_checkpoint(cp)


def register(app: typer.Typer) -> None:
    app.command()(checkpoint)
    app.command()(checkpoints)
    app.command("checkpoint-prune")(checkpoint_prune)
    app.command()(restore)
    app.command()(diff)
    app.command()(export)
    app.command("import-package")(import_package)
