"""A SIGTERM'd `ctxstore serve` lets the automatic checkpoint round in progress finish before it
closes the store: stopping the schedule comes first, closing the pool after (the other order
ran, or broke, a round on a closed pool)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
from served import CTXSTORE, answers, serve_env
from support import fresh_schema

from ctxstore.infrastructure.persistence.dsn import libpq_dsn
from devtools.services import free_port

WAITING = "waiting for the automatic checkpoint round in progress"


def wait_for(what: str, predicate: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def auto_checkpoints(dsn: str, schema: str) -> int:
    with psycopg.connect(dsn) as conn:
        # Only automatic ones are taken here.
        return int(conn.execute(f'SELECT count(*) FROM "{schema}".ctxstore_packages'  # noqa: S608
                                ).fetchone()[0])  # type: ignore[index]


def waiting_on_schedules(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                           "to_regclass(%s)", (f'"{schema}".ctxstore_schedules',)).fetchone()
    return bool(row and row[0])


def test_a_round_in_progress_at_sigterm_finishes_before_the_store_closes(
        tmp_path: Path, postgres_dsn: str) -> None:
    dsn = libpq_dsn(postgres_dsn)
    schema = fresh_schema(dsn)
    env = serve_env(tmp_path, CONTEXT_STORAGE_BACKEND="postgres",
                    CONTEXT_DATABASE_URL=postgres_dsn, CONTEXT_DATABASE_SCHEMA=schema,
                    CONTEXT_CHECKPOINT_INTERVAL_MINUTES="0.005",  # a round every 0.3 s
                    CONTEXT_CHECKPOINT_POLL_SECONDS="0.2")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen([CTXSTORE, "serve", "--port", str(port)], env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
    blocker = psycopg.connect(dsn)
    try:
        wait_for("serve", lambda: answers(f"{url}/healthz") or serve.poll() is not None)
        assert serve.poll() is None, log.read_text()

        def say(event_id: str) -> None:
            httpx.post(f"{url}/api/v1/agents/bot-1/events", timeout=30, json={
                "event_id": event_id, "agent_id": "bot-1", "type": "message",
                "data": {"role": "user", "content": event_id}}).raise_for_status()

        say("e1")
        wait_for("a first automatic checkpoint", lambda: auto_checkpoints(dsn, schema) == 1)
        # Hold the rounds up where they read or write the schedules, with a change to
        # capture, then stop the server while one waits.
        blocker.execute(f'LOCK TABLE "{schema}".ctxstore_schedules IN ACCESS EXCLUSIVE MODE')
        say("e2")
        wait_for("a round waiting on the lock", lambda: waiting_on_schedules(dsn, schema))
        serve.send_signal(signal.SIGTERM)
        wait_for("serve to wait for the round (or exit)",
                 lambda: WAITING in log.read_text() or serve.poll() is not None)
        blocker.rollback()  # the round goes on
        assert serve.wait(timeout=120) in (0, -signal.SIGTERM), log.read_text()
    finally:
        blocker.close()
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    text = log.read_text()
    assert "ERROR" not in text and "Traceback" not in text, text
    assert WAITING in text, text  # the store stayed open until the round ended
