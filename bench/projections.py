# ruff: noqa: E402
"""Projection benchmark on PostgreSQL: lag while events are recorded at a target rate, and
rebuild throughput.

Over a fresh schema, one writer records events of many agents at `--rate` events/s (batches
every `--tick` s, message texts from a real tau-bench trace) while `ctxstore project` runs in
its own process. A monitor polls the views' tracking position: the lag of a batch is the time
from its commit to the first moment the views include its last event. Then the worker is
stopped and the views are rebuilt from zero in-process (events/s), against a raw baseline
measured in the same run: reading and decoding the same notifications without projecting.
Prints JSON.

    .venv/bin/python bench/projections.py            # 10,000 events/s for 20 s
    .venv/bin/python bench/projections.py --quick    # 10,000 events/s for 5 s
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


from bench.common import drop_schema, fresh_schema, percentile
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.infrastructure.bootstrap import build_store, build_views
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.projection_worker import ProjectionWorker, wait_until
from ctxstore.infrastructure.samples import TRACES
from ctxstore.infrastructure.settings import Settings

TRACE = TRACES / "tau-bench" / "gpt-4o-airline.first-5-runs.json"
CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def texts() -> list[str]:
    found = [e.data.content for a in load_trace(TRACE) for e in a.envelopes
             if e.type == "message" and isinstance(e.data.content, str) and e.data.content]
    return [t[:2000] for t in found]


def envelopes(n: int, agents: int) -> Iterator[AnyEnvelope]:
    """A realistic mix per agent: user/assistant messages, tool calls and results, memories."""
    words = cycle(texts())
    now = datetime.now(UTC)
    for i in range(n):
        agent, step = f"bench-{i % agents}", i // agents
        kind = step % 10
        eid = str(uuid.uuid4())
        data: dict[str, Any]
        if kind in (0, 3, 6):
            type_, data = "message", {"role": "user", "content": next(words)}
        elif kind in (1, 4, 7):
            type_, data = "message", {"role": "assistant", "content": next(words)}
        elif kind == 2:
            type_, data = "tool_call", {"call_id": f"c{step}", "tool": "search_flights",
                                        "arguments": {"origin": "JFK", "n": step}}
        elif kind == 5:
            type_, data = "tool_result", {"call_id": f"c{step - 3}", "output": next(words),
                                          "is_error": step % 7 == 0}
        elif kind == 8:
            type_, data = "memory_stored", {"memory_id": f"m{step}", "kind": "episodic",
                                            "content": next(words)[:300]}
        else:
            type_, data = "reasoning", {"thread_id": "main", "content": next(words)[:400]}
        yield make_envelope(agent, type_, data, event_id=eid, occurred_at=now)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--rate", type=int, default=10_000, help="events/s to record")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--tick", type=float, default=0.05, help="seconds between batches")
    parser.add_argument("--quick", action="store_true", help="5 s of load")
    parser.add_argument("--keep", action="store_true", help="keep the schema")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 5.0

    schema = fresh_schema(args.dsn, "bench_proj")
    settings = Settings(storage_backend="postgres", database_url=args.dsn,
                        database_schema=schema, database_pool_size=4)
    store = build_store(settings)
    views = build_views(settings)
    total = int(args.rate * args.seconds)
    per_batch = max(1, int(args.rate * args.tick))
    prepared = list(envelopes(total, args.agents))
    batches = [prepared[i:i + per_batch] for i in range(0, total, per_batch)]

    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "postgres",
           "CONTEXT_DATABASE_URL": args.dsn, "CONTEXT_DATABASE_SCHEMA": schema}
    worker = subprocess.Popen([CTXSTORE, "project", "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    positions: list[tuple[float, int]] = []
    stop = threading.Event()

    def monitor() -> None:
        while not stop.is_set():
            positions.append((time.monotonic(), views.position() or 0))
            time.sleep(0.005)

    try:
        time.sleep(3)  # the worker starts (imports, LISTEN) before the load
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        worker_cpu_before = cpu_seconds(worker.pid)
        watcher = threading.Thread(target=monitor, daemon=True)
        watcher.start()
        commits: list[tuple[float, int]] = []
        started = time.monotonic()
        for i, batch in enumerate(batches):
            due = started + i * args.tick
            if (pause := due - time.monotonic()) > 0:
                time.sleep(pause)
            store.record(batch)
            commits.append((time.monotonic(), store.recorder.max_notification_id() or 0))
        load_seconds = time.monotonic() - started
        wait_until(views, commits[-1][1], timeout=300)
        worker_cpu = cpu_seconds(worker.pid) - worker_cpu_before
        stop.set()
        watcher.join()
    finally:
        worker.terminate()
        worker.wait(30)

    lags, j = [], 0
    for committed, notification_id in commits:
        while j < len(positions) and (positions[j][1] < notification_id
                                      or positions[j][0] < committed):
            j += 1
        if j < len(positions):
            lags.append(positions[j][0] - committed)

    # Raw baseline: read and decode every notification, project nothing.
    started = time.monotonic()
    position, decoded = 0, 0
    while batch_n := store.recorder.select_notifications(position, 1000,
                                                          inclusive_of_start=False):
        decoded += len([store.mapper.to_domain_event(n) for n in batch_n])
        position = batch_n[-1].id
    read_seconds = time.monotonic() - started
    rebuilder = ProjectionWorker(store, views, batch_size=1000)
    started = time.monotonic()
    rebuilt = rebuilder.rebuild()
    rebuild_seconds = time.monotonic() - started

    result: dict[str, Any] = {
        "backend": "postgres",
        "events": total,
        "agents": args.agents,
        "target_rate_events_per_s": args.rate,
        "recorded_rate_events_per_s": round(total / load_seconds),
        "lag_s": {"p50": round(statistics.median(lags), 4),
                  "p99": round(percentile(lags, 0.99), 4),
                  "max": round(max(lags), 4), "batches": len(lags)},
        "lag_p99_target_s": 1.0,
        "worker_cpu_us_per_event": round(worker_cpu / total * 1e6, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "rebuild": {"events": rebuilt, "seconds": round(rebuild_seconds, 2),
                    "events_per_s": round(rebuilt / rebuild_seconds)},
        "baseline_read_decode": {"events": decoded, "seconds": round(read_seconds, 2),
                                 "events_per_s": round(decoded / read_seconds)},
        "rebuild_vs_read_decode": round((rebuilt / rebuild_seconds)
                                        / (decoded / read_seconds), 3),
    }
    print(json.dumps(result, indent=2))
    store.close()
    if not args.keep:
        drop_schema(args.dsn, schema)


if __name__ == "__main__":
    main()
