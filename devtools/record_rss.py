"""RSS of one process recording the soak's traffic for a long while: does it settle?

The soak (devtools/soak.py) watches whole processes; this takes the NATS worker and the HTTP
server away and records the same traffic (real-trace agents, 25 live, replaced as their traces
end; 4 events a batch) straight into a store on PostgreSQL, printing the RSS and the aggregate
cache's contents every `--step` events, so growth of the recording path alone shows.

    python -m devtools.record_rss --cache-mb 4 --steps 40     # 80,000 events
    python -m devtools.record_rss --cache-mb 0                # no aggregate cache

Prints one JSON line a step.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import drop_schema, fresh_schema  # noqa: E402
from ctxstore.domain.events import parse_envelope  # noqa: E402
from ctxstore.infrastructure.bootstrap import build_store  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402
from devtools.soak import Traffic, default_traces, load_traces  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-mb", type=float, default=4.0)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--step", type=int, default=2000, help="events a step")
    parser.add_argument("--threads", type=int, default=0,
                        help="record each batch on one of this many threads in turn, as the "
                        "ingest worker does (asyncio.to_thread); 0: on the main thread")
    parser.add_argument("--database-url", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    schema = fresh_schema(args.database_url, "rss")
    store = build_store(Settings(storage_backend="postgres", database_url=args.database_url,
                                 database_schema=schema,
                                 aggregate_cache_bytes=int(args.cache_mb * 2**20)))
    traffic = Traffic(load_traces(default_traces()), 25, "rss")
    rng = random.Random(1)
    process = psutil.Process()
    pool = ThreadPoolExecutor(args.threads) if args.threads else None

    def record(batch: list[Any]) -> None:
        if pool is None:
            store.record(batch)
        else:
            pool.submit(store.record, batch).result()

    try:
        for step in range(args.steps):
            for _ in range(args.step // 4):
                record([parse_envelope(json.dumps(traffic.next(rng)).encode())
                        for _ in range(4)])
            cache = store.agent_cache
            print(json.dumps({
                "events": (step + 1) * (args.step // 4) * 4,
                "rss_mb": round(process.memory_info().rss / 2**20, 1),
                "cache_bytes": cache.bytes if cache else 0,
                "cached_agents": len(cache) if cache else 0, "agents": traffic.made}),
                flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
        store.close()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
