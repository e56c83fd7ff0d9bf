"""`ctxstore ingest`, `ctxstore dlq list|replay` and `ctxstore asyncapi`: the NATS side."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure import event_loop
from ctxstore.infrastructure.bootstrap import build_subjects, open_jetstream
from ctxstore.infrastructure.cli.errors import fail, friendly_errors
from ctxstore.infrastructure.cli.supervise import Supervisor, share_partitions
from ctxstore.infrastructure.messaging.probe import nats_info
from ctxstore.infrastructure.process_tuning import tune_process
from ctxstore.infrastructure.settings import load_settings

TENANT_HELP = "The tenant whose dead letters (ctx.t.<tenant>.dlq.*); default the local one."

# The modules that import nats-py or FastStream (the NATS door) are imported inside the
# commands that use them: every other command would pay ~0.1-0.2 s to import them.

dlq_app = typer.Typer(help="Inspect and replay the dead-letter stream (CTX_DLQ).",
                      no_args_is_help=True)


def _subjects(*, fit: bool = False) -> Any:
    """The settings, the subjects, and why there are fewer partitions than set (None: there
    are not); with `fit`, fitted to the server when it answers (ingest shares partitions out
    among processes before connecting, so a default partition count falls back here already,
    and `partitions` shows the ones ingest uses)."""
    from ctxstore.infrastructure.messaging.streams import fit_to_server

    settings = load_settings()
    subjects = build_subjects(settings)
    limited: str | None = None
    if fit and subjects.transformed:
        info = nats_info(settings.nats_url.split(",")[0])
        if info is not None and "version" in info:
            fitted = fit_to_server(subjects, str(info["version"]))
            if fitted != subjects:
                settings = settings.model_copy(update={"nats_partitions": fitted.partitions})
                subjects = fitted
                limited = (f"nats-server {info['version']} cannot partition agents: the "
                           "server must be 2.10 or later to partition (stream subject "
                           "transforms); run one process")
    return settings, subjects, limited


@friendly_errors
def ingest(
    partitions: Annotated[str, typer.Option(
        help="Partitions this worker consumes: 'all', 'i/n' (p % n == i), '0-3' or '0,2'. "
        "Give each worker its own share so every partition has exactly one.")] = "all",
    batch_size: Annotated[int, typer.Option(help="Most events per transaction.", min=1)] = 2000,
    fetch_size: Annotated[int, typer.Option(help="Most messages per pull.", min=1)] = 500,
    rpc: Annotated[bool, typer.Option(help="Also answer ctx.rpc.* requests.")] = True,
    announce: Annotated[bool, typer.Option(help="Announce ctx.recorded.<agent_id>.")] = True,
    log_level: Annotated[str, typer.Option(help="Python log level.")] = "INFO",
    processes: Annotated[str, typer.Option(
        help="Worker processes, each consuming its own share of these partitions: a number, "
        "or 'auto' for one per CPU core. A worker uses about one core; crashed ones are "
        "restarted.")] = "1",
    lease_seconds: Annotated[float, typer.Option(
        help="A worker holds its partitions by a lease renewed several times within this; "
        "another worker on the same partitions waits as a standby and takes over this long "
        "after the holder dies.", min=1.0)] = 10.0,
    lease_holder: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Record events from JetStream into the store (CONTEXT_* settings); stop with Ctrl-C."""
    from ctxstore.infrastructure.bootstrap import build_messaging_app
    from ctxstore.infrastructure.messaging.app import parse_partitions
    from ctxstore.infrastructure.messaging.ingest import IngestOptions

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings, subjects, limited = _subjects(fit=True)
    chosen = parse_partitions(partitions, subjects.partitions)
    count = _process_count(processes, len(chosen) if chosen else subjects.partitions)
    if count > 1:
        from ctxstore.infrastructure.messaging.leases import default_holder

        shares = share_partitions(chosen or list(range(subjects.partitions)), count,
                                  limited=limited)
        supervisor = default_holder()  # unique even across hosts that share a name
        commands = [
            [sys.executable, "-m", "ctxstore", "ingest",
             "--partitions", ",".join(map(str, share)), "--batch-size", str(batch_size),
             "--fetch-size", str(fetch_size), "--rpc" if rpc and i == 0 else "--no-rpc",
             "--announce" if announce else "--no-announce", "--log-level", log_level,
             "--lease-seconds", str(lease_seconds),
             # A restarted worker takes back the leases of the one it replaces at once.
             "--lease-holder", f"{supervisor}:worker-{i}"]
            for i, share in enumerate(shares)  # one answers ctx.rpc.*, as one worker would
        ]
        raise typer.Exit(Supervisor(commands).run())
    options = IngestOptions(max_event_bytes=settings.max_event_bytes,
                            max_clock_skew_seconds=settings.max_clock_skew_seconds,
                            batch_size=batch_size, fetch_size=fetch_size, announce=announce,
                            lease_seconds=lease_seconds, lease_holder=lease_holder)
    app, runtime = build_messaging_app(settings, partitions=chosen, options=options, rpc=rpc)
    tune_process(settings)
    event_loop.run(app.run())  # on uvloop where installed, as `serve` runs
    if runtime.failure is not None:
        fail(f"ingest stopped: {runtime.failure}")


def _process_count(spec: str, partitions: int) -> int:
    if spec.strip().lower() == "auto":
        return max(1, min(os.cpu_count() or 1, partitions))
    try:
        count = int(spec)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"--processes {spec!r}: expected a number of at least 1, or 'auto'")
    return count


async def _with_js(fn: Any, *, fit: bool = False) -> Any:
    """`fn(jetstream, subjects)` over a short-lived connection the composition root opens."""
    settings, subjects, _ = _subjects(fit=fit)
    async with open_jetstream(settings) as js:
        return await fn(js, subjects)


@dlq_app.command("list")
@friendly_errors
def dlq_list(
    agent: Annotated[str | None, typer.Option(help="Only this agent token.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    tenant: Annotated[str, typer.Option(help=TENANT_HELP)] = LOCAL_TENANT,
) -> None:
    """Dead letters with their sequence, reason and original subject."""
    from ctxstore.infrastructure.messaging.dlq import list_dead_letters

    async def run(js: Any, subjects: Any) -> Any:
        return await list_dead_letters(js, subjects, agent_id=agent, limit=limit,
                                       tenant=tenant)

    entries = asyncio.run(_with_js(run))
    for e in entries:
        if as_json:
            typer.echo(json.dumps({
                "seq": e.seq, "subject": e.subject, "error": e.error,
                "original_subject": e.original_subject,
                "time": e.time.isoformat() if e.time else None,
                "body": e.data.decode("utf-8", errors="replace")}))
        else:
            typer.echo(f"{e.seq}\t{e.original_subject}\t{e.error}")
    if not as_json:
        typer.echo(f"{len(entries)} dead letter(s)", err=True)


@dlq_app.command("replay")
@friendly_errors
def dlq_replay(
    seq: Annotated[list[int] | None, typer.Argument(help="DLQ sequence numbers to replay.")]
    = None,
    agent: Annotated[str | None, typer.Option(help="Replay every dead letter of this agent.")]
    = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
    tenant: Annotated[str, typer.Option(help=TENANT_HELP)] = LOCAL_TENANT,
) -> None:
    """Republish dead letters to their original subject (after a fix) and remove them."""
    from ctxstore.infrastructure.messaging.dlq import list_dead_letters, replay_dead_letters

    if not seq and not agent and not all_:
        fail("say which dead letters to replay: sequence numbers, --agent or --all")

    async def run(js: Any, subjects: Any) -> Any:
        entries = await list_dead_letters(js, subjects, agent_id=agent, tenant=tenant)
        if seq:
            wanted = set(seq)
            missing = wanted - {e.seq for e in entries}
            if missing:
                raise ValueError(f"no dead letter with sequence {sorted(missing)}")
            entries = [e for e in entries if e.seq in wanted]
        return await replay_dead_letters(js, subjects, entries)

    done = asyncio.run(_with_js(run))
    for entry, ack in done:
        typer.echo(f"{entry.seq}\t-> {entry.original_subject}\t(stream seq {ack.seq})")
    typer.echo(f"replayed {len(done)} dead letter(s)", err=True)


@friendly_errors
def partitions(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Each partition's consumer: the worker holding it, and what waits or is in flight."""
    from ctxstore.infrastructure.messaging.status import partition_status

    rows = asyncio.run(_with_js(partition_status, fit=True))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.as_dict()))
        return

    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    typer.echo("partition\twaiting\tunacked\tacked through\tworker")
    for row in rows:
        # The consumers beside the partitions': "stray" (malformed subjects) and "tenants"
        name = row.consumer.rsplit("-", 1)[1] if row.partition is None else str(row.partition)
        typer.echo(f"{name}\t{shown(row.waiting)}\t{shown(row.unacknowledged)}\t"
                   f"{shown(row.acknowledged_through)}\t{row.holder or '(none)'}")
    idle = [str(r.partition) for r in rows if r.partition is not None and r.holder is None]
    if idle:
        typer.echo(f"no worker holds partition(s) {', '.join(idle)}: start `ctxstore ingest`",
                   err=True)


@friendly_errors
def asyncapi(
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write here instead of stdout.")] = None,
    yaml: Annotated[bool, typer.Option(help="YAML instead of JSON.")] = False,
) -> None:
    """The AsyncAPI 3 document of the NATS interface, generated from the code."""
    from ctxstore.infrastructure.messaging.asyncapi import asyncapi_spec

    settings, subjects, _ = _subjects()
    spec = asyncapi_spec(settings.nats_url.split(","), subjects).to_specification()
    text = spec.to_yaml() if yaml else json.dumps(spec.to_jsonable(), indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("partitions")(partitions)
    app.add_typer(dlq_app, name="dlq")
    app.command("asyncapi")(asyncapi)
