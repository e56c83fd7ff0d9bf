"""Automatic checkpoint schedules (application.schedule_port) as a table beside the events, on
SQLite, PostgreSQL and in memory.

Mixed into the store recorders, so every process on a store reads and claims the same rows. A
brand-new table, created with the others (CREATE TABLE IF NOT EXISTS, as the operation log):
no existing row changes shape, so no migration step is needed; an older release ignores it.

The claim is one conditional UPDATE: on PostgreSQL, in the store's pool under READ COMMITTED, a
second claimant blocks on the row lock the first holds and then re-reads the row, finds the
round no longer due and updates nothing; on SQLite it runs under BEGIN IMMEDIATE (the database's
write lock is taken before the row is read). Either way one claimant wins each round.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from eventsourcing.sqlite import SQLiteDatastore

from ctxstore.application.schedule_port import (
    DEFAULT_SCHEDULE,
    Schedule,
    ScheduleStore,
    next_slot,
)
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresDatastore
    from psycopg.sql import Composed

COLUMNS = ("agent_id", "tenant", "interval_us", "max_checkpoints", "next_due_us", "started_us",
           "last_round_us", "last_package_id", "last_capture_us", "last_error")
_SETTABLE = ("tenant", "interval_us", "max_checkpoints", "next_due_us", "started_us")


def _schedule(r: Any) -> Schedule:
    v = tuple(r.values()) if isinstance(r, dict) else tuple(r)
    return Schedule(agent_id=v[0], tenant=v[1], interval_us=int(v[2]),
                    max_checkpoints=int(v[3]), next_due_us=int(v[4]), started_us=int(v[5]),
                    last_round_us=None if v[6] is None else int(v[6]), last_package_id=v[7],
                    last_capture_us=None if v[8] is None else int(v[8]), last_error=v[9])


def _values(s: Schedule) -> tuple[Any, ...]:
    return (s.agent_id, s.tenant, s.interval_us, s.max_checkpoints, s.next_due_us,
            s.started_us, s.last_round_us, s.last_package_id, s.last_capture_us, s.last_error)


def _claim_sql(table: str, p: str) -> str:
    """The claim (see the module's docstring); `p` is the driver's placeholder."""
    interval = f"coalesce(CAST({p} AS BIGINT), interval_us)"
    return (f"UPDATE {table} SET next_due_us = CASE WHEN next_due_us + {interval} > {p} "
            f"THEN next_due_us + {interval} ELSE {p} + {interval} END "
            f"WHERE agent_id = {p} AND next_due_us <= {p} RETURNING {', '.join(COLUMNS)}")


def _claim_params(agent_id: str, now_us: int, interval_us: int | None) -> tuple[Any, ...]:
    return (interval_us, now_us, interval_us, now_us, interval_us, agent_id, now_us)


def _upsert_sql(table: str, p: str, replace_existing: bool) -> str:
    conflict = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _SETTABLE)
                if replace_existing else "DO NOTHING")
    return (f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES "
            f"({', '.join([p] * len(COLUMNS))}) ON CONFLICT (agent_id) {conflict}")


def _record_sql(table: str, p: str) -> str:
    # A round that took nothing keeps the last checkpoint a round took.
    return (f"UPDATE {table} SET last_round_us = {p}, last_error = CAST({p} AS TEXT), "
            f"last_package_id = coalesce(CAST({p} AS TEXT), last_package_id), "
            f"last_capture_us = CASE WHEN CAST({p} AS TEXT) IS NULL THEN last_capture_us "
            f"ELSE {p} END "
            f"WHERE agent_id = {p}")


def _record_params(agent_id: str, round_us: int, package_id: str | None, error: str | None
                   ) -> tuple[Any, ...]:
    return (round_us, error, package_id, package_id, round_us, agent_id)


def _select_sql(table: str, where: str) -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM {table} {where} ORDER BY agent_id"


class SQLiteSchedules(ScheduleStore):
    """Mixed into the SQLite store recorder (its `datastore`): table `<prefix>_schedules`."""

    datastore: SQLiteDatastore
    schedules_table: str

    def schedule_table_statements(self, prefix: str) -> list[str]:
        self.schedules_table = t = f"{prefix}_schedules"
        return [
            f"CREATE TABLE IF NOT EXISTS {t} (agent_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
            "interval_us INTEGER NOT NULL, max_checkpoints INTEGER NOT NULL, "
            "next_due_us INTEGER NOT NULL, started_us INTEGER NOT NULL, "
            "last_round_us INTEGER, last_package_id TEXT, last_capture_us INTEGER, "
            "last_error TEXT)",
        ]

    def _write(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """One statement under BEGIN IMMEDIATE (the write lock before any read)."""
        with self.datastore.get_connection(commit=True) as conn:
            c = conn.cursor()
            try:
                c.execute("BEGIN IMMEDIATE")
                c.execute(sql, params)
                rows = list(c.fetchall())
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                c.sqlite_cursor.close()
        return rows

    def put_schedule(self, schedule: Schedule) -> None:
        self._write(_upsert_sql(self.schedules_table, "?", True), _values(schedule))

    def add_schedule(self, schedule: Schedule) -> None:
        self._write(_upsert_sql(self.schedules_table, "?", False), _values(schedule))

    def delete_schedule(self, agent_id: str) -> bool:
        return bool(self._write(f"DELETE FROM {self.schedules_table} WHERE agent_id = ? "
                                "RETURNING agent_id", (agent_id,)))

    def select_schedules(self, tenant: str | None = None) -> list[Schedule]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self.datastore.transaction(commit=False) as c:
            c.execute(_select_sql(self.schedules_table, where), params)
            return [_schedule(r) for r in c.fetchall()]

    def select_schedule(self, agent_id: str) -> Schedule | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(_select_sql(self.schedules_table, "WHERE agent_id = ?"), (agent_id,))
            row = c.fetchone()
        return _schedule(row) if row else None

    def claim_round(self, agent_id: str, now_us: int, interval_us: int | None = None
                    ) -> Schedule | None:
        rows = self._write(_claim_sql(self.schedules_table, "?"),
                           _claim_params(agent_id, now_us, interval_us))
        return _schedule(rows[0]) if rows else None

    def record_round(self, agent_id: str, round_us: int, package_id: str | None,
                     error: str | None) -> None:
        self._write(_record_sql(self.schedules_table, "?"),
                    _record_params(agent_id, round_us, package_id, error))


class PostgresSchedules(ScheduleStore):
    """Mixed into the PostgreSQL store recorder (its `datastore`), in the store's schema."""

    datastore: PostgresDatastore
    schedules_table: Composed

    def schedule_table_statements(self, prefix: str) -> list[Composed]:
        self.schedules_table = t = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                                       Identifier(f"{prefix}_schedules"))
        return [SQL(
            "CREATE TABLE IF NOT EXISTS {} (agent_id text PRIMARY KEY, tenant text NOT NULL, "
            "interval_us bigint NOT NULL, max_checkpoints integer NOT NULL, "
            "next_due_us bigint NOT NULL, started_us bigint NOT NULL, last_round_us bigint, "
            "last_package_id text, last_capture_us bigint, last_error text)").format(t)]

    def _run(self, sql: str, params: tuple[Any, ...], *, commit: bool) -> list[Any]:
        """One statement in a transaction of the store's pool (READ COMMITTED)."""
        query = SQL(sql).format(self.schedules_table)  # type: ignore[arg-type]
        with self.datastore.transaction(commit=commit) as curs:
            curs.execute(query, params)
            return list(curs.fetchall()) if curs.description is not None else []

    def put_schedule(self, schedule: Schedule) -> None:
        self._run(_upsert_sql("{}", "%s", True), _values(schedule), commit=True)

    def add_schedule(self, schedule: Schedule) -> None:
        self._run(_upsert_sql("{}", "%s", False), _values(schedule), commit=True)

    def delete_schedule(self, agent_id: str) -> bool:
        return bool(self._run("DELETE FROM {} WHERE agent_id = %s RETURNING agent_id",
                              (agent_id,), commit=True))

    def select_schedules(self, tenant: str | None = None) -> list[Schedule]:
        where, params = ("WHERE tenant = %s", (tenant,)) if tenant is not None else ("", ())
        return [_schedule(r) for r in self._run(_select_sql("{}", where), params,
                                                commit=False)]

    def select_schedule(self, agent_id: str) -> Schedule | None:
        rows = self._run(_select_sql("{}", "WHERE agent_id = %s"), (agent_id,), commit=False)
        return _schedule(rows[0]) if rows else None

    def claim_round(self, agent_id: str, now_us: int, interval_us: int | None = None
                    ) -> Schedule | None:
        rows = self._run(_claim_sql("{}", "%s"), _claim_params(agent_id, now_us, interval_us),
                         commit=True)
        return _schedule(rows[0]) if rows else None

    def record_round(self, agent_id: str, round_us: int, package_id: str | None,
                     error: str | None) -> None:
        self._run(_record_sql("{}", "%s"), _record_params(agent_id, round_us, package_id, error),
                  commit=True)


class MemorySchedules(ScheduleStore):
    """Mixed into the in-memory store recorder: the rows in a dict, claimed under a lock."""

    _schedules: dict[str, Schedule]
    _schedules_lock: threading.Lock

    def put_schedule(self, schedule: Schedule) -> None:
        with self._schedules_lock:
            held = self._schedules.get(schedule.agent_id)
            self._schedules[schedule.agent_id] = schedule if held is None else replace(
                held, **{c: getattr(schedule, c) for c in _SETTABLE})

    def add_schedule(self, schedule: Schedule) -> None:
        with self._schedules_lock:
            self._schedules.setdefault(schedule.agent_id, schedule)

    def delete_schedule(self, agent_id: str) -> bool:
        with self._schedules_lock:
            return self._schedules.pop(agent_id, None) is not None

    def select_schedules(self, tenant: str | None = None) -> list[Schedule]:
        with self._schedules_lock:
            return [s for _, s in sorted(self._schedules.items())
                    if tenant is None or s.tenant == tenant]

    def select_schedule(self, agent_id: str) -> Schedule | None:
        with self._schedules_lock:
            return self._schedules.get(agent_id)

    def claim_round(self, agent_id: str, now_us: int, interval_us: int | None = None
                    ) -> Schedule | None:
        with self._schedules_lock:
            held = self._schedules.get(agent_id)
            if held is None or held.next_due_us > now_us:
                return None
            every = held.interval_us if interval_us is None else interval_us
            claimed = self._schedules[agent_id] = replace(
                held, next_due_us=next_slot(held.next_due_us, every, now_us))
            return claimed

    def record_round(self, agent_id: str, round_us: int, package_id: str | None,
                     error: str | None) -> None:
        with self._schedules_lock:
            held = self._schedules.get(agent_id)
            if held is not None:
                self._schedules[agent_id] = replace(
                    held, last_round_us=round_us, last_error=error,
                    last_package_id=package_id or held.last_package_id,
                    last_capture_us=round_us if package_id else held.last_capture_us)


__all__ = ["DEFAULT_SCHEDULE", "MemorySchedules", "PostgresSchedules", "SQLiteSchedules"]
