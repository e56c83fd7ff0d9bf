"""`ctxstore migrate`: bring the store's schema to this release's version (or show where it is).

Start-up migrates the embedded SQLite store itself and refuses an older PostgreSQL schema with
one line pointing here (infrastructure.persistence.migrations.schema says why).
"""

from __future__ import annotations

from typing import Annotated

import typer

from ctxstore.infrastructure.bootstrap import store_schema
from ctxstore.infrastructure.cli.common import services, settings
from ctxstore.infrastructure.cli.errors import friendly_errors


@friendly_errors
def migrate(
    status: Annotated[bool, typer.Option(
        "--status", help="Only show the store's schema version and what would be applied.")
    ] = False,
) -> None:
    """Apply the store's pending schema migrations (back the store up first)."""
    schema = store_schema(settings())
    if status:
        now = schema.status()
        shown = "no store yet" if now.current is None else f"schema version {now.current}"
        typer.echo(f"{now.store}: {shown}; this ctxstore's is {now.latest}")
        for m in now.pending if now.current is not None else []:
            typer.echo(f"  pending {m.number}: {m.name}")
        return
    before = schema.migrate()
    if before.current is None:
        typer.echo(f"{before.store}: new store, stamped at schema version {before.latest}")
    elif before.current == before.latest:
        typer.echo(f"{before.store}: already at schema version {before.latest}")
    else:
        steps = len(before.pending)
        typer.echo(f"{before.store}: migrated from schema version {before.current} to "
                   f"{before.latest} ({steps} step{'s' if steps != 1 else ''})")


@friendly_errors
def parts_gc(
    min_age: Annotated[float, typer.Option(
        help="Leave parts younger than this many seconds (their rows may not have committed).")
    ] = 3600,
) -> None:
    """Remove the part store's parts no checkpoint refers to (`hybrid`'s files, `semantic`'s
    pieces)."""
    parts = services().checkpoints.parts
    if parts is None:
        typer.echo(f"CONTEXT_STORAGE_BACKEND={settings().storage_backend}: no part store")
        return
    removed = parts.collect(min_age)
    typer.echo(f"removed {len(removed)} part{'s' if len(removed) != 1 else ''} no row refers to")


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command("parts-gc")(parts_gc)
