"""Forks of a real-trace agent by this checkout and by another (`--against`), interleaved: JSON.

On a shared machine the speed drifts by tens of percent within minutes, so two runs of
`bench/restore.py` one after the other cannot tell a change of 10 % from the drift. Here one
worker process per checkout holds a store on the same database and agent, and the two take
turns, operation by operation (who goes first alternates): both meet the same machine at the
same moment, and what differs is the code.

Measured per checkout: wall p50/p90 and client CPU of forks at random versions (the state
built from a snapshot and the events after it) and of forks of the latest version (the agent
held folded), each into a new agent, of reads of the context at random versions, and of
reads of the latest version the worker holds folded (its tail-50 window, its whole state). The
agent (`--events` real-trace events, cycled as in `bench/restore.py`) is loaded once by this
checkout into a fresh schema. And the CPU PostgreSQL spent for each checkout, all operations
together: its pool's backends' CPU (psutil) from `ready` to the end, so what the pool does (how
many backends it warms, which plans they cache) counts. Read once per backend, not around
each operation: the kernel gives a process's CPU in 10 ms ticks, coarser than an operation.

    git worktree add /tmp/base <rev>
    .venv/bin/python bench/restore_ab.py --against /tmp/base --events 10000 --ops 150
    .venv/bin/python bench/restore_ab.py --against /tmp/base --delay 0.0005

`--delay S`: both workers reach PostgreSQL through devtools.tcp_proxy (a process of its own),
which holds each chunk the server sends for S seconds: what a network slower than this
loopback adds, in round trips (the proxy's sleeps run late by the event loop's timer
granularity, and a reply sent in several chunks waits for each: a round trip costs at least
S, often more). The agent is loaded directly.

Taking turns hides what a process does after an operation answers (a thread writing behind
it runs in the other worker's turn): measure such a change with operations back to back in one
process too.

The worker runs this file with the checkout's own code first on `sys.path`, using only the
store's long-standing API (build_store, bootstrap, RestoreService.restore, context), so any checkout
with those can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# This file's folder is first on sys.path (run as a script): the shared options without
# importing the package `bench`, which the workers import from the other checkout.
from ab_options import add_checkout_options

REPO = Path(__file__).resolve().parents[1]
KINDS = ("random", "latest", "read", "tail", "whole")
LABELS = {"random": "fork_random", "latest": "fork_latest", "read": "read_at_version",
          "tail": "tail_50_of_the_held_latest", "whole": "whole_state_of_the_held_latest"}


def worker(root: str, dsn: str, schema: str, agent_id: str) -> None:
    """Serve `random V` / `latest` lines (a fork each), `read V` (the context at V), `tail`
    and `whole` (the latest's window and state), answered by `[wall_ms, cpu_ms]`."""
    sys.path.insert(0, root)
    from ctxstore.domain.points import Point
    from ctxstore.infrastructure.bootstrap import bootstrap, build_store
    from ctxstore.infrastructure.settings import Settings

    settings = Settings(storage_backend="postgres", database_url=dsn, database_schema=schema,
                        aggregate_cache_size=4)
    store = build_store(settings)
    restore = bootstrap(settings, store=store).restore
    store.agent_at(agent_id)  # held folded, as a live agent is
    tag = f"{Path(root).name}-{random.randrange(10**9)}"
    started = backends_cpu(store)
    print("ready", flush=True)
    for n, line in enumerate(sys.stdin):
        kind, _, value = line.partition(" ")
        summary = store.summary(agent_id)
        assert summary is not None
        version = summary.version if kind == "latest" else int(value)
        cpu, wall = time.process_time(), time.perf_counter()
        if kind == "read":
            store.context(agent_id, version=version)
        elif kind == "tail":
            store.context(agent_id, tail=50)
        elif kind == "whole":
            store.context(agent_id)
        else:
            restore.restore(agent_id, Point.of_version(version), f"{agent_id}-{tag}-{n}")
        print(json.dumps([(time.perf_counter() - wall) * 1000,
                          (time.process_time() - cpu) * 1000]), flush=True)
    ended = backends_cpu(store)
    print(json.dumps({"postgres_cpu_s": sum(t - started.get(p, 0.0) for p, t in ended.items()),
                      "backends": len(ended)}), flush=True)
    store.close()


def backends_cpu(store: Any) -> dict[int, float]:
    """CPU seconds so far of each backend of the store's pool (all idle between operations);
    a backend that ended is missing (none does in a run shorter than the pool's max idle)."""
    import psutil

    out: dict[int, float] = {}
    for conn in list(store.factory.datastore.pool._pool):  # noqa: SLF001 - its idle ones
        try:
            times = psutil.Process(conn.info.backend_pid).cpu_times()
        except psutil.Error:
            continue
        out[conn.info.backend_pid] = times.user + times.system
    return out


def delayed(dsn: str, seconds: float) -> tuple[Any, str]:
    """A proxy in front of `dsn`'s server holding each reply `seconds`, and the dsn through
    it."""
    from urllib.parse import urlsplit

    # This file's folder holds an http.py: off the path, so that the stdlib's is found.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from devtools.fault_servers import ProxyProcess

    url = urlsplit(dsn)  # postgresql://user@host:port/db, as the store's settings take it
    proxy = ProxyProcess(url.hostname or "127.0.0.1", url.port or 5432)
    proxy.delay(seconds)
    user = url.netloc.rpartition("@")[0]  # user[:password], as given
    return proxy, url._replace(netloc=f"{user}@127.0.0.1:{proxy.port}" if user
                               else f"127.0.0.1:{proxy.port}").geturl()


def summary(wall: list[float], cpu: list[float]) -> dict[str, Any]:
    ordered = sorted(wall)
    return {"n": len(wall), "wall_p50_ms": round(statistics.median(ordered), 2),
            "wall_p90_ms": round(ordered[int(len(ordered) * 0.9)], 2),
            "client_cpu_ms_mean": round(statistics.mean(cpu), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_checkout_options(parser, against_required=True)
    parser.add_argument("--ops", type=int, default=150,
                        help="operations of each kind per checkout")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"the operations measured, of {','.join(KINDS)}")
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds each reply of PostgreSQL is held (through a proxy)")
    parser.add_argument("--worker", nargs=3, metavar=("ROOT", "SCHEMA", "AGENT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.dsn, args.worker[1], args.worker[2])
        return

    sys.path.insert(0, str(REPO))
    from bench.common import drop_schema, fresh_schema
    from bench.restore import TRACES, cycled, load, log, real_events
    from ctxstore.infrastructure.bootstrap import build_store
    from ctxstore.infrastructure.settings import Settings

    kinds = [k for k in args.kinds.split(",") if k]
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--kinds: of {','.join(KINDS)}, not {args.kinds!r}")
    other = Path(args.against).resolve()
    if not (other / "ctxstore").is_dir():
        parser.error(f"--against: {other} holds no ctxstore checkout")
    base, _, _ = real_events(TRACES)
    schema = fresh_schema(args.dsn)
    proxy = None
    agent_id = f"ab-{args.events}"
    checkouts = {"this": REPO, "against": other}
    workers: dict[str, subprocess.Popen[str]] = {}
    try:
        log(f"loading {args.events} real-trace events into {schema}")
        loader = build_store(Settings(storage_backend="postgres", database_url=args.dsn,
                                      database_schema=schema))
        loaded = load(loader, cycled(base, agent_id, args.events), args.events, 5000)
        loader.close()
        dsn = args.dsn
        if args.delay > 0:
            proxy, dsn = delayed(args.dsn, args.delay)
        for name, root in checkouts.items():
            workers[name] = subprocess.Popen(
                [sys.executable, __file__, "--dsn", dsn, "--against", str(other),
                 "--worker", str(root), schema, agent_id],
                cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            out = workers[name].stdout
            if out is None or out.readline().strip() != "ready":
                raise SystemExit(f"the {name} checkout's worker did not start")
        rng = random.Random(args.seed)
        times: dict[tuple[str, str], tuple[list[float], list[float]]] = {
            (kind, name): ([], []) for kind in kinds for name in checkouts}
        log(f"{args.ops} operations of each kind by each checkout, taking turns")
        for i in range(args.ops):
            for kind in kinds:
                line = f"{kind} {rng.randrange(1, args.events + 1)}\n"
                for name in (checkouts if i % 2 == 0 else reversed(list(checkouts))):
                    proc = workers[name]
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(line)
                    proc.stdin.flush()
                    wall, cpu = json.loads(proc.stdout.readline())
                    times[(kind, name)][0].append(wall)
                    times[(kind, name)][1].append(cpu)
        result: dict[str, Any] = {
            "benchmark": "restore_ab",
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_at_start": os.getloadavg()},
            "checkouts": {name: str(root) for name, root in checkouts.items()},
            "reply_delay_s": args.delay,
            "load": loaded,
            **{LABELS[kind]: {name: summary(*times[(kind, name)]) for name in checkouts}
               for kind in kinds},
        }
        server: dict[str, Any] = {}
        for name, proc in workers.items():
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            done = json.loads(proc.stdout.readline())
            server[name] = {"postgres_cpu_ms_per_operation": round(
                done["postgres_cpu_s"] * 1000 / (args.ops * len(kinds)), 3),
                "backends": done["backends"]}
        server["this_over_against"] = round(
            server["this"]["postgres_cpu_ms_per_operation"]
            / max(server["against"]["postgres_cpu_ms_per_operation"], 1e-9), 3)
        result["postgres_all_operations"] = server
        for kind in kinds:
            figures: dict[str, Any] = result[LABELS[kind]]
            mine, theirs = figures["this"], figures["against"]
            figures["this_over_against"] = {
                "wall_p50": round(mine["wall_p50_ms"] / theirs["wall_p50_ms"], 3),
                "client_cpu": round(mine["client_cpu_ms_mean"] / theirs["client_cpu_ms_mean"],
                                    3)}
        print(json.dumps(result, indent=1))
    finally:
        for proc in workers.values():
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
            proc.wait(timeout=60)
        if proxy is not None:
            proxy.close()
        drop_schema(args.dsn, schema)


if __name__ == "__main__":
    main()
