"""The `ctxstore` command: one typer app; each area registers its commands from its own module."""

from __future__ import annotations

import typer

from ctxstore.infrastructure.cli import (
    core,
    dictionary_commands,
    http,
    importing,
    messaging,
    schema_commands,
    search_commands,
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


if __name__ == "__main__":  # pragma: no cover
    app()
