# ruff: noqa: E402
"""HTTP API benchmark: GET context against the direct store call, under the same concurrency.

Starts `ctxstore serve` (a real uvicorn, in its own process, `--workers N`) over a fresh
PostgreSQL schema and measures, each against a baseline taken in the same run:

- POST events throughput (a synthetic agent, batches), against `store.record` directly;
- GET context at a version and now, one client in a row against the direct call in a row
  (cold: every version asked once, so nothing is cached; warm: asked again), and C clients at
  once against the direct call made by C threads at once;
- GET `?tail=50` of a large real-trace agent (the real traces cycled: 10k events in --quick,
  100k in full), C clients, after one cold read;
- the same tail with `Accept-Encoding: zstd` (compressed once, http.compression), the clients
  decompressing every answer: the bytes sent and both sides' CPU;
- unchanged GETs with `If-None-Match` (answered 304), one client and C clients;
- a trivial route (a static file): what any request costs here.

Every figure comes with the server's CPU per request (its process tree) and the client's, since
server and clients share this machine's cores; `cpu_budget` says what they leave. The client is
a plain keep-alive HTTP/1.1 connection per simulated client (httpx costs more CPU per request
than the server's cached answer, on the same cores). Prints JSON.

    .venv/bin/python bench/http.py                  # 100k-event trace agent, 20 clients
    .venv/bin/python bench/http.py --quick          # 10k-event trace agent
    .venv/bin/python bench/http.py --quick --workers 2
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: keep its directory off the path so `import http` is the stdlib's.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import zstandard

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import drop_schema, fresh_schema, latency_summary
from bench.restore import TRACES, cycled, real_events
from ctxstore.application.commands import Caller, ReadContext
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.events import parse_envelope
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.http.cache import encode_json
from ctxstore.infrastructure.http.compression import compress
from ctxstore.infrastructure.settings import Settings
from devtools.services import free_port

TARGETS = {"at_version_p50_ratio_vs_direct": 2.0, "tail_p99_ms": 20.0,
           "if_none_match_p99_ms": 5.0}


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


# The client ------------------------------------------------------------------------------------
_ZSTD = zstandard.ZstdDecompressor()
ZSTD = {"Accept-Encoding": "zstd"}


class Connection:
    """One keep-alive HTTP/1.1 connection: GET, read the status, headers and a
    Content-Length body (what uvicorn sends for these routes), decompressed when zstd (as a
    client that asked for it does: its CPU is counted)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str] | None = None
                  ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                          f"{extra}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        got = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if line)}
        body = await self.reader.readexactly(int(got.get("content-length", "0")))
        if got.get("content-encoding") == "zstd":
            got["wire-bytes"] = str(len(body))
            body = _ZSTD.decompress(body)
        return status, got, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Cpu:
    """CPU seconds of the server's process tree (all its workers) and of this process."""

    def __init__(self, server_pid: int):
        self.server = psutil.Process(server_pid)

    def server_s(self) -> float:
        total = 0.0
        for p in [self.server, *self.server.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total

    @staticmethod
    def client_s() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)  # this process: its threads too
        return r.ru_utime + r.ru_stime


def hammer(url: str, cpu: Cpu, paths: list[str], clients: int, per_client: int,
           headers: dict[str, str] | None = None, expect: int = 200) -> dict[str, Any]:
    """`clients` connections at once, each making `per_client` GETs in a row (path drawn at
    random per request; in order when there is one client): latencies, rate, CPU/request."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []

    async def one(n: int) -> None:
        rng = random.Random(n)
        conn = Connection(host, int(port))
        try:
            for i in range(per_client):
                path = paths[i % len(paths)] if clients == 1 else rng.choice(paths)
                started = time.perf_counter()
                status, _, body = await conn.get(path, headers)
                latencies.append(time.perf_counter() - started)
                if status != expect:
                    raise SystemExit(f"GET {path}: {status}, expected {expect}: {body[:300]!r}")
        finally:
            conn.close()

    async def all_clients() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(clients)))
        return time.perf_counter() - started

    # The clients stand in for agents on other machines, but this process also holds the store
    # it loaded the agents through (the 100k-event agent folded: a full collection of its heap
    # took 98-107 ms here, and one landing in a run would hold every client's request in
    # flight). What is alive now is left out of collections while they run.
    gc.collect()
    gc.freeze()
    try:
        server0, client0 = cpu.server_s(), cpu.client_s()
        elapsed = asyncio.run(all_clients())
        server1, client1 = cpu.server_s(), cpu.client_s()
    finally:
        gc.unfreeze()
    n = len(latencies)
    return {**percentiles(latencies), "clients": clients,
            "requests_per_s": round(n / elapsed, 1),
            "server_cpu_ms_per_request": round((server1 - server0) / n * 1000, 3),
            "client_cpu_ms_per_request": round((client1 - client0) / n * 1000, 3)}


# The direct call -------------------------------------------------------------------------------
def direct(call: Callable[[int], Any], n: int, threads: int = 1) -> dict[str, Any]:
    """`call(i)` n times in a row (threads=1), or spread over `threads` threads at once (as
    the HTTP clients are): latencies and CPU per call."""
    samples: list[float] = []

    def worker(offset: int) -> None:
        for i in range(offset, n, threads):
            started = time.perf_counter()
            call(i)
            samples.append(time.perf_counter() - started)

    cpu0 = Cpu.client_s()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {**percentiles(samples), "threads": threads,
            "cpu_ms_per_call": round((Cpu.client_s() - cpu0) / n * 1000, 3)}


def ratio(http: dict[str, Any], base: dict[str, Any], key: str = "p50_ms") -> float:
    return round(http[key] / base[key], 2)


def both_cpu(figures: dict[str, Any]) -> float:
    """Server and client CPU a request (ms) of a run's figures."""
    return float(figures["server_cpu_ms_per_request"] + figures["client_cpu_ms_per_request"])


def cpu_budget(per_request_ms: float, clients: int, target_ms: float,
               baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the cores allow: C requests in flight, each needing `per_request_ms` of CPU
    (server and client), cannot all finish sooner than C x that over the cores; the last of
    them (the p99 of a closed loop) waits about that long whatever the server does.

    That floor is the wait of a fair share. `baseline` (the trivial route, measured in the
    same run with as many clients) shows how far this machine's p99 sits above its own
    floor: the server, its clients and PostgreSQL taking turns on the cores. A route whose
    floor times that factor passes its target cannot meet it here, however fast its code."""
    cores = os.cpu_count() or 1
    floor = clients * per_request_ms / cores
    out = {"cores": cores, "cpu_ms_per_request_server_and_client": round(per_request_ms, 3),
           "clients": clients, "p99_floor_ms": round(floor, 2),
           "cpu_ms_per_request_for_target": round(target_ms * cores / clients, 3),
           "target_ms": target_ms, "reachable": floor <= target_ms}
    if baseline is not None:
        base_floor = clients * both_cpu(baseline) / cores
        factor = baseline["p99_ms"] / base_floor
        out["baseline_p99_over_its_floor"] = round(factor, 2)
        out["p99_expected_from_baseline_ms"] = round(floor * factor, 2)
        out["cpu_ms_per_request_for_target_at_that_factor"] = round(
            target_ms * cores / clients / factor, 3)
        out["reachable_at_that_factor"] = floor * factor <= target_ms
    return out


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM: uvicorn's supervisor stops its workers first. Should it hang, its workers are
    killed along with it (a killed supervisor leaves them serving, holding connections)."""
    workers = psutil.Process(server.pid).children(recursive=True)
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    for worker in workers:
        if worker.is_running():
            worker.kill()


def started_server(args: argparse.Namespace, env: dict[str, str], url: str
                   ) -> subprocess.Popen[bytes]:
    port = url.rsplit(":", 1)[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "ctxstore", "serve", "--port", port, "--log-level", "warning",
         "--workers", str(args.workers)], cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code in (200, 503):
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            stop(server)
            raise SystemExit("the server did not start")
        time.sleep(0.2)


def load_trace_agent(store: Any, agent: str, events: int, batch: int) -> dict[str, Any]:
    base, info, _ = real_events(TRACES)
    stream: Iterator[Any] = cycled(base, agent, events)
    started = time.perf_counter()
    while chunk := [e for _, e in zip(range(batch), stream, strict=False)]:
        store.record(chunk)
    return {"events": events, "trace_events": info["cycle_events"],
            "load_s": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2k synthetic events, a 10k-event trace agent")
    parser.add_argument("--events", type=int, default=None,
                        help="events of the synthetic agent (default 2k quick, 10k)")
    parser.add_argument("--trace-events", type=int, default=None,
                        help="events of the real-trace agent (default 10k quick, 100k)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--requests-per-client", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1, help="ctxstore serve --workers")
    parser.add_argument("--pool-size", type=int, default=10,
                        help="CONTEXT_DATABASE_POOL_SIZE of each server worker")
    parser.add_argument("--dsn", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    events = args.events or (2000 if args.quick else 10_000)
    trace_events = args.trace_events or (10_000 if args.quick else 100_000)
    clients = args.clients
    per_client = args.requests_per_client or (20 if args.quick else 50)

    schema = fresh_schema(args.dsn, "bench_http")
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "postgres", "CONTEXT_DATABASE_URL": args.dsn,
           "CONTEXT_DATABASE_SCHEMA": schema, "CONTEXT_DATABASE_POOL_SIZE": str(args.pool_size),
           "CONTEXT_CHECKPOINT_INTERVAL_MINUTES": "0"}
    env.pop("CONTEXT_API_KEYS", None)
    server: subprocess.Popen[bytes] | None = None
    services = None
    try:  # from here on, whatever fails, the server (and its workers) stop and the schema goes
        server = started_server(args, env, url)
        cpu = Cpu(server.pid)
        services = bootstrap(Settings(storage_backend="postgres", database_url=args.dsn,
                                      database_schema=schema, checkpoint_interval_minutes=0))
        store = services.store
        caller = Caller(tenant=LOCAL_TENANT, keyed=False)
        agent = "bench-agent"
        batches = [[envelope(agent, i) for i in range(start, min(events, start + args.batch))]
                   for start in range(0, events, args.batch)]
        with httpx.Client(base_url=url, timeout=300) as client:
            started = time.perf_counter()
            for batch in batches:
                r = client.post(f"/api/v1/agents/{agent}/events", json=batch)
                assert r.status_code == 201, r.text
            post_s = time.perf_counter() - started
        raw_agent = "bench-raw"
        raw_batches = [[parse_envelope(envelope(raw_agent, i))
                        for i in range(start, min(events, start + args.batch))]
                       for start in range(0, events, args.batch)]
        started = time.perf_counter()
        for raw_batch in raw_batches:
            store.record(raw_batch)
        raw_s = time.perf_counter() - started

        def read_json(agent_id: str, version: int | None = None, tail: int | None = None
                      ) -> bytes:
            """The direct call: the same command the route runs, and JSON bytes of it by the
            route's own encoder (so the ratio is what HTTP adds, not a slower encoder)."""
            return encode_json(services.commands.read(
                caller, ReadContext(agent_id=agent_id, version=version, tail=tail)))

        context = f"/api/v1/agents/{agent}/context"
        rng = random.Random(7)
        cold_versions = rng.sample(range(1, events + 1), min(200, events))
        cold_paths = [f"{context}?version={v}" for v in cold_versions]
        hammer(url, cpu, ["/static/style.css", context], 2, 4)  # warm up both
        at_cold = hammer(url, cpu, cold_paths, 1, len(cold_paths))  # each version once
        at_warm = hammer(url, cpu, cold_paths, 1, len(cold_paths))  # the same again: cached
        direct_at = direct(lambda i: read_json(agent, cold_versions[i % len(cold_versions)]),
                           len(cold_versions))
        concurrent_versions = rng.sample(range(1, events + 1), min(events, 1000))
        at_concurrent = hammer(url, cpu, [f"{context}?version={v}" for v in concurrent_versions],
                               clients, per_client)
        direct_at_concurrent = direct(
            lambda i: read_json(agent, concurrent_versions[i % len(concurrent_versions)]),
            clients * per_client, threads=clients)
        now_one = hammer(url, cpu, [context], 1, 200)
        now_concurrent = hammer(url, cpu, [context], clients, per_client)
        direct_now = direct(lambda i: read_json(agent), 50)
        trivial_one = hammer(url, cpu, ["/static/style.css"], 1, 200)
        trivial = hammer(url, cpu, ["/static/style.css"], clients, per_client)

        trace_agent = "bench-trace"
        trace = load_trace_agent(store, trace_agent, trace_events, args.batch)
        tail_path = f"/api/v1/agents/{trace_agent}/context?tail=50"
        first = hammer(url, cpu, [tail_path], 1, 1)  # cold: reads the state
        tail = hammer(url, cpu, [tail_path], clients, per_client)
        tail_zstd = hammer(url, cpu, [tail_path], clients, per_client, ZSTD)
        direct_tail = direct(lambda i: read_json(trace_agent, tail=50), 5)
        tag = httpx.get(url + tail_path, timeout=300).headers["etag"]
        unchanged = {"If-None-Match": tag}
        inm_one = hammer(url, cpu, [tail_path], 1, 200, unchanged, expect=304)
        inm = hammer(url, cpu, [tail_path], clients, per_client, unchanged, expect=304)
        size = len(httpx.get(url + context, timeout=60).content)
        tail_size = len(httpx.get(url + tail_path, timeout=300).content)  # decoded
        with httpx.stream("GET", url + tail_path, headers=ZSTD, timeout=300) as r:
            tail_zstd_size = sum(len(chunk) for chunk in r.iter_raw())
        # What compressing the answer once costs the server (its process's CPU clock ticks
        # are too coarse for one request): the server's own function on the same bytes.
        tail_body = httpx.get(url + tail_path, timeout=300).content
        started = time.process_time()
        for _ in range(20):
            compress(tail_body)
        compress_ms = (time.process_time() - started) / 20 * 1000

        result = {
            "benchmark": "http",
            "workers": args.workers,
            "pool_size": args.pool_size,
            "cores": os.cpu_count(),
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
            "get_context_at_version": {
                "one_client_cold": {**at_cold, "p50_ratio_vs_direct": ratio(at_cold, direct_at)},
                "one_client_cached": {**at_warm,
                                      "p50_ratio_vs_direct": ratio(at_warm, direct_at)},
                "direct_store_call": direct_at,
                "concurrent": {**at_concurrent, "direct_store_call": direct_at_concurrent,
                               "p50_ratio_vs_direct": ratio(at_concurrent,
                                                            direct_at_concurrent)},
                "target_p50_ratio": TARGETS["at_version_p50_ratio_vs_direct"],
            },
            "get_context_now": {
                "one_client": {**now_one, "p50_ratio_vs_direct": ratio(now_one, direct_now)},
                "concurrent": now_concurrent,
                "direct_store_call": direct_now,
            },
            "get_tail_50_trace_agent": {
                **trace, "response_bytes": tail_size,
                "first_read_cold": first, "concurrent": tail,
                "direct_store_call_uncached": direct_tail,
                "target_p99_ms": TARGETS["tail_p99_ms"],
                "cpu_budget": cpu_budget(both_cpu(tail), clients, TARGETS["tail_p99_ms"],
                                         trivial),
                "zstd": {
                    "response_bytes": tail_zstd_size,
                    "compress_once_cpu_ms": round(compress_ms, 2),
                    "concurrent_clients_decompressing": tail_zstd,
                    "cpu_budget": cpu_budget(both_cpu(tail_zstd), clients,
                                             TARGETS["tail_p99_ms"], trivial),
                },
            },
            "if_none_match_unchanged": {
                "one_client": inm_one, "concurrent": inm,
                "target_p99_ms": TARGETS["if_none_match_p99_ms"],
                "cpu_budget": cpu_budget(both_cpu(inm), clients,
                                         TARGETS["if_none_match_p99_ms"], trivial),
            },
            "trivial_route_baseline": {"one_client": trivial_one, "concurrent": trivial},
            "note": "server, PostgreSQL and the clients share the machine's cores; "
                    "`concurrent` is `clients` connections at once, each in a row; its "
                    "direct_store_call runs as many threads at once in one process",
        }
        print(json.dumps(result, indent=2))
    finally:
        if server is not None:
            stop(server)
        if services is not None:
            services.close()
        drop_schema(args.dsn, schema)


if __name__ == "__main__":
    main()
