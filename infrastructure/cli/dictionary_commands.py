"""`ctxstore compression train|stats|list`: trained zstd dictionaries and what they save."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ctxstore.application.dictionary_port import DEFAULT_DICTIONARY_SIZE, DEFAULT_SAMPLES
from ctxstore.infrastructure.cli.common import console, print_json, services, settings, store
from ctxstore.infrastructure.cli.errors import friendly_errors
from ctxstore.infrastructure.persistence.builtin_dictionary import (
    BUILTIN_DICTIONARY_ID,
    builtin_dictionary,
)
from ctxstore.infrastructure.persistence.dictionary_training import (
    compression_stats,
    train_dictionary,
)

compression_app = typer.Typer(help="zstd dictionaries for stored events: the built-in one and "
                              "trained ones.", no_args_is_help=True)


def dictionary_name(dict_id: int | str) -> str:
    if str(dict_id) == "0":
        return "no dictionary"
    if str(dict_id) == str(BUILTIN_DICTIONARY_ID):
        return f"the built-in dictionary ({BUILTIN_DICTIONARY_ID})"
    return f"dictionary {dict_id}"


@compression_app.command("train")
@friendly_errors
def train(
    samples: Annotated[int, typer.Option(help="Train on this many recent events.", min=1)
                       ] = DEFAULT_SAMPLES,
    size: Annotated[int, typer.Option(help="Dictionary size in bytes.", min=256)
                    ] = DEFAULT_DICTIONARY_SIZE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train a dictionary on recent events, store it and use it for new writes."""
    result = train_dictionary(store(), services().dictionaries, samples=samples,
                              size=size)
    d = result.dictionary
    pinned = settings().compression_dictionary
    note = None
    if pinned and pinned.strip().lower() not in ("latest", "newest"):
        note = (f"CONTEXT_COMPRESSION_DICTIONARY={pinned} pins another choice: processes "
                "started with it will not use the new dictionary")
    if as_json:
        print_json({"dict_id": d.dict_id, "size": d.size, "sample_count": d.sample_count,
                    "sample_bytes": result.sample_bytes, "created_at": d.created_at.isoformat(),
                    "previous_dictionary": result.previous_dictionary_id, "note": note})
        return
    console.print(f"trained dictionary {d.dict_id}: {d.size} bytes from {d.sample_count} "
                  f"events ({result.sample_bytes} bytes); new writes use it")
    if note:
        console.print(f"note: {note}")


@compression_app.command("stats")
@friendly_errors
def stats(
    limit: Annotated[int, typer.Option(help="Look at this many recent events.", min=1)
                     ] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Bytes per event stored against raw canonical JSON, and events per dictionary."""
    figures = compression_stats(store(), limit=limit).as_dict()
    if as_json:
        print_json(figures)
        return
    table = Table(title=f"compression over the latest {figures['events']} events")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("stored_bytes_per_event", "raw_json_bytes_per_event", "ratio", "encrypted",
                "active_dictionary"):
        value = figures[key]
        table.add_row(key.replace("_", " "), "none" if value is None else str(value))
    per_dict = figures["stored_bytes_per_event_by_dictionary"]
    for dict_id, count in figures["events_by_dictionary"].items():
        table.add_row(f"events with {dictionary_name(dict_id)}",
                      f"{count} ({per_dict[dict_id]} B/event)")
    console.print(table)


@compression_app.command("list")
@friendly_errors
def list_dictionaries(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The built-in dictionary, then the trained ones, oldest first; and the one new writes
    use."""
    active_id = getattr(store().compressor, "active_dictionary_id", None)
    rows = [{"dict_id": BUILTIN_DICTIONARY_ID, "created_at": None,
             "size": len(builtin_dictionary()), "sample_count": None, "built_in": True,
             "active": active_id == BUILTIN_DICTIONARY_ID}]
    rows += [{"dict_id": d.dict_id, "created_at": d.created_at.isoformat(), "size": d.size,
              "sample_count": d.sample_count, "built_in": False, "active": d.dict_id == active_id}
             for d in services().dictionaries.all()]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} dictionar{'y' if len(rows) == 1 else 'ies'}")
    for column in ("dict id", "created", "size", "samples", "active"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r["dict_id"]), "built in" if r["built_in"] else str(r["created_at"]),
                      str(r["size"]), "" if r["built_in"] else str(r["sample_count"]),
                      "yes" if r["active"] else "")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(compression_app, name="compression")
