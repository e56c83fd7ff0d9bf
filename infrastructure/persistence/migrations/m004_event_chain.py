"""Migration 4: each agent's hash chain (application.chain) over the events it already holds.

The per-version index rows gain the event's `link`, the agent catalogue its `chain_head`; the
links of the events already stored are computed here, under the integrity key the migrating
process has (CONTEXT_INTEGRITY_KEY; none: plain SHA-256), as the rows stand now: the chain
proves nothing changes from here on, not that nothing changed before. An event with no index
row stays without a link, and `ctxstore verify` names it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ctxstore.application.chain import GENESIS, EventChain
from ctxstore.infrastructure.persistence.migrations.step import Migration, StoreTables
from ctxstore.infrastructure.persistence.pg_lazy import SQL

if TYPE_CHECKING:
    from psycopg import Cursor

_BATCH = 1000
_HEADS = ("UPDATE {agents} SET chain_head = (SELECT link FROM {versions} v WHERE "
          "v.originator_id = {agents}.originator_id AND v.originator_version = {agents}.version)")


def _links(chain: EventChain, rows: Iterable[tuple[Any, int, str, bytes]],
           write: Callable[[list[tuple[Any, int, bytes]]], None]) -> int:
    """Chain `rows` (ordered by aggregate, then version), writing links in batches of
    (stored id, version, link); the number of events chained."""
    batch: list[tuple[Any, int, bytes]] = []
    current, previous, count = None, GENESIS, 0
    for stored_id, version, topic, state in rows:
        if stored_id != current:
            current, previous = stored_id, GENESIS
        uid = stored_id if isinstance(stored_id, UUID) else UUID(str(stored_id))
        previous = chain.link(previous, uid, version, topic, bytes(state))
        batch.append((stored_id, version, previous))
        count += 1
        if len(batch) >= _BATCH:
            write(batch)
            batch = []
    if batch:
        write(batch)
    return count


def on_sqlite(c: sqlite3.Cursor, t: StoreTables) -> str | None:
    columns = {r[1] for r in c.execute(f"PRAGMA table_info('{t.versions}')")}
    if not columns:
        return None  # a new store: the recorder creates the tables with their chain
    if "link" not in columns:
        c.execute(f"ALTER TABLE {t.versions} ADD COLUMN link BLOB")
    if "chain_head" not in {r[1] for r in c.execute(f"PRAGMA table_info('{t.agents}')")}:
        c.execute(f"ALTER TABLE {t.agents} ADD COLUMN chain_head BLOB")
    writer = c.connection.cursor()

    def write(batch: list[tuple[Any, int, bytes]]) -> None:
        writer.executemany(f"UPDATE {t.versions} SET link = ? WHERE originator_id = ? "
                           "AND originator_version = ?", [(x[2], x[0], x[1]) for x in batch])

    reader = c.connection.cursor()
    reader.execute(f"SELECT originator_id, originator_version, topic, state FROM {t.events} "
                   "ORDER BY originator_id, originator_version")
    count = _links(EventChain(t.integrity_key), reader, write)
    c.execute(_HEADS.format(agents=t.agents, versions=t.versions))
    return _note(count, t)


def on_postgres(c: Cursor[tuple[object, ...]], t: StoreTables) -> str | None:
    row = c.execute("SELECT to_regclass(%s)", (t.versions,)).fetchone()
    if row is None or row[0] is None:
        return None
    versions, agents = SQL(t.versions), SQL(t.agents)  # type: ignore[arg-type]  # quoted
    c.execute(SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS link bytea").format(versions))
    c.execute(SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS chain_head bytea").format(agents))
    update = SQL("UPDATE {} v SET link = u.link FROM unnest(%s, %s::bigint[], %s::bytea[]) "
                 "AS u(id, version, link) WHERE v.originator_id = u.id "
                 "AND v.originator_version = u.version").format(versions)

    def write(batch: list[tuple[Any, int, bytes]]) -> None:
        c.execute(update, ([x[0] for x in batch], [x[1] for x in batch],
                           [x[2] for x in batch]))

    with c.connection.cursor(name="ctxstore_chain_migration") as reader:  # streamed
        reader.execute(SQL("SELECT originator_id, originator_version, topic, state FROM {} "
                           "ORDER BY originator_id, originator_version").format(
                               SQL(t.events)))  # type: ignore[arg-type]
        count = _links(EventChain(t.integrity_key), reader, write)  # type: ignore[arg-type]
    c.execute(SQL(_HEADS).format(agents=agents, versions=versions))
    return _note(count, t)


def _note(count: int, t: StoreTables) -> str:
    how = "HMAC-SHA-256" if t.integrity_key else "SHA-256, no integrity key"
    return f"hash chain over {count} stored events ({how})"


MIGRATION = Migration(4, "each agent's hash chain", on_sqlite, on_postgres)
