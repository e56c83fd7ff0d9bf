"""A client written from the seed's plan alone (shared/seed/context-restoration-plan.txt), run
against the real `ctxstore serve` in its own process, configured by the plan's environment block
(its setting names and values). Nothing here imports the server's code: the client knows only
the plan's routes, bodies, query parameters, WebSocket messages and its tests' assertions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from seed_client import SeedClient

from devtools.services import free_port, libpq_dsn
from tests.support import run_schema

DEADLINE = 120.0  # seconds: an upper bound on waiting for the server, never a measurement

# The plan's "Environment Variables" block, as written (CONTEXT_STORAGE_PATH is made absolute
# under the test's folder; the backend is parametrised over the plan's three names).
PLAN_ENVIRONMENT = {
    "CONTEXT_COMPRESSION_STRATEGY": "semantic",
    "CONTEXT_DEFAULT_COMPRESSION_RATIO": "0.3",
    "CONTEXT_ENCRYPTION_ENABLED": "false",
    "CONTEXT_CHECKPOINT_INTERVAL_MINUTES": "30",
    "CONTEXT_MAX_CHECKPOINTS_PER_AGENT": "10",
}


@pytest.fixture(scope="module", params=["file_system", "database", "hybrid"])
def seed(request: pytest.FixtureRequest, postgres_dsn: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedClient]:
    backend = str(request.param)
    tmp = tmp_path_factory.mktemp(f"seed-{backend}")
    schema = run_schema(f"seed_{backend}")
    env = {**os.environ, **PLAN_ENVIRONMENT, "CONTEXT_STORAGE_BACKEND": backend,
           "CONTEXT_STORAGE_PATH": str(tmp / "data" / "context_packages"),
           "CONTEXT_DATABASE_URL": postgres_dsn, "CONTEXT_DATABASE_SCHEMA": schema}
    env.pop("CONTEXT_API_KEYS", None)
    if backend != "file_system":  # database and hybrid keep events in PostgreSQL
        with psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
    port = free_port()
    log = (tmp / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "ctxstore", "serve", "--port", str(port),
                               "--log-level", "warning"],
                              cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            assert server.poll() is None, (tmp / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with SeedClient(base) as client:
            yield client
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
        if backend != "file_system":
            with psycopg.connect(libpq_dsn(postgres_dsn), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def traces() -> Path:
    return Path(__file__).resolve().parents[2] / "ctxstore/infrastructure/samples/traces"
