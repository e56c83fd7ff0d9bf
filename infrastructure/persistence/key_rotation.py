"""Store-key rotation (`ctxstore rotate-key`): afterwards only the new key opens the store.

What is under the store key, and what happens to it:

- each agent's wrapped data key (persistence.data_keys): unwrapped with the old key and wrapped
  with the new one; the agent's rows, encrypted under the data key, are not touched (so their
  hash chain, which commits to the stored bytes, stays as it is);
- agents written before data keys (rows under the store key itself, no key row): they get a key
  row holding the old store key, wrapped with the new one; their rows too stay as they are;
- the compression dictionaries and the parts (the part table's rows, or `hybrid`'s part files,
  whose folder and table scope are named after the key): decrypted and encrypted again;
- the search index's blind tokens (keyed by the store key): the projections are rebuilt from
  the log afterwards (`ctxstore project --rebuild` does the same, if that step is interrupted).

Atomic: the database's part is one transaction (a wrong old key, or any failure, changes
nothing); part files are written under the new scope before it commits and the old ones removed
after. Every service of the store must be stopped meanwhile: one still running with the old key
would wrap a new agent's key with it. Exported `.ctxpkg` files stay under the key they were
exported with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from ctxstore.domain.agent_id import aggregate_id
from ctxstore.infrastructure.persistence.cipher import ContextCipher, DecryptionFailed
from ctxstore.infrastructure.persistence.dictionaries import TABLE as DICTIONARIES
from ctxstore.infrastructure.persistence.erasure import SQLErasure
from ctxstore.infrastructure.persistence.part_files import FilePartStore, key_scope

Progress = Callable[[str], None]
_EVERY = 1000  # a progress line every this many rows


class RotationError(ValueError):
    """Rotation refused or failed; nothing was changed. The message says why."""


@dataclass(frozen=True)
class Rotated:
    data_keys: int  # agents' data keys wrapped again
    legacy_agents: int  # agents from before data keys, given a key row (the old store key)
    dictionaries: int
    parts: int  # parts encrypted again (table rows or files)


@dataclass(frozen=True)
class PartFiles:
    """`hybrid`'s part files: the folder they are under (CONTEXT_STORAGE_PATH/parts)."""

    root: Path


def rotate(recorder: SQLErasure, old_key: str, new_key: str,
           part_files: PartFiles | None = None, progress: Progress = lambda _: None
           ) -> Rotated:
    """Put everything under the old store key under the new one (both as configured: base64
    text; see the module docstring); RotationError when the old key is not this store's."""
    old, new = ContextCipher.of_key(old_key), ContextCipher.of_key(new_key)
    if old.key == new.key:
        raise RotationError("the new key is the key the store has now")
    scopes = (key_scope(old_key), key_scope(new_key))
    written: list[Path] = []
    old_files: list[Path] = []
    try:
        with _transaction(recorder) as curs:
            keyed = _rewrap(recorder, curs, old, new, progress)
            legacy = _legacy_agents(recorder, curs, keyed, old, new)
            dictionaries = _dictionaries(recorder, curs, old, new)
            if part_files is None:
                parts = _part_rows(recorder, curs, old, new, scopes, progress)
            else:
                parts = _part_files(recorder, curs, part_files, old, new, scopes, progress,
                                    written, old_files)
    except BaseException as e:
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(e, DecryptionFailed):
            raise RotationError(f"CONTEXT_ENCRYPTION_KEY does not open this store ({e}); "
                                "nothing was changed") from None
        raise
    for path in old_files:
        path.unlink(missing_ok=True)
    return Rotated(len(keyed), legacy, dictionaries, parts)


@contextmanager
def _transaction(recorder: SQLErasure) -> Iterator[Any]:
    """One write transaction, the erasure's (SQLite zeroes what it overwrites), taking the
    data keys' table first on PostgreSQL so a writer making a key waits."""
    with recorder.rewriting() as curs:
        if recorder.dialect == "postgres":
            curs.execute(recorder.sql("LOCK TABLE {data_keys} IN EXCLUSIVE MODE"))
        yield curs


def _rows(curs: Any) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in curs.fetchall()]


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _rewrap(recorder: SQLErasure, curs: Any, old: ContextCipher, new: ContextCipher,
            progress: Progress) -> set[UUID]:
    """Every data key wrapped with the new key; the agents that have one."""
    curs.execute(recorder.sql("SELECT originator_id, wrapped FROM {data_keys}"))
    rows = _rows(curs)
    update = recorder.sql("UPDATE {data_keys} SET wrapped = ? WHERE originator_id = ?")
    batch: list[tuple[bytes, Any]] = []
    for n, (stored_id, wrapped) in enumerate(rows, 1):
        owner = _uuid(stored_id).bytes
        batch.append((new.wrap(old.unwrap(bytes(wrapped), owner), owner), stored_id))
        if len(batch) >= _EVERY or n == len(rows):
            curs.executemany(update, batch)
            batch = []
            progress(f"data keys: {n}/{len(rows)} wrapped with the new key")
    return {_uuid(r[0]) for r in rows}


def _legacy_agents(recorder: SQLErasure, curs: Any, keyed: set[UUID], old: ContextCipher,
                   new: ContextCipher) -> int:
    """Agents with rows under the store key itself: a key row holding the old key."""
    curs.execute(recorder.sql("SELECT DISTINCT originator_id FROM {events}"))
    found = {_uuid(r[0]) for r in _rows(curs)}
    curs.execute(recorder.sql("SELECT DISTINCT agent_id FROM {packages}"))
    found |= {aggregate_id(r[0]) for r in _rows(curs)}
    found -= keyed
    if not found:
        return 0
    sample = next(iter(found))
    curs.execute(recorder.sql("SELECT state FROM {events} WHERE originator_id = ?"),
                 (recorder.stored_id(sample),))
    row = curs.fetchone()
    if row is not None:  # the old key must open them: it is what their key row will hold
        old.decrypt(bytes(_first(row)))
    curs.executemany(recorder.sql("INSERT INTO {data_keys} (originator_id, wrapped) "
                                  "VALUES (?, ?)"),
                     [(recorder.stored_id(i), new.wrap(old.key, i.bytes)) for i in found])
    return len(found)


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _dictionaries(recorder: SQLErasure, curs: Any, old: ContextCipher,
                  new: ContextCipher) -> int:
    table = recorder.table(DICTIONARIES)
    if not recorder.exists(curs, DICTIONARIES):
        return 0
    curs.execute(recorder.sql("SELECT dict_id, data FROM {t}", t=table))
    rows = _rows(curs)
    curs.executemany(recorder.sql("UPDATE {t} SET data = ? WHERE dict_id = ?", t=table),
                     [(new.encrypt(old.decrypt(bytes(data))), i) for i, data in rows])
    return len(rows)


def _part_rows(recorder: SQLErasure, curs: Any, old: ContextCipher, new: ContextCipher,
               scopes: tuple[str, str], progress: Progress) -> int:
    old_scope, new_scope = scopes
    curs.execute(recorder.sql("SELECT tenant, address, data FROM {parts} WHERE scope = ?"),
                 (old_scope,))
    rows = _rows(curs)
    update = recorder.sql("UPDATE {parts} SET scope = ?, data = ? WHERE tenant = ? "
                          "AND scope = ? AND address = ?")
    for start in range(0, len(rows), _EVERY):
        chunk = rows[start:start + _EVERY]
        curs.executemany(update, [(new_scope, new.encrypt(old.decrypt(bytes(data))), tenant,
                                   old_scope, address) for tenant, address, data in chunk])
        progress(f"parts: {start + len(chunk)}/{len(rows)} encrypted with the new key")
    return len(rows)


def _part_files(recorder: SQLErasure, curs: Any, files: PartFiles, old: ContextCipher,
                new: ContextCipher, scopes: tuple[str, str], progress: Progress,
                written: list[Path], old_files: list[Path]) -> int:
    """Every referenced part file, encrypted again under the new scope's folder; adds to
    `written` each file written (removed again if the transaction fails) and to `old_files`
    each one it replaces (removed after it commits)."""
    # Only their paths are asked of them.
    before = FilePartStore(files.root, scopes[0], None, None)  # type: ignore[arg-type]
    after = FilePartStore(files.root, scopes[1], None, None)  # type: ignore[arg-type]
    curs.execute(recorder.sql("SELECT DISTINCT tenant, address FROM {part_refs}"))
    refs = _rows(curs)
    for n, (tenant, address) in enumerate(refs, 1):
        source = before.path(tenant, address)
        if not source.exists():
            continue  # a part already missing stays missing (`verify` reads report it)
        target = after.path(tenant, address)
        FilePartStore._write(target, new.encrypt(old.decrypt(source.read_bytes())))
        written.append(target)
        old_files.append(source)
        if n % _EVERY == 0 or n == len(refs):
            progress(f"part files: {n}/{len(refs)} encrypted with the new key")
    return len(written)


