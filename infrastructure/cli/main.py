"""The `ctxstore` command: one typer app; each area registers its commands from its own module."""

from __future__ import annotations

from typing import Annotated

import typer

from ctxstore.infrastructure.cli import (
    agent_file_commands,
    auto_checkpoint_commands,
    common,
    core,
    dictionary_commands,
    forget_commands,
    http,
    importing,
    key_commands,
    messaging,
    schema_commands,
    search_commands,
    verify_commands,
)
from ctxstore.infrastructure.cli import demo as demo_commands
from ctxstore.infrastructure.cli import projections as projection_commands
from ctxstore.infrastructure.cli import restore as restore_commands

app = typer.Typer(
    name="ctxstore",
    help="Event-sourced context store for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def door(tenant: Annotated[str | None, typer.Option(
        "--tenant", help="Act as this tenant (as CONTEXT_API_KEYS names it) in record, "
        "context, checkpoint(s), restore, diff, export, export-af, import, import-package and "
        "forget; default: the keyless local tenant.")] = None) -> None:
    """Event-sourced context store for AI agents."""
    common.set_tenant(tenant)


# Each area's module adds its commands here (one line each).
core.register(app)
importing.register(app)
demo_commands.register(app)
dictionary_commands.register(app)
http.register(app)
messaging.register(app)
restore_commands.register(app)
projection_commands.register(app)
schema_commands.register(app)
search_commands.register(app)
auto_checkpoint_commands.register(app)
agent_file_commands.register(app)
verify_commands.register(app)
forget_commands.register(app)
key_commands.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
