"""Recording throughput of ContextStore.record into PostgreSQL, against raw psycopg in the same run.

Events are real traces (tau-bench by default, through infrastructure.importers), copied under
fresh agent and event ids until the wanted volume is reached, several agents interleaved in
each transaction as an ingest worker sees them. For each batch size (events per transaction:
1, 100, 1,000 by default) a fresh schema gets:

- the store: `ContextStore.record(batch)` per batch (validation done beforehand, as the ingest
  path has already parsed the envelopes): events/s;
- the baseline: the very rows the store wrote to its events table (same sizes, compressed
  state), copied into a twin table with raw psycopg `executemany`, committing every batch of
  the same size; and with `COPY` (one per batch). Ratio = store events/s / raw events/s.

Stored bytes: the events table's state column per event, against the envelope's JSON. The
hash chain's share of the store's client CPU: its links recomputed over the stored rows, keyed
and plain (`chain_*_client_cpu_us_per_event`); zstd's, the rows' payloads compressed again as
the store does (`zstd_client_cpu_us_per_event`). `targets`: issue 16 item 6's, each as
[measured, target, met].

    python bench/store.py              # 2,000 / 50,000 / 100,000 events
    python bench/store.py --quick      # 300 / 5,000 / 20,000 events
    python bench/store.py --profile    # also cProfile the 1,000-per-transaction path (stderr)

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import drop_schema, fresh_schema, trace_agents  # noqa: E402
from ctxstore.application.chain import GENESIS, EventChain  # noqa: E402
from ctxstore.domain.agent_id import aggregate_id  # noqa: E402
from ctxstore.domain.events import AnyEnvelope  # noqa: E402
from ctxstore.infrastructure.bootstrap import build_store  # noqa: E402
from ctxstore.infrastructure.persistence.builtin_dictionary import (  # noqa: E402
    BUILTIN_DICTIONARY_ID,
)
from ctxstore.infrastructure.persistence.zstd_compressor import ZstdCompressor  # noqa: E402
from ctxstore.infrastructure.process_tuning import tune_process  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402
from devtools.services import DEFAULT_DSN, ensure_postgres, libpq_dsn  # noqa: E402

TRACES = Path("/work/shared/data/traces/tau-bench")
ACTIVE_AGENTS = 32  # agents interleaved in the stream at any time


def event_stream(templates: list[list[AnyEnvelope]], run: str) -> Iterator[AnyEnvelope]:
    """Endless real-trace events: ACTIVE_AGENTS copies interleaved, each in its trace's order.

    A copy that reaches the end of its trace is replaced by a copy of the next trace agent
    under a new agent id, so every agent's history stays a valid trace (memory updates follow
    their memory) and event ids never repeat.
    """
    sources = itertools.cycle(range(len(templates)))
    copies = itertools.count()

    def new_agent() -> Iterator[AnyEnvelope]:
        n = next(copies)
        agent_id = f"{run}-{n}"
        for i, e in enumerate(templates[next(sources)]):
            yield e.model_copy(update={"agent_id": agent_id, "event_id": f"{agent_id}-{i}"})

    active = [new_agent() for _ in range(ACTIVE_AGENTS)]
    while True:
        for k in range(ACTIVE_AGENTS):
            envelope = next(active[k], None)
            if envelope is None:
                active[k] = new_agent()
                envelope = next(active[k])
            yield envelope


def run_store(dsn: str, schema: str, batches: list[list[AnyEnvelope]],
              profile: bool) -> tuple[float, float, str | None]:
    """Seconds to record every batch, one transaction each (wall, and this process's CPU);
    and the profile text if asked."""
    settings = Settings(storage_backend="postgres", database_url=dsn, database_schema=schema)
    store = build_store(settings)
    # CPU time, not wall time: on a shared machine waits and preemption would swamp it.
    profiler = cProfile.Profile(time.process_time) if profile else None
    try:
        # Warm up on agents of their own (connections, prepared statements, code paths).
        for envelope in batches[0][:5]:
            store.record([envelope.model_copy(update={"agent_id": "warm-up",
                                                      "event_id": "w" + envelope.event_id})])
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for batch in batches:
            result = store.record(batch)
            if result.recorded != len(batch):
                raise SystemExit(f"store rejected events: {result.rejected[:3]}")
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        store.close()
    text = None
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        text = out.getvalue()
    return elapsed, cpu, text


def stored_rows(dsn: str, schema: str) -> list[tuple[Any, ...]]:
    """The events table's rows the timed run wrote (not the warm-up agent's)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f'SELECT originator_id, originator_version, topic, state FROM "{schema}".'
            "ctxstore_events WHERE originator_id <> %s ORDER BY notification_id",
            (aggregate_id("warm-up"),),
        ).fetchall()


def run_raw(dsn: str, schema: str, rows: list[tuple[Any, ...]], batch: int) -> dict[str, float]:
    """Seconds for executemany and for COPY of the rows into a twin table, per batch."""
    out: dict[str, float] = {}
    for method in ("executemany", "copy"):
        table = f'"{schema}".raw_{method}'
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE {table} (originator_id uuid NOT NULL, originator_version bigint "
                "NOT NULL, topic text, state bytea, notification_id bigserial, "
                "PRIMARY KEY (originator_id, originator_version))"
            )
            conn.execute(f"CREATE UNIQUE INDEX ON {table} (notification_id)")
            insert = (f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                      "VALUES (%s, %s, %s, %s)")
            copy = f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN"
            started = time.perf_counter()
            for i in range(0, len(rows), batch):
                chunk = rows[i:i + batch]
                with conn.transaction(), conn.cursor() as cur:
                    if method == "executemany":
                        cur.executemany(insert, chunk)
                    else:
                        with cur.copy(copy) as cp:
                            for row in chunk:
                                cp.write_row(row)
            out[method] = time.perf_counter() - started
    return out


def chain_cost(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """Client CPU an event of the hash chain (application.chain) over the very rows the store
    wrote, keyed (HMAC-SHA-256) and plain (SHA-256): the part of the store's figure above
    that tamper evidence costs."""
    out: dict[str, float] = {}
    for name, chain in (("hmac_sha256", EventChain(b"bench-integrity-key")),
                        ("sha256", EventChain(None))):
        link = chain.link
        previous = GENESIS
        started = time.process_time()
        for originator_id, version, topic, state in rows:
            previous = link(previous, originator_id, version, topic, state)
        out[f"chain_{name}_client_cpu_us_per_event"] = round(
            (time.process_time() - started) * 1e6 / len(rows), 2)
    return out


def zstd_cost(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """Client CPU an event of compressing the very rows the store wrote (their payloads, as
    the store's default compressor does: the built-in dictionary below 2 kB): the part of the
    store's figure that zstd costs."""
    compressor = ZstdCompressor(active_dictionary_id=BUILTIN_DICTIONARY_ID)
    payloads = [compressor.decompress(bytes(r[3])) for r in rows]
    started = time.process_time()
    for payload in payloads:
        compressor.compress(payload)
    return {"zstd_client_cpu_us_per_event": round(
        (time.process_time() - started) * 1e6 / len(rows), 2)}


# Issue 16 item 6: client CPU an event at 1,000 a transaction and at one, and the rate against
# raw `executemany` in the same run.
TARGETS = {"client_cpu_us_per_event_at_1000": 15.0, "ratio_vs_executemany_at_1000": 0.5,
           "client_cpu_us_per_event_at_1": 300.0}


def targets(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each target measured in this run, as [measured, target, met]."""
    by_size = {r["events_per_transaction"]: r for r in results}
    out: dict[str, Any] = {}
    if 1000 in by_size:
        r = by_size[1000]
        cpu = r["store_client_cpu_ms_per_1000"]
        out["client_cpu_us_per_event_at_1000"] = [
            cpu, TARGETS["client_cpu_us_per_event_at_1000"],
            cpu <= TARGETS["client_cpu_us_per_event_at_1000"]]
        out["ratio_vs_executemany_at_1000"] = [
            r["ratio_store_vs_executemany"], TARGETS["ratio_vs_executemany_at_1000"],
            r["ratio_store_vs_executemany"] >= TARGETS["ratio_vs_executemany_at_1000"]]
    if 1 in by_size:
        cpu = by_size[1]["store_client_cpu_ms_per_1000"]
        out["client_cpu_us_per_event_at_1"] = [cpu, TARGETS["client_cpu_us_per_event_at_1"],
                                                cpu <= TARGETS["client_cpu_us_per_event_at_1"]]
    return out


def sizes(dsn: str, schema: str, rows: list[tuple[Any, ...]],
          batches: list[list[AnyEnvelope]]) -> dict[str, float]:
    events = sum(len(b) for b in batches)
    raw_json = sum(len(e.model_dump_json(exclude_none=True)) for b in batches for e in b)
    state = sum(len(r[3]) for r in rows)
    with psycopg.connect(dsn) as conn:
        total = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' "
            "AND c.relname NOT LIKE 'raw_%%'", (schema,)
        ).fetchone()
    return {
        "raw_json_bytes_per_event": round(raw_json / events, 1),
        "stored_state_bytes_per_event": round(state / len(rows), 1),
        "stored_vs_raw_json": round(state / len(rows) / (raw_json / events), 3),
        "on_disk_bytes_per_event_all_tables": round(int(total[0] or 0) / events, 1)
        if total else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small volumes")
    parser.add_argument("--traces", type=Path, default=TRACES, help="trace file or folder")
    parser.add_argument("--batch-sizes", default="1,100,1000")
    parser.add_argument("--events", default=None,
                        help="events per batch size, comma separated, or one count for every "
                             "size (default by --quick)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the largest batch size's store run (to stderr)")
    parser.add_argument("--keep", action="store_true", help="keep the bench schemas")
    args = parser.parse_args()

    sizes_list = [int(s) for s in args.batch_sizes.split(",")]
    if args.events:
        totals = [int(n) for n in args.events.split(",")]
        if len(totals) == 1:
            totals *= len(sizes_list)
        elif len(totals) != len(sizes_list):
            parser.error(f"--events: {len(totals)} counts for {len(sizes_list)} batch sizes; "
                         "give one count, or one for each size")
    else:
        default = {1: 2_000, 100: 50_000, 1000: 100_000}
        quick = {1: 300, 100: 5_000, 1000: 20_000}
        table = quick if args.quick else default
        totals = [table.get(b, 20 * b) for b in sizes_list]
    handle = ensure_postgres(os.environ.get("CONTEXT_DATABASE_URL") or DEFAULT_DSN)
    dsn = libpq_dsn(handle.dsn)
    templates, _files = trace_agents(args.traces)
    if not templates:
        raise SystemExit(f"no trace agents under {args.traces}")
    # The store runs tuned as in ingest and serve: measure it so too.
    process_settings = Settings()
    gc_young_threshold = process_settings.gc_young_threshold
    tune_process(process_settings)  # the collector and glibc's thresholds, as ingest sets them
    results: list[dict[str, Any]] = []
    profile_text = None
    byte_figures: dict[str, float] = {}
    try:
        for batch_size, total in zip(sizes_list, totals, strict=True):
            stream = event_stream(templates, f"b{batch_size}-{uuid.uuid4().hex[:6]}")
            events = list(itertools.islice(stream, total))
            batches = [events[i:i + batch_size] for i in range(0, total, batch_size)]
            schema = fresh_schema(dsn, "bench_store")
            try:
                profile = args.profile and batch_size == max(sizes_list)
                seconds, cpu, text = run_store(dsn, schema, batches, profile)
                profile_text = text or profile_text
                rows = stored_rows(dsn, schema)
                if len(rows) != total:
                    raise SystemExit(f"expected {total} stored events, found {len(rows)}")
                raw = run_raw(dsn, schema, rows, batch_size)
                store_eps = total / seconds
                results.append({
                    "events_per_transaction": batch_size,
                    "events": total,
                    "agents": len({e.agent_id for e in events}),
                    "store_events_per_s": round(store_eps),
                    "store_client_cpu_ms_per_1000": round(cpu * 1e6 / total, 1),
                    "raw_executemany_events_per_s": round(total / raw["executemany"]),
                    "raw_copy_events_per_s": round(total / raw["copy"]),
                    "ratio_store_vs_executemany": round(store_eps * raw["executemany"] / total,
                                                        3),
                    "ratio_store_vs_copy": round(store_eps * raw["copy"] / total, 3),
                    "profiled": profile,
                    **chain_cost(rows),
                    **zstd_cost(rows),
                })
                if batch_size == max(sizes_list):
                    byte_figures = sizes(dsn, schema, rows, batches)
            finally:
                if not args.keep:
                    drop_schema(dsn, schema)
    finally:
        handle.stop()
    if profile_text:
        print(profile_text, file=sys.stderr)
    bar = next((r for r in results if r["events_per_transaction"] == 1000), None)
    print(json.dumps({
        "bench": "store",
        "traces": str(args.traces),
        "trace_agents": len(templates),
        "trace_events": sum(len(t) for t in templates),
        "postgres": handle.dsn.rsplit("@", 1)[-1],
        "gc_young_threshold": gc_young_threshold,
        "malloc_mmap_threshold": process_settings.malloc_mmap_threshold,
        "results": results,
        "bytes": byte_figures,
        "bar_10k_events_per_s_at_1000": (bar["store_events_per_s"] >= 10_000) if bar else None,
        "targets": targets(results),
    }, indent=2))


if __name__ == "__main__":
    main()
