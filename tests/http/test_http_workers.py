"""`ctxstore serve --workers 2`, a real process with two uvicorn workers over one PostgreSQL
store: /metrics from either worker counts both, a WebSocket follower on one worker sees events
recorded through the other, and an automatic checkpoint round runs once, not once per worker.

Which worker takes a connection is the kernel's choice, so the tests learn it from the workers'
own metric files (PROMETHEUS_MULTIPROC_DIR, one set of files per worker pid): they open fresh
connections until the case they need has happened, then check what must hold.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from support import make_settings
from test_http_serve_security import running
from websockets.sync.client import connect

from ctxstore.application.commands import LOCAL, StartAutoCheckpoints
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.settings import Settings


@dataclass
class Workers:
    url: str
    metrics_dir: Path
    settings: Settings
    log: Path

    def per_worker(self, name: str) -> dict[int, float]:
        """A metric's value in each worker (by pid), summed over its labels, from that
        worker's own files."""
        pids = {int(f.stem.rsplit("_", 1)[1]) for f in self.metrics_dir.glob("*.db")}
        values: dict[int, float] = {}
        for pid in pids:
            files = [str(f) for f in self.metrics_dir.glob(f"*_{pid}.db")]
            values[pid] = sum(s.value for m in MultiProcessCollector.merge(files)
                              for s in m.samples if s.name == name)
        return values


def env_of(settings: Settings, metrics_dir: Path, **extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CONTEXT_")},
            "CONTEXT_STORAGE_BACKEND": "postgres",
            "CONTEXT_DATABASE_URL": settings.database_url,
            "CONTEXT_DATABASE_SCHEMA": settings.database_schema,
            "CONTEXT_NATS_URL": settings.nats_url,
            "CONTEXT_STORAGE_PATH": str(settings.storage_path),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **extra}


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def workers(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    tmp = tmp_path_factory.mktemp("workers")
    settings = make_settings("postgres", tmp, postgres_dsn)
    services = bootstrap(settings)  # the schema's tables, before two workers race to make them
    services.close()
    metrics_dir = tmp / "metrics"
    metrics_dir.mkdir()
    log = tmp / "serve.log"
    env = env_of(settings, metrics_dir, CONTEXT_CHECKPOINT_INTERVAL_MINUTES="0")
    with running(["--workers", "2", "--log-level", "warning"], env, log) as url:
        live = Workers(url, metrics_dir, settings, log)
        # Both workers up: each has made its app, so written its metric files.
        wait_for(lambda: len(live.per_worker("ctxstore_http_requests_total")) == 2,
                 "both workers")
        yield live


def post(url: str, agent: str, text: str) -> None:
    """One event through a fresh connection (so the kernel picks a worker anew)."""
    event = {"event_id": str(uuid.uuid4()), "agent_id": agent, "type": "message",
             "data": {"role": "user", "content": text}}
    r = httpx.post(f"{url}/api/v1/agents/{agent}/events", json=event, timeout=30)
    assert r.status_code == 201, r.text


def test_metrics_from_either_worker_count_both(workers: Workers) -> None:
    agent = f"metrics-{uuid.uuid4().hex[:8]}"

    def recorded() -> float:
        text = httpx.get(workers.url + "/metrics", timeout=30).text
        return sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith("ctxstore_events_recorded_total "))

    before = recorded()
    before_each = workers.per_worker("ctxstore_events_recorded_total")
    sent = 0
    while True:  # until both workers have recorded some of this test's events
        post(workers.url, agent, f"event {sent}")
        sent += 1
        each = workers.per_worker("ctxstore_events_recorded_total")
        if all(each.get(pid, 0) > before_each.get(pid, 0) for pid in each) and len(each) == 2:
            break
        assert sent < 200, f"one worker took all {sent} connections: {each}"
    for _ in range(5):  # whichever worker answers /metrics, it counts both
        assert recorded() - before == sent


def test_a_follower_on_one_worker_sees_events_recorded_through_the_other(
        workers: Workers) -> None:
    agent = f"follow-{uuid.uuid4().hex[:8]}"
    post(workers.url, agent, "before")
    ws_url = workers.url.replace("http://", "ws://") + "/api/v1/ws"
    with connect(ws_url) as ws:
        ws.send(json.dumps({"action": "follow", "agent_ids": [agent]}))
        assert json.loads(ws.recv(timeout=30))["type"] == "following"
        sockets = workers.per_worker("ctxstore_websockets")
        followers = [pid for pid, open_ in sockets.items() if open_ == 1]
        assert len(followers) == 1, sockets
        before = workers.per_worker("ctxstore_events_recorded_total")
        sent = 0
        while True:  # until one of them went through the worker that does not hold the socket
            post(workers.url, agent, f"live {sent}")
            sent += 1
            now = workers.per_worker("ctxstore_events_recorded_total")
            if any(now[pid] > before.get(pid, 0) for pid in now if pid != followers[0]):
                break
            assert sent < 200, "every connection went to the follower's worker"
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while len(seen) < sent:
            assert time.monotonic() < deadline, f"follower saw versions {seen} of {sent + 1}"
            msg: dict[str, Any] = json.loads(ws.recv(timeout=60))
            if msg["type"] == "event":
                seen.append(msg["data"]["version"])
        assert seen == list(range(2, sent + 2))


def test_an_automatic_checkpoint_round_runs_once_not_once_per_worker(
        workers: Workers) -> None:
    services = bootstrap(workers.settings)
    agent = f"auto-{uuid.uuid4().hex[:8]}"
    try:
        def autos() -> list[str]:
            return [c.package_id for c in services.checkpoints.list(agent)
                    if c.label == "auto"]

        def last_round() -> int:
            held = services.commands.use_cases.auto.get(agent)
            return (held.last_round_us or 0) if held is not None else 0

        post(workers.url, agent, "one")
        services.commands.start_auto_checkpoints(LOCAL, StartAutoCheckpoints(
            agent_id=agent, interval_minutes=0.005, max_checkpoints=10))  # every 0.3 s
        wait_for(lambda: len(autos()) == 1, "a first capture")
        post(workers.url, agent, "two")
        wait_for(lambda: len(autos()) == 2, "a second capture")
        for _ in range(3):  # more rounds pass, seen by both workers: nothing changed
            seen = last_round()
            wait_for(lambda seen=seen: last_round() > seen, "another round")  # type: ignore[misc]
        assert len(autos()) == 2, workers.log.read_text()
        groups = services.store.operations.operation_groups()
        # Both workers' runners saw each round due; one claimed it. (Counted over the store:
        # this agent is the only one with a schedule here.)
        assert sum(g.count for g in groups if g.automatic and g.outcome == "succeeded") == 2
    finally:
        services.close()
