"""One process at a time creates (or finds) a store's tables.

Processes starting together on a new store (ingest workers, the workers of `serve --workers
N`) each run the same CREATE ... IF NOT EXISTS statements, and the library's migration row of
the projections' tracking table. PostgreSQL refuses concurrent CREATE TYPE / CREATE TABLE
(duplicate pg_type keys), and on either engine the second process's migration row is refused
(IntegrityError): that process dies at start (uvicorn then restarts the worker). Held by one
process at a time, the others find everything made.

PostgreSQL: a session advisory lock on the schema (persistence.postgres.schema_setup_lock).
SQLite: an exclusive flock on the storage folder, never on the database file: closing another
descriptor of that file would drop SQLite's own POSIX locks in this process.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (made when missing) until the block ends; another
    process (or another call of this one) waits. Not re-entrant."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # lets the lock go
