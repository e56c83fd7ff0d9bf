"""Core commands: record, agents, history, context (the importer adds `import`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Placeholder until the core commands land."""
