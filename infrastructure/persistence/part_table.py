"""The part store as a table beside the events (application.part_port): the `sqlite` /
`file_system` and `postgres` / `database` backends'.

Rows `(tenant, scope, address, data, created_us)`, where scope is the data key's fingerprint
(part_files.key_scope): a part is found only within its tenant and key. References live in the
part-reference table the package rows write (migration 3). `ensure`, `release` and `collect`
hold the tenant's part lock (persistence.part_lock) and do their work in its transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Literal

from ctxstore.application.package_port import PackageRecorder
from ctxstore.application.part_port import (
    BASE_OWNER,
    PART_OWNER,
    Children,
    PartMissing,
    PartStore,
    check_address,
)
from ctxstore.infrastructure.persistence.part_lock import PartGuard, PartLock
from ctxstore.infrastructure.persistence.pg_arrays import bytea_array, text_array
from ctxstore.infrastructure.persistence.pg_lazy import SQL

if TYPE_CHECKING:
    from psycopg.sql import Composable

_CHUNK = 500  # addresses per statement (SQLite's bound-parameter limit)
_TEXTS = 4096  # statement texts kept (one per template and count of marks: a few hundred)

# Statements with `?` parameters and {parts}/{refs} tables, for both backends.
_HELD = "SELECT address FROM {parts} WHERE tenant = ? AND scope = ? AND address IN ({marks})"
_GET = "SELECT address, data FROM {parts} WHERE tenant = ? AND scope = ? AND address IN ({marks})"
# PostgreSQL: one lookup of the whole key per address, whatever the planner knows (OFFSET 0
# keeps it a lookup), so a question costs what it asks, not what the tenant stores. With
# `address = ANY(?)` and no statistics (a new table, or autovacuum off) it scanned every part
# of the tenant testing each against the array: at 7,386 parts (a 100k-event agent) 3.9 ms
# for 64 addresses, 132 ms for 1,024 and 555 ms for all of them, where the lookups took 1.6,
# 20 and 119 ms; with statistics both cost the same.
_LOOKUP = ("SELECT {columns} FROM unnest(?::text[]) AS wanted(address) CROSS JOIN LATERAL "
           "(SELECT address, data FROM {parts} WHERE tenant = ? AND scope = ? "
           "AND address = wanted.address OFFSET 0) AS p")
_LOOKUPS = {_HELD: _LOOKUP.replace("{columns}", "p.address"),
            _GET: _LOOKUP.replace("{columns}", "p.address, p.data")}
_PUT = ("INSERT INTO {parts} (tenant, scope, address, data, created_us) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING")
_REFER = ("INSERT INTO {refs} (tenant, package_id, address) VALUES (?, ?, ?) "
          "ON CONFLICT DO NOTHING")
_REFER_ARRAYS = ("INSERT INTO {refs} (tenant, package_id, address) "
                 "SELECT ?, o, a FROM unnest(?::text[], ?::text[]) AS r(o, a) "
                 "ON CONFLICT DO NOTHING")
# PostgreSQL, within `referring` (releases kept out until it commits): a level's rows go in
# with its question (a data-modifying WITH runs to its end whatever the query reads).
_REFERRING = "WITH r AS (" + _REFER_ARRAYS + ") "
# PostgreSQL: a keep's parts in one statement (it was a statement of the pipeline a part),
# up to _PUT_BYTES of them: an array is one value, which PostgreSQL bounds at 1 GB.
_PUT_BYTES = 64 * 1024 * 1024
_PUT_ARRAYS = ("INSERT INTO {parts} (tenant, scope, address, data, created_us) "
               "SELECT ?, ?, a, d, ? FROM unnest(?::text[], ?::bytea[]) AS p(a, d) "
               "ON CONFLICT DO NOTHING")
_UNREFERENCED = ("NOT EXISTS (SELECT 1 FROM {refs} AS r "
                 "WHERE r.tenant = {parts}.tenant AND r.address = {parts}.address)")
_RELEASE = ("DELETE FROM {parts} WHERE tenant = ? AND scope = ? AND address IN ({marks}) AND "
            + _UNREFERENCED + " RETURNING address")
_DROP_OWNED = "DELETE FROM {refs} WHERE tenant = ? AND package_id IN ({marks}) RETURNING address"
# The `base:` rows to these parts, of those no other row refers to (PartStore.bases).
_IS_BASE = f"substr({{alias}}.package_id, 1, {len(BASE_OWNER)}) = '{BASE_OWNER}'"
_BASED_ONLY = ("SELECT b.package_id, b.address FROM {refs} AS b WHERE b.tenant = ? "
               "AND b.address IN ({marks}) AND " + _IS_BASE.replace("{alias}", "b")
               + " AND NOT EXISTS (SELECT 1 FROM {refs} AS r WHERE r.tenant = b.tenant "
               "AND r.address = b.address AND NOT " + _IS_BASE.replace("{alias}", "r") + ")")
_OLD_TENANTS = ("SELECT DISTINCT tenant FROM {parts} WHERE scope = ? AND created_us < ? AND "
                + _UNREFERENCED)
_COLLECT = ("DELETE FROM {parts} WHERE tenant = ? AND scope = ? AND created_us < ? AND "
            + _UNREFERENCED + " RETURNING address")
_COUNT = "SELECT count(*) AS n FROM {parts} WHERE scope = ?"
# `base:` rows whose own node is gone: left by a release of a release before bases (which
# dropped only `part:` rows), they would keep their base forever. (A keep commits its base
# rows with its parts, so a committed one has its node.)
_NO_NODE = ("NOT EXISTS (SELECT 1 FROM {parts} AS p WHERE p.tenant = b.tenant "
            f"AND p.address = substr(b.package_id, {len(BASE_OWNER) + 1}))")
_ORPHAN_BASE_TENANTS = ("SELECT DISTINCT b.tenant FROM {refs} AS b WHERE "
                        + _IS_BASE.replace("{alias}", "b") + " AND " + _NO_NODE)
_DROP_ORPHAN_BASES = ("DELETE FROM {refs} AS b WHERE b.tenant = ? AND "
                      + _IS_BASE.replace("{alias}", "b") + " AND " + _NO_NODE
                      + " RETURNING address")


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield list(items[i:i + _CHUNK])


def _by_size(parts: Sequence[tuple[str, bytes]], most: int
             ) -> Iterator[Sequence[tuple[str, bytes]]]:
    """`parts` in order, in runs of at most `most` bytes (a bigger part alone)."""
    start, size = 0, 0
    for i, (_, data) in enumerate(parts):
        if size and size + len(data) > most:
            yield parts[start:i]
            start, size = i, 0
        size += len(data)
    yield parts[start:]


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _stored(rows: Iterable[Any]) -> dict[str, bytes]:
    """`_GET`'s rows (dicts or tuples) as address -> stored bytes."""
    return {(r["address"] if isinstance(r, dict) else r[0]):
            bytes(r["data"] if isinstance(r, dict) else r[1]) for r in rows}


class TablePartStore(PartStore):
    def __init__(self, datastore: Any, dialect: Literal["sqlite", "postgres"],
                 parts_table: str | Composable, refs_table: str | Composable, scope: str,
                 lock: PartLock, guard: PartGuard | None = None):
        self.datastore = datastore
        self.dialect = dialect
        self.parts_table = parts_table
        self.refs_table = refs_table
        self.scope = scope
        self.lock = lock
        self.guard = guard  # the lock held shared by `referring` (PostgreSQL)
        self._reader = threading.local()  # the cursor `reading` shares, per thread
        self._referrer = threading.local()  # the cursor `referring` shares, per thread
        self._texts: dict[tuple[str, int], Any] = {}  # `_sql`'s
        self._children: Children | None = None  # `bases`: what a stored root refers to

    def _sql(self, template: str, marks: int = 0) -> Any:
        """A statement's text, made once per template and count (PostgreSQL: as bytes, which
        psycopg converts once; a composed query it walked again at every call)."""
        made = self._texts.get((template, marks))
        if made is None:
            text = template.replace("{marks}", ",".join("?" * marks))
            if self.dialect == "sqlite":
                made = text.format(parts=self.parts_table, refs=self.refs_table)
            else:
                made = SQL(text.replace("?", "%s")).format(  # type: ignore[arg-type]
                    parts=self.parts_table, refs=self.refs_table).as_bytes(None)
            if len(self._texts) < _TEXTS:
                self._texts[(template, marks)] = made
        return made

    def _select(self, curs: Any, template: str, tenant: str, addresses: Collection[str],
                referring: Collection[tuple[str, str]] = ()) -> list[Any]:
        """The rows of `template` for `addresses`; `referring` (PostgreSQL's lookups only):
        reference rows inserted by the same statement, before its answer is read."""
        wanted = sorted(set(map(check_address, addresses)))
        lookup = _LOOKUPS.get(template) if self.dialect == "postgres" else None
        if lookup is not None:
            before: list[Any] = self._refer_params(tenant, referring) if referring else []
            # Rows as tuples: the library's cursor makes a dict of each.
            from psycopg.rows import tuple_row  # the PostgreSQL path alone (pg_lazy)

            with curs.connection.cursor(row_factory=tuple_row) as plain:
                plain.execute(self._sql(_REFERRING + lookup if referring else lookup),
                              [*before, text_array(wanted), tenant, self.scope],
                              binary=True, prepare=True)
                return plain.fetchall()
        assert not referring, "rows go in with a lookup on PostgreSQL only"
        if self.dialect == "postgres":
            # One array parameter: one statement text whatever the count, so the server
            # prepares it once (a list of marks was a new statement to parse each time); and
            # bytea as it is in binary results (in text ones: hex, twice the bytes). Arrays
            # packed (pg_arrays): psycopg's list dumper tests every text with a regex.
            curs.execute(self._sql(template.replace("IN ({marks})", "= ANY(?)")),
                         [tenant, self.scope, text_array(wanted)], binary=True)
            return list(curs.fetchall())
        rows: list[Any] = []
        for chunk in _chunks(wanted):
            curs.execute(self._sql(template, len(chunk)), [tenant, self.scope, *chunk])
            rows.extend(curs.fetchall())
        return rows

    def refer_then_held(self, refs: PackageRecorder, tenant: str,
                        rows: Collection[tuple[str, str]], addresses: Collection[str]
                        ) -> set[str]:
        # One transaction, the references' table being beside the parts' (`refs` writes
        # into the same table this names): `referring`'s when within it.
        with self._cursor(self._referrer) as curs:
            if rows and addresses and getattr(self._referrer, "guarded", False):
                # No release runs before this commits: the rows going in with the question
                # is what they do as statements of that transaction one after the other.
                return {_first(r) for r in self._select(curs, _HELD, tenant, addresses, rows)}
            self._refer(curs, tenant, rows)
            if not addresses:
                return set()
            return {_first(r) for r in self._select(curs, _HELD, tenant, addresses)}

    @staticmethod
    def _refer_params(tenant: str, rows: Collection[tuple[str, str]]) -> list[Any]:
        """_REFER_ARRAYS' parameters: the rows (owner, address), each once, in order."""
        pairs = sorted(set(rows))
        return [tenant, text_array([o for o, _ in pairs]), text_array([a for _, a in pairs])]

    def _refer(self, curs: Any, tenant: str, rows: Collection[tuple[str, str]]) -> None:
        """Insert reference rows (owner, address), each once."""
        if rows and self.dialect == "postgres":
            curs.execute(self._sql(_REFER_ARRAYS), self._refer_params(tenant, rows),
                         prepare=True)
        elif rows:
            curs.executemany(self._sql(_REFER), [(tenant, o, a) for o, a in sorted(set(rows))])

    @contextmanager
    def referring(self, tenant: str) -> Iterator[bool]:
        # PostgreSQL only: a SQLite transaction that wrote holds the database's one write
        # lock, which the levels' questions between the writes would keep from others.
        if self.dialect != "postgres" or self.guard is None:
            yield False
            return
        if getattr(self._referrer, "curs", None) is not None:
            raise RuntimeError("referring: already within it on this thread")
        with self._shared(self._referrer):
            # What refers to its rows commits after it: its commit need not wait for the
            # disk (async_commit), set by the guard's statement.
            self.guard(self._referrer.curs, tenant)
            self._referrer.guarded = True
            try:
                yield True
            finally:
                self._referrer.guarded = False

    @contextmanager
    def _cursor(self, local: threading.local) -> Iterator[Any]:
        """`local`'s shared cursor within its block (`_shared`), else one of its own: a
        reader's (`_lookups`), a referrer's transaction."""
        shared = getattr(local, "curs", None)
        if shared is not None:
            yield shared
            return
        with self._lookups() if local is self._reader \
                else self.datastore.transaction(commit=True) as curs:
            yield curs

    @contextmanager
    def _lookups(self) -> Iterator[Any]:
        """A cursor for reads. PostgreSQL: of a pooled connection (autocommit, the
        library's) outside any transaction, each lookup a statement of its own: a read
        transaction added BEGIN and COMMIT, two round trips of a fork's dozen, and kept
        nothing consistent that is not so already (parts never change under their address,
        and under READ COMMITTED each statement saw a snapshot of its own all the same).
        SQLite: the library's read transaction."""
        if self.dialect != "postgres":
            with self.datastore.transaction(commit=False) as curs:
                yield curs
            return
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            yield curs

    @contextmanager
    def _shared(self, local: threading.local) -> Iterator[None]:
        """Within: this thread's statements that look for `local.curs` share its cursor
        (the outermost opens it): the reader's one connection, the referrer's one
        transaction."""
        if getattr(local, "curs", None) is not None:
            yield
            return
        with self._lookups() if local is self._reader else self._transaction() as curs:
            local.curs = curs
            try:
                yield
            finally:
                local.curs = None

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """The library's transaction, committed; PostgreSQL: in one pipeline
        (`pipelined_transaction`), so the statements whose results are not read (BEGIN, the
        lock, the reference rows, the parts, COMMIT) go with the next that is, not a round
        trip each: a keep is then one round trip a question it asks plus the commit's. The
        server still runs them in order, one by one."""
        pipelines = False
        if self.dialect == "postgres":
            # psycopg's, imported on this path alone (pg_lazy)
            from ctxstore.infrastructure.persistence.pipeline_mode import (
                PIPELINES,
                pipelined_transaction,
            )
            pipelines = PIPELINES
        if not pipelines:
            with self.datastore.transaction(commit=True) as curs:
                yield curs
            return
        with self.datastore.get_connection() as conn, pipelined_transaction(conn):
            yield conn.cursor()

    def put_then_ensure(self, tenant: str, levels: Iterable[Mapping[str, bytes]],
                        relied: Collection[str], encode: Callable[[str], bytes]) -> None:
        # Under the lock no release runs: what is found held stays, and the parts put are
        # held together when the transaction commits.
        parts = {a: d for level in levels for a, d in level.items()}
        wanted = set(relied) | set(parts)
        if not wanted:
            return
        with self.lock(tenant) as curs:
            held = {_first(r) for r in self._select(curs, _HELD, tenant, wanted)}
            self._put(curs, tenant, {a: parts[a] if a in parts else encode(a)
                                     for a in wanted - held})

    def held(self, tenant: str, addresses: Collection[str]) -> set[str]:
        with self._lookups() as curs:
            return {_first(r) for r in self._select(curs, _HELD, tenant, addresses)}

    def _put(self, curs: Any, tenant: str, parts: Mapping[str, bytes]) -> None:
        now = int(time.time() * 1_000_000)
        ordered = sorted(parts.items())
        if ordered and self.dialect == "postgres":
            for chunk in _by_size(ordered, _PUT_BYTES):
                curs.execute(self._sql(_PUT_ARRAYS),
                             [tenant, self.scope, now,
                              text_array([check_address(a) for a, _ in chunk]),
                              bytea_array([data for _, data in chunk])],
                             binary=True, prepare=True)
        elif ordered:
            curs.executemany(self._sql(_PUT), [(tenant, self.scope, check_address(a), data, now)
                                               for a, data in ordered])

    def put_many(self, tenant: str, parts: Mapping[str, bytes]) -> None:
        if parts:
            with self._cursor(self._referrer) as curs:  # `referring`: its rows'
                self._put(curs, tenant, parts)

    def put_levels(self, tenant: str, levels: Iterable[Mapping[str, bytes]]) -> None:
        # One transaction: every level commits at once, so none is held before another.
        parts = {a: d for level in levels for a, d in level.items()}
        self.put_many(tenant, parts)

    def get(self, tenant: str, address: str) -> bytes:
        return self.get_many(tenant, [address])[address]

    def reading(self) -> AbstractContextManager[None]:
        return self._shared(self._reader)

    def get_many(self, tenant: str, addresses: Collection[str]) -> dict[str, bytes]:
        with self._cursor(self._reader) as curs:
            found = _stored(self._select(curs, _GET, tenant, addresses))
        missing = set(addresses) - set(found)
        if missing:
            raise PartMissing(f"{len(missing)} part(s) missing from the part table, e.g. "
                              f"{min(missing)}")
        return found

    def ensure(self, tenant: str, addresses: Collection[str],
               encode: Callable[[str], bytes]) -> None:
        if not addresses:
            return
        with self.lock(tenant) as curs:
            held = {_first(r) for r in self._select(curs, _HELD, tenant, addresses)}
            self._put(curs, tenant, {a: encode(a) for a in set(addresses) - held})

    def bases(self, children: Children) -> bool:
        self._children = children
        # Only where a keep holds releases out (`referring`): its base, found held, stays.
        return self.dialect == "postgres" and self.guard is not None

    def release(self, tenant: str, addresses: Collection[str]) -> list[str]:
        removed: list[str] = []
        if not addresses:
            return removed
        with self.lock(tenant) as curs:
            todo: set[str] = set(addresses)
            asked: set[str] = set()
            while todo:
                asked |= todo
                # A statement begun after the lock: it sees every reference committed before.
                gone = [_first(row) for row in self._select(curs, _RELEASE, tenant, todo)]
                removed.extend(gone)
                # What the removed parts referred to goes too, when nothing else refers to it.
                todo = self._drop_owned(curs, tenant, gone)
                if not todo and self._children is not None:
                    # What only roots based on it keep: they refer to their tops themselves
                    # from now on, and it is asked again.
                    todo = self._rebase(curs, tenant, asked.difference(removed))
        return sorted(removed)

    def _drop_owned(self, curs: Any, tenant: str, parts: Iterable[str],
                    prefixes: tuple[str, ...] = (PART_OWNER, BASE_OWNER)) -> set[str]:
        """Delete the rows these parts own (`part:` and `base:`, or `prefixes`); what they
        referred to."""
        referred: set[str] = set()
        for chunk in _chunks(sorted(prefix + a for a in parts for prefix in prefixes)):
            curs.execute(self._sql(_DROP_OWNED, len(chunk)), [tenant, *chunk])
            referred.update(_first(r) for r in curs.fetchall())
        return referred

    def _rebase(self, curs: Any, tenant: str, held: Collection[str]) -> set[str]:
        """Give each node (root or group node) based on one of `held` that only `base:` rows
        keep its own `part:` rows and drop its base; the parts no longer kept by a base.
        Under the lock."""
        if not held or self._children is None:
            return set()
        based: set[str] = set()
        for chunk in _chunks(sorted(held)):
            curs.execute(self._sql(_BASED_ONLY, len(chunk)), [tenant, *chunk])
            based.update(_first(r)[len(BASE_OWNER):] for r in curs.fetchall())
        if not based:
            return set()
        stored = _stored(self._select(curs, _GET, tenant, based))
        self._refer(curs, tenant, [(PART_OWNER + node, child) for node, data in stored.items()
                                   for child in self._children(data)])
        # A node no longer held (its base row outlived it) just loses the row.
        return self._drop_owned(curs, tenant, based, (BASE_OWNER,))

    def collect(self, min_age_seconds: float = 3600) -> list[str]:
        before = int((time.time() - min_age_seconds) * 1_000_000)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(_OLD_TENANTS), [self.scope, before])
            tenants = sorted(_first(r) for r in curs.fetchall())
        removed: list[str] = []
        for tenant in tenants:
            with self.lock(tenant) as curs:
                curs.execute(self._sql(_COLLECT), [tenant, self.scope, before])
                removed.extend(_first(r) for r in curs.fetchall())
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(_ORPHAN_BASE_TENANTS))
            based = sorted(_first(r) for r in curs.fetchall())
        for tenant in based:
            with self.lock(tenant) as curs:
                curs.execute(self._sql(_DROP_ORPHAN_BASES), [tenant])
                bases = {_first(r) for r in curs.fetchall()}
            removed.extend(self.release(tenant, bases))  # after: it takes the lock itself
        return sorted(removed)

    def count(self, tenant: str | None = None) -> int:
        template = _COUNT + (" AND tenant = ?" if tenant is not None else "")
        params = [self.scope] + ([tenant] if tenant is not None else [])
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(template), params)
            return int(_first(curs.fetchone()))
