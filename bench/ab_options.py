"""The options the benches comparing two checkouts share (`restore_ab`, `fork_instructions`).

Standard library only: those benches' workers put the other checkout first on `sys.path`
before importing the project, so nothing of this checkout's may be imported by then.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def add_checkout_options(parser: argparse.ArgumentParser, *, against_required: bool) -> None:
    """--against (the other checkout), --events (the agent's size), --dsn (the database)."""
    parser.add_argument("--against", required=against_required, default=None,
                        help="the other checkout's root (a `git worktree add` of a revision)")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--dsn", default=os.environ.get("CONTEXT_DATABASE_URL", DEFAULT_DSN))
