"""Core commands: record an event, list agents, page history, show the context at a point."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer
from rich.table import Table

from ctxstore.application.commands import ReadContext, RecordEvents
from ctxstore.domain import bounds
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.bounds import check_version
from ctxstore.infrastructure.cli.common import (
    POINT_OPTIONS,
    caller,
    command,
    commands,
    console,
    format_us,
    parse_time,
    print_json,
    store,
)
from ctxstore.infrastructure.cli.errors import fail, friendly_errors


def _short(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@friendly_errors
def record(
    agent_id: Annotated[str, typer.Argument(help="The agent the event belongs to.")],
    type_: Annotated[str, typer.Option("--type", "-t", help="Event type, e.g. message.")],
    data: Annotated[str, typer.Option("--data", "-d", help="The event's data as JSON.")],
    event_id: Annotated[str | None, typer.Option(help="Idempotency key (default: new UUID).")
                        ] = None,
    session_id: Annotated[str | None, typer.Option("--session", help="Session id.")] = None,
    occurred_at: Annotated[str | None, typer.Option("--at", help="When it happened (ISO).")
                           ] = None,
) -> None:
    """Record one event for an agent."""
    try:
        payload, _ = bounds.loads(data, "--data")
    except ValueError as e:  # OutOfBounds too: nesting past the bound
        fail(f"--data is not valid JSON: {e}")
    raw: dict[str, Any] = {"event_id": event_id or str(uuid.uuid4()), "agent_id": agent_id,
                           "type": type_, "data": payload}
    if session_id:
        raw["session_id"] = session_id
    if occurred_at:
        raw["occurred_at"] = parse_time(occurred_at).isoformat()
    report = commands().record(caller(), RecordEvents(agent_id, (raw,)))
    outcome = report.outcomes[0]
    if report.verdict == "partly_rejected":
        fail(outcome.reason or "rejected")
    if outcome.status == "duplicate":
        console.print(f"duplicate: event {outcome.event_id} was already recorded"
                      + (f" as version {outcome.version}" if outcome.version else ""))
    else:
        console.print(f"recorded {agent_id} version {outcome.version}")


@friendly_errors
def agents(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the tenant's agents (`ctxstore --tenant T agents`) with their versions."""
    # As the tenant knows them: its own, by agent id (keys of other tenants never show).
    rows = sorted(((plain_agent_id(a.agent_id), a) for a in store().agents(caller().tenant)),
                  key=lambda row: row[0])
    if as_json:
        print_json([{"agent_id": name, "version": a.version,
                     "created_at": format_us(a.created_us), "updated_at": format_us(a.updated_us)}
                    for name, a in rows])
        return
    table = Table(title=f"{len(rows)} agents")
    for column in ("agent", "version", "first event", "last event"):
        table.add_column(column, justify="right" if column == "version" else "left")
    for name, a in rows:
        table.add_row(name, str(a.version), format_us(a.created_us), format_us(a.updated_us))
    console.print(table)


@friendly_errors
def history(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    after: Annotated[int, typer.Option("--after", help="Start after this version.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many events.", min=1)] = 50,
    types: Annotated[list[str] | None, typer.Option("--type", help="Only these types.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Page through an agent's events in order."""
    if store().index.agent(agent_id) is None:
        fail(f"agent {agent_id!r} has no recorded events")
    items = store().history(agent_id, after_version=check_version(after, "--after"),
                            limit=limit, types=types)
    if as_json:
        print_json([item.__dict__ for item in items])
        return
    table = Table(title=f"{agent_id}: events after version {after}")
    table.add_column("version", justify="right")
    table.add_column("type")
    table.add_column("at")
    table.add_column("data", overflow="fold")
    for item in items:
        table.add_row(str(item.version), item.type, item.recorded_at[:19], _short(item.data))
    console.print(table)


@friendly_errors
def context(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    version: Annotated[int | None, typer.Option(help="The state at this version.", min=0)
                       ] = None,
    at: Annotated[str | None, typer.Option(help="The state at this time (ISO 8601).")] = None,
    checkpoint_id: Annotated[str | None, typer.Option(
        "--checkpoint", help="The state this checkpoint holds.")] = None,
    tail: Annotated[int | None, typer.Option(
        help="Only the last N messages and what belongs to them (their tool calls, open tool "
        "calls, each reasoning thread's last N steps), with all memories, links and MCP "
        "state.")] = None,
    since_version: Annotated[int | None, typer.Option(
        help="Instead of the state: the events after this version (printed as JSON).")
                             ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole state as JSON.")
                       ] = False,
) -> None:
    """Show an agent's context now, at a version, at a time or at a checkpoint."""
    cmd = command(ReadContext, {"agent_id": agent_id, "version": version,
                                "at": parse_time(at) if at else None,
                                "package_id": checkpoint_id, "tail": tail,
                                "since_version": since_version},
                  {**POINT_OPTIONS, "tail": "--tail", "since_version": "--since-version"})
    state = commands().read(caller(), cmd)
    if as_json or since_version is not None:
        print_json(state)
        return
    console.print(f"[bold]{agent_id}[/] at version {state['version']} "
                  f"(as of {state['as_of']})  {state['content_hash']}")
    if "window" in state:
        window = state["window"]
        console.print(f"  window: the last {len(state['messages'])} of "
                      f"{window['messages_total']} messages")
    console.print(f"  {len(state['messages'])} messages, {len(state['reasoning'])} reasoning "
                  f"threads, {len(state['tool_calls'])} tool calls, {len(state['memories'])} "
                  f"memories, {len(state['memory_links'])} links, "
                  f"{len(state['mcp_servers'])} MCP servers")
    for message in state["messages"][-5:]:
        console.print(f"  [cyan]{message['role']:>9}[/] {_short(message['content'], 100)}",
                      highlight=False)
    for memory_id, memory in list(state["memories"].items())[:5]:
        console.print(f"  [magenta]{memory['kind']:>9}[/] {memory_id}: "
                      f"{_short(memory['content'], 80)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(record)
    app.command()(agents)
    app.command()(history)
    app.command()(context)
