"""What one migration is: a number, a name, and what it does on each backend.

A step runs inside the transaction that stamps its number, on a plain DB-API cursor (sqlite3 or
psycopg), with the store's table names; it returns a short note for the log (or None when it
found nothing to change, e.g. a store whose tables already had that shape).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoreTables:
    """The store's tables as one backend names them (quoted and schema-qualified on
    PostgreSQL, where `schema` is the plain schema name; empty on SQLite)."""

    events: str
    event_ids: str
    agents: str
    packages: str
    schema_version: str
    schema: str = ""
    part_refs: str = ""  # the part store's references (migration 3)
    parts: str = ""  # the part store's table of parts (migration 3)
    versions: str = ""  # the per-version index rows, which hold the chain's links (migration 4)
    integrity_key: bytes | None = None  # the integrity key the chain is made with (4)
    data_keys: str = ""  # the per-agent data keys (migration 5)


Apply = Callable[[Any, StoreTables], "str | None"]


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sqlite: Apply
    postgres: Apply
