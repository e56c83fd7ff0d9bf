"""The dictionary catalog on SQLite and PostgreSQL (the composition root builds the compressor
from it: infrastructure/bootstrap.py).

Dictionaries must be loaded before the store reads its first event, so the catalog opens its
own plain connection from settings (not the eventsourcing datastore, which the store creates
later) and keeps one small table, `ctxstore_dictionaries`, beside the store's tables.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from eventsourcing.persistence import Cipher

from ctxstore.application.dictionary_port import CompressionDictionary, DictionaryCatalog
from ctxstore.infrastructure.persistence.builtin_dictionary import BUILTIN_DICTIONARY_ID
from ctxstore.infrastructure.persistence.cipher import DecryptionFailed
from ctxstore.infrastructure.persistence.pg_lazy import SQL, Identifier

if TYPE_CHECKING:
    import psycopg

TABLE = "ctxstore_dictionaries"
ZSTD_DICT_MAGIC = b"\x37\xa4\x30\xec"


class DictionarySettingError(ValueError):
    """CONTEXT_COMPRESSION_DICTIONARY names a dictionary the store does not have."""


def _row(dict_id: int, created_at: str | datetime, size: int, samples: int,
         data: bytes) -> CompressionDictionary:
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    return CompressionDictionary(int(dict_id), created_at, int(size), int(samples), bytes(data))


class SQLiteDictionaryCatalog(DictionaryCatalog):
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (dict_id INTEGER PRIMARY KEY, "
                "created_at TEXT NOT NULL, size INTEGER NOT NULL, "
                "sample_count INTEGER NOT NULL, data BLOB NOT NULL)"
            )

    def _connect(self) -> closing[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        return closing(conn)

    def add(self, dictionary: CompressionDictionary) -> None:
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO {TABLE} VALUES (?,?,?,?,?) ON CONFLICT (dict_id) DO NOTHING",
                (dictionary.dict_id, dictionary.created_at.isoformat(), dictionary.size,
                 dictionary.sample_count, dictionary.data),
            )

    def all(self) -> list[CompressionDictionary]:
        with self._connect() as conn:
            rows = conn.execute(f"SELECT * FROM {TABLE} ORDER BY created_at, dict_id").fetchall()
        return [_row(*r) for r in rows]

    def get(self, dict_id: int) -> CompressionDictionary | None:
        with self._connect() as conn:
            row = conn.execute(f"SELECT * FROM {TABLE} WHERE dict_id = ?", (dict_id,)).fetchone()
        return _row(*row) if row else None


class PostgresDictionaryCatalog(DictionaryCatalog):
    def __init__(self, dsn: str, schema: str = "public"):
        self.dsn = dsn
        self.table = SQL("{}.{}").format(Identifier(schema), Identifier(TABLE))
        with self._connect() as conn:
            conn.execute(
                SQL("CREATE TABLE IF NOT EXISTS {} (dict_id bigint PRIMARY KEY, "
                    "created_at timestamptz NOT NULL, size integer NOT NULL, "
                    "sample_count integer NOT NULL, data bytea NOT NULL)").format(self.table)
            )

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg  # the PostgreSQL catalog alone (pg_lazy)

        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)

    def add(self, dictionary: CompressionDictionary) -> None:
        with self._connect() as conn:
            conn.execute(
                SQL("INSERT INTO {} VALUES (%s,%s,%s,%s,%s) ON CONFLICT (dict_id) DO NOTHING")
                .format(self.table),
                (dictionary.dict_id, dictionary.created_at, dictionary.size,
                 dictionary.sample_count, dictionary.data),
            )

    def all(self) -> list[CompressionDictionary]:
        with self._connect() as conn:
            rows = conn.execute(
                SQL("SELECT * FROM {} ORDER BY created_at, dict_id").format(self.table)
            ).fetchall()
        return [_row(*r) for r in rows]  # type: ignore[arg-type]

    def get(self, dict_id: int) -> CompressionDictionary | None:
        with self._connect() as conn:
            row = conn.execute(
                SQL("SELECT * FROM {} WHERE dict_id = %s").format(self.table), (dict_id,)
            ).fetchone()
        return _row(*row) if row else None  # type: ignore[arg-type]


class EncryptedDictionaryCatalog(DictionaryCatalog):
    """Dictionaries encrypted at rest: trained on events, they hold fragments of their text."""

    def __init__(self, inner: DictionaryCatalog, cipher: Cipher):
        self.inner = inner
        self.cipher = cipher

    def add(self, dictionary: CompressionDictionary) -> None:
        self.inner.add(replace(dictionary, data=self.cipher.encrypt(dictionary.data)))

    def _open(self, dictionary: CompressionDictionary) -> CompressionDictionary:
        try:
            return replace(dictionary, data=self.cipher.decrypt(dictionary.data))
        except DecryptionFailed:
            if dictionary.data.startswith(ZSTD_DICT_MAGIC):
                return dictionary  # stored before encryption was turned on
            raise

    def all(self) -> list[CompressionDictionary]:
        return [self._open(d) for d in self.inner.all()]

    def get(self, dict_id: int) -> CompressionDictionary | None:
        found = self.inner.get(dict_id)
        return self._open(found) if found else None


def chosen_dictionary(setting: str | None, stored: list[CompressionDictionary],
                      fallback: int | None = BUILTIN_DICTIONARY_ID) -> int | None:
    """The dictionary new writes use: CONTEXT_COMPRESSION_DICTIONARY, else the newest one
    trained, else `fallback` (the built-in one; a checkpoint body's codec has none)."""
    choice = (setting or "").strip().lower()
    if choice in ("", "latest", "newest"):
        return stored[-1].dict_id if stored else fallback
    if choice == "none":
        return None
    if choice in ("builtin", "built-in"):
        return BUILTIN_DICTIONARY_ID
    try:
        dict_id = int(choice)
    except ValueError:
        raise DictionarySettingError(
            f"CONTEXT_COMPRESSION_DICTIONARY must be a dictionary id, 'latest', 'builtin' or "
            f"'none', not {setting!r}"
        ) from None
    if dict_id != BUILTIN_DICTIONARY_ID and dict_id not in {d.dict_id for d in stored}:
        known = ", ".join(str(d.dict_id) for d in stored) or "none trained yet"
        raise DictionarySettingError(
            f"CONTEXT_COMPRESSION_DICTIONARY: dictionary {dict_id} is not stored ({known}; "
            f"{BUILTIN_DICTIONARY_ID} is the built-in one)"
        )
    return dict_id
