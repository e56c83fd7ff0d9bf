"""`ctxstore serve` runs the automatic checkpoint runner for as long as it serves: a changed agent
is checkpointed by the server itself, expired checkpoints are pruned, and shutdown stops the
runner. One real `ctxstore serve` process, and one in-process uvicorn server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from restore_support import Kit, msg, new_agent
from test_restore_retention import backdate

from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.http.app import create_app
from devtools.services import free_port

CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False


def envelope(agent: str, text: str) -> dict[str, object]:
    return {"event_id": str(uuid.uuid4()), "agent_id": agent, "type": "message",
            "data": {"role": "user", "content": text}}


def test_serve_checkpoints_changed_agents_by_itself(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    idle = new_agent("idle")
    kit.store.record([msg(idle, "old news")])
    expired = kit.checkpoints.capture(idle).package_id
    backdate(kit, [expired], days=31)
    s = kit.settings
    port = free_port()
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": s.storage_backend,
           "CONTEXT_STORAGE_PATH": str(s.storage_path), "CONTEXT_DATABASE_URL": s.database_url,
           "CONTEXT_DATABASE_SCHEMA": s.database_schema,
           "CONTEXT_CHECKPOINT_INTERVAL_MINUTES": "0.01"}  # 0.6 s
    server = subprocess.Popen([CTXSTORE, "serve", "--port", str(port), "--log-level", "warning"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{url}/healthz"))
        agent = new_agent("served")
        with httpx.Client(base_url=url, timeout=30) as client:
            # One batch, so the runner (every 0.6 s) can only ever see the agent at version 2:
            # two requests let a slow machine's runner checkpoint version 1 in between.
            response = client.post(f"/api/v1/agents/{agent}/events",
                                   json=[envelope(agent, text) for text in ("hello", "world")])
            assert response.status_code == 201, response.text
        # Nothing asked for a checkpoint: the server's runner takes one, and prunes the
        # expired one of the idle agent (without checkpointing the idle agent again).
        wait_for(lambda: len(kit.checkpoints.list(agent)) == 1)
        (auto,) = kit.checkpoints.list(agent)
        assert (auto.label, auto.version, auto.message_count) == ("auto", 2, 2)
        wait_for(lambda: kit.checkpoints.list(idle) == [])
        time.sleep(1.5)  # two more rounds: nothing changed, nothing taken
        assert len(kit.checkpoints.list(agent)) == 1 and kit.checkpoints.list(idle) == []
        assert server.poll() is None
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output = server.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, output


def test_shutdown_stops_the_runner(kit: Kit) -> None:
    settings = kit.settings.model_copy(update={"checkpoint_interval_minutes": 0.005})
    app = create_app(bootstrap(settings, store=kit.store), close_on_shutdown=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    runner = app.state.checkpoint_runner
    assert runner is not None and runner.running
    assert runner.interval_seconds == pytest.approx(0.3)
    agent = new_agent()
    kit.store.record([msg(agent, "hi")])
    wait_for(lambda: len(kit.checkpoints.list(agent)) == 1)
    server.should_exit = True
    thread.join(timeout=20)
    assert not thread.is_alive() and not runner.running
    kit.store.record([msg(agent, "after")])
    time.sleep(0.8)
    assert len(kit.checkpoints.list(agent)) == 1  # stopped with the server

    # CONTEXT_CHECKPOINT_INTERVAL_MINUTES=0: no default rounds (agents' own schedules still
    # run: test_restore_auto_schedules).
    off = kit.settings.model_copy(update={"checkpoint_interval_minutes": 0})
    runner = bootstrap(off, store=kit.store).runner
    assert runner is not None and runner.interval_seconds is None
