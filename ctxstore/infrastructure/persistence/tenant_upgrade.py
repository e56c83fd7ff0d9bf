"""The one-off upgrade of side tables made before tenants had namespaces.

Before, event ids and package ids were global: their side tables keyed on the id alone. Now
each is keyed on (tenant, id), so two tenants may use one id. A store made before is upgraded
by the recorder at start-up, in the transaction that creates the tables: each old row gets the
tenant of its agent (from the agent catalogue, which always recorded it; rows of no known
agent, e.g. packages imported without keys, are the local tenant's). Its tables then have the
new shape, so the upgrade never runs twice; it logs one line when it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("ctxstore.upgrade")


@dataclass(frozen=True)
class TenantUpgrade:
    """One side table whose primary key gains the tenant."""

    table: str  # its name as the backend writes it (schema-qualified on PostgreSQL)
    # The new CREATE TABLE statement for a table name: SQLite rebuilds the table with it
    # (PostgreSQL alters the table in place instead).
    create: Callable[[str], str] | None
    columns: str  # its columns before the upgrade, comma-separated
    join_on: str  # how an old row `o` finds its agent `a` in the agent catalogue
    key: str = ""  # the id column the new key adds the tenant to (PostgreSQL)
    indexes: tuple[str, ...] = ()  # indexes on it to drop first (SQLite recreates them)


def log_upgrade(store: str, upgraded: Mapping[str, int | None]) -> None:
    """One line, only when some table was upgraded."""
    done = {table: rows for table, rows in upgraded.items() if rows is not None}
    if done:
        tables = ", ".join(f"{table} ({rows} rows)" for table, rows in done.items())
        log.warning("upgraded %s to per-tenant ids, once: %s", store, tables)
