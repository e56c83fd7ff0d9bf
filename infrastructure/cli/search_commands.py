"""`ctxstore memory-search`: an agent's memories at any point, ranked by the cosine similarity
of their embeddings to a query vector (application.memory_search, as over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ctxstore.application.memory_search import DEFAULT_LIMIT, MemorySearch
from ctxstore.domain.points import Point
from ctxstore.infrastructure.cli.common import console, parse_time, print_json, services
from ctxstore.infrastructure.cli.errors import fail, friendly_errors

MEMORY_KINDS = ("short_term", "long_term", "episodic", "semantic")


def _vector(embedding: str | None, embedding_file: Path | None) -> Any:
    """The query vector from `--embedding` (JSON) or `--embedding-file`, one of them."""
    if (embedding is None) == (embedding_file is None):
        fail("give --embedding '[0.1, ...]' or --embedding-file FILE.json (one of them)")
    option = "--embedding" if embedding is not None else "--embedding-file"
    text = embedding if embedding is not None else embedding_file.read_text()  # type: ignore[union-attr]
    try:
        return json.loads(text)
    except ValueError as e:
        fail(f"{option}: not JSON: {e}")


@friendly_errors
def memory_search(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    embedding: Annotated[str | None, typer.Option(
        help="The query vector as a JSON list of numbers.")] = None,
    embedding_file: Annotated[Path | None, typer.Option(
        help="A file holding the query vector (a JSON list).", exists=True, dir_okay=False)
    ] = None,
    version: Annotated[int | None, typer.Option(help="The memories at this version.", min=0)
                       ] = None,
    at: Annotated[str | None, typer.Option(help="The memories at this time (ISO).")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="The memories of this checkpoint.")
                          ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1)] = DEFAULT_LIMIT,
    min_score: Annotated[float | None, typer.Option(help="Only scores of at least this.")
                         ] = None,
    kinds: Annotated[list[str] | None, typer.Option(
        "--kind", help="Only memories of this kind (repeat).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Memories by meaning: cosine similarity of their embeddings to a query vector, now or at
    a version, time or checkpoint (a fork or restore finds what its source did)."""
    for kind in kinds or []:
        if kind not in MEMORY_KINDS:
            fail(f"--kind: {kind!r} is not one of {', '.join(MEMORY_KINDS)}")
    vector = _vector(embedding, embedding_file)
    point = Point(version=version, at=parse_time(at) if at else None, checkpoint_id=checkpoint)
    result = MemorySearch(services().restore).search(
        agent_id, vector, point=point, limit=limit, min_score=min_score, kinds=kinds or ())
    if as_json:
        print_json(result.to_dict())
        return
    table = Table(title=f"{result.agent_id} at version {result.version}: {len(result.matches)} "
                  f"of {result.compared} memories with {result.dimensions}-dimension embeddings")
    table.add_column("score", justify="right")
    table.add_column("memory", overflow="fold")
    table.add_column("kind")
    table.add_column("content", overflow="fold")
    for m in result.matches:
        table.add_row(f"{m.score:.4f}", m.memory_id, m.kind, escape(" ".join(m.content.split())))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("memory-search")(memory_search)
