"""PostgreSQL `text` cannot hold U+0000, which valid JSON strings (and so events) may.

The events keep it (their state is bytea). The projections' tables are read models made for
search and charts: there a NUL becomes U+FFFD, the replacement character, on write and in the
queries that look text up, so one spelling serves both and a NUL never fails a projection
round (which would stop the projection for every agent after it) or a search (a 500).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NUL = "\x00"
REPLACEMENT = "\ufffd"


def pg_text(value: Any) -> Any:
    """A string as PostgreSQL text can hold it; anything else unchanged."""
    if isinstance(value, str) and NUL in value:
        return value.replace(NUL, REPLACEMENT)
    return value


def pg_params(params: Sequence[Any]) -> list[Any]:
    """Query parameters (scalars, or lists of them for unnest) with every string made text-safe."""
    return [[pg_text(v) for v in p] if isinstance(p, list) else pg_text(p) for p in params]


class TextSafeCursor:
    """A cursor whose `execute` makes its parameters text-safe (pg_params) first."""

    def __init__(self, cursor: Any):
        self._cursor = cursor

    def execute(self, query: Any, params: Sequence[Any] = (), **kwargs: Any) -> Any:
        return self._cursor.execute(query, pg_params(params), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)
