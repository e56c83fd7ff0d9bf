# ruff: noqa: E402
"""HTTP API benchmark: GET context latency under concurrency, POST events throughput.

Starts `ctxstore serve` (a real uvicorn, in its own process) over a fresh PostgreSQL schema,
records an agent of N events through POST batches (timed: the POST throughput), then has C
concurrent clients GET its context (now, and at random versions). Baselines in the same run:
the same store calls made directly in-process (no HTTP), and a trivial HTTP route (a static
file) under the same concurrency. Prints JSON.

    .venv/bin/python bench/http.py            # 10k events, 50 clients
    .venv/bin/python bench/http.py --quick    # 2k events, 20 clients
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: keep its directory off the path so `import http` is the stdlib's.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import asyncio
import json
import os
import random
import subprocess
import time
import uuid
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import drop_schema, fresh_schema, latency_summary
from ctxstore.domain.events import parse_envelope
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.settings import Settings
from devtools.services import free_port


def envelope(agent: str, i: int) -> dict[str, Any]:
    if i % 10 == 3:
        return {"event_id": str(uuid.uuid4()), "agent_id": agent, "type": "tool_call",
                "data": {"call_id": f"c{i}", "tool": "search", "arguments": {"q": f"query {i}"}}}
    role = "user" if i % 2 == 0 else "assistant"
    return {"event_id": str(uuid.uuid4()), "agent_id": agent, "type": "message",
            "data": {"role": role, "content": f"message {i}: " + "lorem ipsum dolor " * 4,
                     "tokens": 20}}


def percentiles(seconds: list[float]) -> dict[str, float]:
    return {k: v for k, v in latency_summary([t * 1000 for t in seconds], 3).items()
            if k in ("p50_ms", "p99_ms", "mean_ms", "n")}


async def hammer(url: str, paths: list[str], clients: int, per_client: int) -> dict[str, Any]:
    """`clients` concurrent connections, each making `per_client` GETs in a row."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        async def one(n: int) -> None:
            rng = random.Random(n)
            for _ in range(per_client):
                started = time.perf_counter()
                r = await client.get(rng.choice(paths))
                latencies.append(time.perf_counter() - started)
                r.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return {**percentiles(latencies), "requests_per_s": round(len(latencies) / elapsed, 1)}


def direct(store: Any, agent: str, versions: list[int | None], n: int) -> dict[str, Any]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        state = store.context(agent, version=versions[i % len(versions)])
        json.dumps(state)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2k events, 20 clients")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--requests-per-client", type=int, default=None)
    parser.add_argument("--dsn", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    events = args.events or (2000 if args.quick else 10_000)
    clients = args.clients or (20 if args.quick else 50)
    per_client = args.requests_per_client or (5 if args.quick else 10)

    schema = fresh_schema(args.dsn, "bench_http")
    port = free_port()
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "postgres", "CONTEXT_DATABASE_URL": args.dsn,
           "CONTEXT_DATABASE_SCHEMA": schema, "CONTEXT_DATABASE_POOL_SIZE": "10",
           "CONTEXT_CHECKPOINT_INTERVAL_MINUTES": "0"}
    env.pop("CONTEXT_API_KEYS", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "ctxstore", "serve", "--port", str(port),
         "--log-level", "warning"], cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    settings = Settings(storage_backend="postgres", database_url=args.dsn,
                        database_schema=schema)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)

        agent = "bench-agent"
        batches = [[envelope(agent, i) for i in range(start, min(events, start + args.batch))]
                   for start in range(0, events, args.batch)]
        with httpx.Client(base_url=url, timeout=300) as client:
            started = time.perf_counter()
            for batch in batches:
                r = client.post(f"/api/v1/agents/{agent}/events", json=batch)
                assert r.status_code == 201, r.text
            post_s = time.perf_counter() - started

        store = build_store(settings)
        raw_agent = "bench-raw"
        raw_batches = [[parse_envelope(envelope(raw_agent, i))
                        for i in range(start, min(events, start + args.batch))]
                       for start in range(0, events, args.batch)]
        started = time.perf_counter()
        for raw_batch in raw_batches:
            store.record(raw_batch)
        raw_s = time.perf_counter() - started

        versions: list[int | None] = [random.Random(i).randint(1, events) for i in range(200)]
        now_paths = [f"/api/v1/agents/{agent}/context"]
        at_paths = [f"/api/v1/agents/{agent}/context?version={v}" for v in versions]
        asyncio.run(hammer(url, now_paths, 4, 2))  # warm up
        get_now = asyncio.run(hammer(url, now_paths, clients, per_client))
        get_at = asyncio.run(hammer(url, at_paths, clients, per_client))
        trivial = asyncio.run(hammer(url, ["/static/style.css"], clients, per_client))
        direct_now = direct(store, agent, [None], 20)
        direct_at = direct(store, agent, versions, 50)
        size = len(httpx.get(url + now_paths[0], timeout=60).content)
        store.close()
        result = {
            "benchmark": "http",
            "events": events,
            "clients": clients,
            "requests_per_client": per_client,
            "context_response_bytes": size,
            "post_events": {
                "batch_size": args.batch,
                "http_events_per_s": round(events / post_s, 1),
                "direct_store_events_per_s": round(events / raw_s, 1),
                "ratio_http_vs_direct": round((events / post_s) / (events / raw_s), 3),
            },
            "get_context_now": {**get_now, "direct_store_call": direct_now,
                                "p50_ratio_vs_direct": round(
                                    get_now["p50_ms"] / direct_now["p50_ms"], 2)},
            "get_context_at_version": {**get_at, "direct_store_call": direct_at,
                                       "p50_ratio_vs_direct": round(
                                           get_at["p50_ms"] / direct_at["p50_ms"], 2)},
            "trivial_route_baseline": trivial,
            "note": "server and client share the machine's cores; direct calls are sequential",
        }
        print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        drop_schema(args.dsn, schema)


if __name__ == "__main__":
    main()
