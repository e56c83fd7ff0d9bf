"""Helpers shared by tests: settings for a fresh, isolated store on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg._pipeline_base import BasePipeline

from ctxstore.application.store import ContextStore
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.samples import TRACES
from ctxstore.infrastructure.settings import Settings
from devtools.services import libpq_dsn

REPO = Path(__file__).resolve().parents[1]
SAMPLES = TRACES  # the traces bundled in the package


def _shared_traces() -> Path:
    """The project's shared/data/traces: beside the repository as CI lays it out, or beside a
    folder above it (a git worktree of the repository), or where CTXSTORE_SHARED_TRACES says."""
    named = os.environ.get("CTXSTORE_SHARED_TRACES")
    candidates = [Path(named)] if named else []
    candidates += [folder / "shared" / "data" / "traces" for folder in REPO.parents]
    for candidate in candidates:
        if (candidate / "MANIFEST.tsv").is_file():
            return candidate
    return REPO.parent / "shared" / "data" / "traces"


SHARED_TRACES = _shared_traces()
# The environment variable holding this test run's token (`run_schema`).
RUN_TOKEN = "CTXSTORE_TEST_RUN"


def run_schema(name: str) -> str:
    """The name of a schema this test run makes: `t_<run>_<name>`. The run's token is kept in
    the environment, not in a module, because this module is imported under two names
    (`support` and `tests.support`); `drop_run_schemas` drops every schema of the run."""
    run = os.environ.setdefault(RUN_TOKEN, uuid.uuid4().hex[:8])
    return f"t_{run}_{name}"


def fresh_schema(dsn: str) -> str:
    """A new empty PostgreSQL schema: each test's store starts with no tables."""
    schema = run_schema(uuid.uuid4().hex[:12])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_run_schemas(dsn: str) -> list[str]:
    """Drop the schemas this run made (`run_schema`), so a developer's database does not
    collect thousands of them; returns those left because a connection still held a lock on
    them (each waits at most a second, so a leaked connection cannot hang the session's end).
    """
    run = os.environ.get(RUN_TOKEN)
    if run is None:
        return []
    left: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '1s'")
        names = [row[0] for row in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
            (f"t_{run}_",))]
        for schema in names:
            try:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            except psycopg.errors.LockNotAvailable:
                left.append(schema)
    return left


def make_settings(backend: str, tmp_path: Path, postgres_dsn: str | None = None,
                  **overrides: Any) -> Settings:
    """Settings for an isolated store: a file under tmp_path, or a fresh PostgreSQL schema."""
    if backend in ("sqlite", "file_system"):
        return Settings(storage_backend=backend, storage_path=tmp_path / "store", **overrides)
    assert postgres_dsn, "postgres backend needs the postgres_dsn fixture"
    return Settings(storage_backend=backend, database_url=postgres_dsn,
                    database_schema=fresh_schema(postgres_dsn), storage_path=tmp_path / "store",
                    **overrides)


@contextmanager
def store_opener(base: Settings) -> Iterator[Callable[..., ContextStore]]:
    """Within: open stores on `base`'s database with settings overridden (each as another
    process's store would be); all closed after."""
    stores: list[ContextStore] = []

    def open_(**overrides: Any) -> ContextStore:
        store = build_store(base.model_copy(update=overrides))
        stores.append(store)
        return store

    try:
        yield open_
    finally:
        for store in stores:
            store.close()


def user_message(agent: str, text: str) -> AnyEnvelope:
    """A user's message with a fresh event id."""
    return make_envelope(agent, "message", {"role": "user", "content": text},
                         event_id=str(uuid.uuid4()))


def run_cli(env: dict[str, str], *args: str, ok: bool = True) -> Any:
    """One `ctxstore` command in this process, with the services the last one built closed
    first (cli.common.reset: each command otherwise leaves its connection pool open);
    asserts success unless `ok` is False."""
    from typer.testing import CliRunner

    from ctxstore.infrastructure.cli import common
    from ctxstore.infrastructure.cli.main import app

    common.reset()
    result = CliRunner().invoke(app, list(args), env=env)
    if ok:
        assert result.exit_code == 0, (args, result.output)
    return result


def calls_of(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> list[tuple[Any, ...]]:
    """The arguments of each call of `target.name` from now on (each still made)."""
    made: list[tuple[Any, ...]] = []
    real = getattr(target, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return made


def end_backends(dsn: str) -> None:
    """End every other connection to the test's database, and wait until they are gone."""
    dbname = dsn.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as admin:
        assert admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchall()
        deadline = time.monotonic() + 30
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                            "AND pid <> pg_backend_pid()", (dbname,)).fetchone() != (0,):
            assert time.monotonic() < deadline, "the backends did not end"
            time.sleep(0.05)


def count_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each wait of a pipeline on the server was for, as it happens ("sync", or "flush":
    results asked for before the Sync): a round trip each. A pipeline's exit sends a Sync
    and then waits for what is left of its answers: one round trip, counted as its Sync."""
    waits: list[str] = []
    enqueue_sync = BasePipeline._enqueue_sync
    fetch_gen = BasePipeline._fetch_gen
    exit_gen = BasePipeline._exit_gen
    exiting: set[int] = set()

    def sync(self: BasePipeline) -> None:
        waits.append("sync")
        enqueue_sync(self)

    def fetch(self: BasePipeline, *, flush: bool) -> Any:
        if flush and self.result_queue and id(self) not in exiting:
            waits.append("flush")
        return (yield from fetch_gen(self, flush=flush))

    def exit_(self: BasePipeline) -> Any:
        exiting.add(id(self))
        try:
            return (yield from exit_gen(self))
        finally:
            exiting.discard(id(self))

    monkeypatch.setattr(BasePipeline, "_enqueue_sync", sync)
    monkeypatch.setattr(BasePipeline, "_fetch_gen", fetch)
    monkeypatch.setattr(BasePipeline, "_exit_gen", exit_)
    return waits
