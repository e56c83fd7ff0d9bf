"""End-to-end NATS ingest: agents publish real-trace events, measured until durable in PostgreSQL.

Agents are the real traces under /work/shared/data/traces (through infrastructure.importers),
copied under new agent and event ids until the wanted volume is reached. Publisher processes
send each agent's events in order (JetStream publish with ``Nats-Msg-Id``, many in flight);
``ctxstore ingest`` worker processes (one share of the partitions each) record them.
Throughput is events over the time from the first publication until the store's agent
catalogue counts every event; latency is publication to the ``<prefix>.recorded.<agent_id>``
announcement (sent after the commit) for a sample of agents. The baseline, in the same run, is
raw psycopg ``executemany`` of the very rows the run stored (the events table, copied to a twin
table, in batches of the same size). Everything shares this machine's cores, so the CPU each
party spent per event is printed too, and from it the budget those cores leave the workers
(`cpu_budget`: the rate with workers that cost nothing, and the most a worker may spend per
event to reach a 0.25 ratio), and the workers' CPU by thread: the event loop's (receiving,
decoding, acknowledging, announcing) against the others' (recording).

    python bench/ingest_nats.py                      # 60,000 events, live
    python bench/ingest_nats.py --quick              # 10,000 events
    python bench/ingest_nats.py --workers 2          # one worker process per core
    python bench/ingest_nats.py --preload            # publish first, then time the drain
    python bench/ingest_nats.py --rate 5000          # paced: latency at a sustainable load
    python bench/ingest_nats.py --dictionary         # a store with a trained zstd dictionary

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import cpu_seconds, drop_schema, fresh_schema, jetstream_url  # noqa: E402
from devtools.services import (  # noqa: E402
    DEFAULT_DSN,
    DEFAULT_NATS_URL,
    libpq_dsn,
    nats_info,
)

TRACES = Path("/work/shared/data/traces")
SAMPLE_EVERY = 10  # one agent in ten is followed for latency
WORKER_TARGET_US = 35.0  # issue 16: a worker's CPU an event in --preload


def load_agents(total: int, tag: str = "b") -> list[tuple[str, list[bytes], list[str]]]:
    """(agent_id, bodies, event_ids) of real-trace agents copied up to `total` events."""
    from bench.common import trace_agents

    originals, _files = trace_agents(TRACES)
    agents: list[tuple[str, list[bytes], list[str]]] = []
    count, copy = 0, 0
    while count < total:
        for original in originals:
            if count >= total:
                break
            agent_id = f"{tag}{copy}-{original[0].agent_id}"[:128]
            envelopes = original[: total - count]
            bodies, ids = [], []
            for e in envelopes:
                e2 = e.model_copy(update={"agent_id": agent_id,
                                          "event_id": f"{tag}{copy}-{e.event_id}"})
                bodies.append(e2.model_dump_json(exclude_none=True).encode())
                ids.append(e2.event_id)
            agents.append((agent_id, bodies, ids))
            count += len(bodies)
        copy += 1
    return agents


def thread_seconds(pids: list[int]) -> dict[str, float]:
    """CPU (user + system) used so far by the processes' main threads, where a worker runs its
    event loop, and by their other threads (the one that records, libraries' own)."""
    import psutil

    used = {"event_loop": 0.0, "other_threads": 0.0}
    for pid in pids:
        try:
            threads = psutil.Process(pid).threads()
        except psutil.NoSuchProcess:
            continue
        for t in threads:
            used["event_loop" if t.id == pid else "other_threads"] += t.user_time + t.system_time
    return used


def interleaved(agents: list[tuple[str, list[bytes], list[str]]]
                ) -> list[tuple[str, bytes, str]]:
    """(agent_id, body, event_id) of every event, the agents round-robin, each in its order:
    how a publisher sends them."""
    order: list[tuple[str, bytes, str]] = []
    longest = max(len(b) for _, b, _ in agents)
    for i in range(longest):
        for agent_id, bodies, ids in agents:
            if i < len(bodies):
                order.append((agent_id, bodies[i], ids[i]))
    return order


def worker_floor(agents: list[tuple[str, list[bytes], list[str]]], database_url: str,
                 batch_size: int) -> dict[str, float]:
    """This process's CPU an event for what a worker does besides NATS, on the run's bodies in
    the order the publishers send them, one after the other: parsing and validating each body
    (`parse_event`, as the worker's decoder does), then recording them `batch_size` at a time
    (`ContextStore.record`, as its record thread does) into a schema of its own, the process
    tuned as ingest tunes it. Their sum is a floor under the worker's CPU an event: the rest
    is the NATS client, asyncio and the acknowledgements."""
    from ctxstore.application.commands import EventLimits, parse_event
    from ctxstore.infrastructure.bootstrap import build_store
    from ctxstore.infrastructure.process_tuning import tune_process
    from ctxstore.infrastructure.settings import Settings

    tune_process(Settings())
    order = interleaved(agents)
    limits = EventLimits()
    started = time.process_time()
    envelopes = [parse_event(body, agent_id, limits, where="subject")
                 for agent_id, body, _ in order]
    parse_s = time.process_time() - started
    schema = fresh_schema(database_url)
    try:
        store = build_store(Settings(storage_backend="postgres", database_url=database_url,
                                     database_schema=schema))
        started = time.process_time()
        for i in range(0, len(envelopes), batch_size):
            store.record(envelopes[i:i + batch_size])
        record_s = time.process_time() - started
        store.close()
    finally:
        drop_schema(libpq_dsn(database_url), schema)
    parse_us, record_us = parse_s / len(order) * 1e6, record_s / len(order) * 1e6
    return {"parse_and_validate": round(parse_us, 1), "record": round(record_us, 1),
            "sum": round(parse_us + record_us, 1), "target_worker": WORKER_TARGET_US}


def publisher_main(url: str, prefix: str, agents: list[tuple[str, list[bytes], list[str]]],
                   sampled: set[str], start_at: float, rate: float | None, out: Any) -> None:
    """One publisher process: agents interleaved round-robin, each agent's events in order;
    as fast as it can, or paced at `rate` events/s."""
    import nats

    from ctxstore.infrastructure.messaging.subjects import MSG_ID, Subjects

    async def run() -> dict[str, float]:
        nc = await nats.connect(url)
        js = nc.jetstream(publish_async_max_pending=4096)
        subjects = Subjects(prefix=prefix)
        order = interleaved(agents)
        sent: dict[str, float] = {}
        while time.time() < start_at:
            await asyncio.sleep(0.001)
        cpu_start = time.process_time()
        futures = []
        for n, (agent_id, body, event_id) in enumerate(order):
            if rate is not None:
                ahead = start_at + n / rate - time.time()
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
            if agent_id in sampled:
                sent[event_id] = time.time()
            futures.append(await js.publish_async(subjects.events(agent_id), body,
                                                  headers={MSG_ID: event_id}))
            if len(futures) >= 2000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
        await nc.close()
        sent["_cpu_s"] = time.process_time() - cpu_start
        return sent

    out.send(asyncio.run(run()))


async def create_streams(url: str, subjects: Any) -> None:
    import nats

    from ctxstore.infrastructure.messaging.streams import ensure_streams

    nc = await nats.connect(url)
    try:
        await ensure_streams(nc, subjects)
    finally:
        await nc.close()


async def wait_consumers(url: str, stream: str, durables: list[str], timeout: float,
                         poll: float = 0.1) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    try:
        for durable in durables:
            while True:
                try:
                    await js.consumer_info(stream, durable)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(poll)
    finally:
        await nc.close()


async def follow(url: str, prefix: str, sampled: set[str], received: dict[str, float],
                 ready: asyncio.Event, done: asyncio.Event) -> None:
    import nats

    nc = await nats.connect(url)

    async def on_msg(msg: Any) -> None:
        received[json.loads(msg.data)["event_id"]] = time.time()

    for agent_id in sampled:
        await nc.subscribe(f"{prefix}.recorded.{agent_id}", cb=on_msg)
    await nc.flush()
    ready.set()
    await done.wait()
    await nc.flush()
    await nc.close()


def raw_baseline(dsn: str, schema: str, batch: int, runs: int = 3) -> dict[str, Any]:
    """executemany of the rows the run stored into a twin table, committing each batch.

    The best of `runs` fresh twin tables: one run right after the ingest varies by a third
    with what PostgreSQL is flushing, and the best makes the ratio the conservative one.
    """
    with psycopg.connect(dsn, autocommit=False) as conn:
        rows = conn.execute(
            f'SELECT originator_id, originator_version, topic, state '
            f'FROM "{schema}".ctxstore_events ORDER BY notification_id').fetchall()
        conn.commit()
        rates = []
        for run in range(runs):
            table = f'"{schema}".raw_events_{run}'
            conn.execute(f'CREATE TABLE {table} (LIKE "{schema}".ctxstore_events INCLUDING ALL)')
            conn.commit()
            sql = (f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                   "VALUES (%s, %s, %s, %s)")
            started = time.perf_counter()
            with conn.cursor() as cur:
                for i in range(0, len(rows), batch):
                    cur.executemany(sql, rows[i:i + batch])
                    conn.commit()
            rates.append(len(rows) / (time.perf_counter() - started))
    return {"rows": len(rows), "runs_rows_per_s": [round(r) for r in rates],
            "rows_per_s": round(max(rates))}


def cpu_budget(cpu_s: dict[str, float], events: int, raw_rows_per_s: float,
               ratio: float = 0.25) -> dict[str, Any]:
    """What the machine's cores leave the workers, from the CPU the other parties spent.

    Everything shares this machine, so the NATS server, PostgreSQL and (live) the publishers
    bound the rate even with workers that cost nothing: `cores` over their CPU per event. And
    to reach `ratio` times the raw baseline, a worker may spend at most what that rate leaves
    of the cores per event (negative: out of reach here, whatever the worker does).
    """
    cores = os.cpu_count() or 1
    others_us = sum(used for role, used in cpu_s.items() if role != "workers") / events * 1e6
    target = ratio * raw_rows_per_s
    return {
        "cores": cores,
        "others_us_per_event": round(others_us, 1),
        "ceiling_events_per_s_with_free_workers": round(cores / others_us * 1e6)
        if others_us else None,
        "target_ratio": ratio,
        "worker_us_per_event_allowed_for_target": round(cores / target * 1e6 - others_us, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--quick", action="store_true", help="10,000 events")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--dictionary", action="store_true",
                        help="train a zstd dictionary on other copies of the traces first")
    parser.add_argument("--rate", type=float, default=None,
                        help="offered events/s in all (default: as fast as publishers can)")
    parser.add_argument("--preload", action="store_true",
                        help="publish everything first, then time the workers draining it")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--fetch-size", type=int, default=500)
    parser.add_argument("--nats-url", default=os.environ.get("CONTEXT_NATS_URL",
                                                             DEFAULT_NATS_URL))
    parser.add_argument("--database-url", default=os.environ.get("CONTEXT_DATABASE_URL",
                                                                 DEFAULT_DSN))
    args = parser.parse_args()
    total = 10_000 if args.quick else args.events

    agents = load_agents(total)
    total = sum(len(b) for _, b, _ in agents)
    url, started_nats = jetstream_url(args.nats_url)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    schema = fresh_schema(args.database_url)
    dsn = libpq_dsn(args.database_url)
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "postgres",
           "CONTEXT_DATABASE_URL": args.database_url, "CONTEXT_DATABASE_SCHEMA": schema,
           "CONTEXT_NATS_URL": url, "CONTEXT_NATS_PREFIX": prefix,
           "CONTEXT_NATS_PARTITIONS": str(args.partitions),
           "CONTEXT_STORAGE_PATH": tempfile.mkdtemp(prefix="bench-ingest-")}

    from ctxstore.infrastructure.bootstrap import build_store
    from ctxstore.infrastructure.messaging.subjects import Subjects
    from ctxstore.infrastructure.settings import Settings

    bench_settings = Settings(**{k[8:].lower(): v for k, v in env.items()
                                 if k.startswith("CONTEXT_")})
    store = build_store(bench_settings)  # tables first
    warmed = 0
    if args.dictionary:
        # A store in service has a trained dictionary (`ctxstore compression train`): record
        # other copies of the traces, train on them, and let the workers write with it.
        from ctxstore.domain.events import parse_envelope
        from ctxstore.infrastructure.bootstrap import dictionary_catalog
        from ctxstore.infrastructure.persistence.dictionary_training import train_dictionary

        warm = [parse_envelope(b) for agent_id, bodies, _ in load_agents(10_000, tag="warm")
                for b in bodies]
        for i in range(0, len(warm), 1000):
            store.record(warm[i:i + 1000])
        warmed = len(warm)
        train_dictionary(store, dictionary_catalog(bench_settings))
    store.close()
    subjects = Subjects(prefix=prefix, partitions=args.partitions)
    durables = [subjects.durable(p) for p in range(args.partitions)]
    workers: list[subprocess.Popen[bytes]] = []

    def start_workers() -> None:
        # One command, as a user would run it: --processes N workers, one share each.
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--processes",
             str(args.workers), "--batch-size", str(args.batch_size), "--fetch-size",
             str(args.fetch_size), "--no-rpc", "--log-level", "WARNING"],
            env=env, cwd=REPO))

    def worker_processes() -> list[int]:
        import psutil

        return [p.pid for w in workers for p in [psutil.Process(w.pid),
                                                 *psutil.Process(w.pid).children()]]

    try:
        if args.preload:
            asyncio.run(create_streams(url, subjects))
        else:
            start_workers()
            asyncio.run(wait_consumers(url, subjects.events_stream, durables, 60))
        sampled = {a for i, (a, _, _) in enumerate(agents) if i % SAMPLE_EVERY == 0}
        shares: list[list[tuple[str, list[bytes], list[str]]]] = [[] for _ in
                                                                   range(args.publishers)]
        for i, agent in enumerate(agents):
            shares[i % args.publishers].append(agent)
        received: dict[str, float] = {}

        async def run() -> tuple[float, float, dict[str, float]]:
            ready, done = asyncio.Event(), asyncio.Event()
            follower = asyncio.create_task(follow(url, prefix, sampled, received, ready, done))
            await ready.wait()
            start_at = time.time() + 2.0
            ctx = mp.get_context("spawn")
            pipes, procs = [], []
            for share in shares:
                parent, child = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=publisher_main,
                                   args=(url, prefix, share, sampled, start_at,
                                         args.rate / args.publishers if args.rate else None,
                                         child))
                proc.start()
                pipes.append(parent)
                procs.append(proc)
            sent: dict[str, float] = {}
            publisher_cpu = 0.0

            async def collect_publishers() -> None:
                nonlocal publisher_cpu
                for pipe, proc in zip(pipes, procs, strict=True):
                    got = await asyncio.to_thread(pipe.recv)
                    publisher_cpu += got.pop("_cpu_s")
                    sent.update(got)
                    proc.join()

            if args.preload:
                # The stream holds every event before a worker starts: the clock runs from
                # the moment the workers' consumers exist (they pull at once) to the last
                # commit, the rate at which a backlog drains. No publisher competes for CPU.
                await collect_publishers()
                start_workers()
                await wait_consumers(url, subjects.events_stream, durables, 60, poll=0.002)
                start_at = time.time()
            worker_pids = {"workers": worker_processes()}
            while time.time() < start_at:
                await asyncio.sleep(0.001)
            cpu_before = cpu_seconds(worker_pids)
            threads_before = thread_seconds(worker_pids["workers"])
            query = f'SELECT coalesce(sum(version), 0) FROM "{schema}".ctxstore_agents'
            with psycopg.connect(dsn, autocommit=True) as conn:
                while True:
                    count = conn.execute(query).fetchone()[0]  # type: ignore[index]
                    if count >= total + warmed:
                        break
                    await asyncio.sleep(0.02)
            finished = time.time()
            cpu_after = cpu_seconds(worker_pids)
            threads_after = thread_seconds(worker_pids["workers"])
            threads.update({k: threads_after.get(k, 0.0) - threads_before.get(k, 0.0)
                            for k in threads_after})
            cpu.update({role: cpu_after[role] - cpu_before[role] for role in cpu_after})
            if not args.preload:
                await collect_publishers()
                cpu["publishers"] = publisher_cpu
            await asyncio.sleep(0.5)
            done.set()
            await follower
            return start_at, finished, sent

        cpu: dict[str, float] = {}
        threads: dict[str, float] = {}
        start_at, finished, sent = asyncio.run(run())
        import psutil

        worker_rss = [psutil.Process(pid).memory_info().rss for pid in worker_processes()
                      if pid not in {w.pid for w in workers} or args.workers == 1]
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
    seconds = finished - start_at
    latencies = [] if args.preload else sorted((received[e] - sent[e]) * 1000 for e in sent
                                               if e in received)
    with psycopg.connect(dsn, autocommit=True) as conn:
        transactions = conn.execute(  # each transaction that wrote events left its own xmin
            f'SELECT count(DISTINCT xmin::text) FROM "{schema}".ctxstore_events').fetchone()[0]  # type: ignore[index]
    baseline = raw_baseline(dsn, schema, args.batch_size)
    events_per_s = total / seconds
    result = {
        "benchmark": "ingest_nats",
        "mode": "preload (drain a backlog)" if args.preload else "live (publish while ingesting)",
        "offered_rate": args.rate,
        "dictionary": args.dictionary,
        "events": total,
        "agents": len(agents),
        "publishers": args.publishers,
        "workers": args.workers,
        "partitions": args.partitions,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 3),
        "events_per_s": round(events_per_s),
        "latency_ms": {
            "sampled": len(latencies),
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p99": round(latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
        },
        # From the first publication to the last commit: what one event cost each party in
        # CPU (all of them share the machine's cores in this benchmark).
        "cpu_us_per_event": {role: round(used / total * 1e6, 1) for role, used in cpu.items()},
        # The workers' CPU by thread: the event loop (receiving, decoding and acknowledging
        # messages, announcing) and the others (the recording thread, libraries' threads).
        "worker_threads_cpu_us_per_event": {k: round(v / total * 1e6, 1)
                                            for k, v in threads.items()},
        "cores_busy": round(sum(cpu.values()) / seconds, 2),
        "cpu_budget": cpu_budget(cpu, total, baseline["rows_per_s"]),
        "events_per_transaction": round(total / max(1, transactions - -(-warmed // 1000)), 1),
        "worker_rss_mb": [round(rss / 2**20) for rss in worker_rss],
        "baseline_raw_executemany": baseline,
        "ratio": round(events_per_s / baseline["rows_per_s"], 3),
        "nats_server": (nats_info(url) or {}).get("version"),
    }
    drop_schema(dsn, schema)
    if started_nats is not None:
        started_nats.stop()
    # Issue 16's target for a worker, against what it cannot do without (measured apart).
    result["worker_floor_us_per_event"] = worker_floor(agents, args.database_url,
                                                       args.batch_size)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
