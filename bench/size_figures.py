"""Issue 16's size figures on one real-trace agent on PostgreSQL: what a read, a fork and a
rewind cost as the context grows, and what each writes. JSON on stdout.

Loads --events real-trace events (bench.restore's cycled traces: the context grows with the
history) with the store's own snapshot policy, then, with a store that has the agent cached:
- `read_new_version`: `context` of the latest version right after one more event was recorded
  (a version never read: its content hash is not known yet), p50/p99;
- `tail50_new_version`: the same read windowed to the last 50 messages (domain.window);
- `read_past_version`: `context` at random past versions (snapshot + events after it);
- `decode_state`: json.loads of the state's canonical JSON, the least a full read can cost;
- `hash_from_nothing`: the content hash computed from the content alone;
- `fork` and `rewind`: the restore use case (fork: latest into a new agent; rewind: the agent
  to a past version of itself), p50, and the rows and stored bytes one of each adds (counted
  per table of the schema before and after it);
- `stored`: event and snapshot bytes (snapshot bytes / event bytes).

Runs on any ctxstore tree that has bench/restore.py (copy it next to that one), so the same
figures can be measured on main for comparison:

    .venv/bin/python bench/size_figures.py --events 10000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from bench.common import drop_schema, fresh_schema, latency_summary  # noqa: E402
from bench.restore import (  # noqa: E402
    TRACES,
    cycled,
    load,
    real_events,
    restorer,
    stored_sizes,
    timed,
)
from ctxstore.domain.state import canonical_json, content_hash, content_of  # noqa: E402
from ctxstore.domain.window import tail_window  # noqa: E402
from ctxstore.infrastructure.bootstrap import build_store  # noqa: E402
from ctxstore.infrastructure.persistence.dsn import libpq_dsn  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402


def table_rows_and_bytes(dsn: str, schema: str) -> dict[str, tuple[int, int]]:
    """Rows of each table of the schema, and the stored bytes of the event-store tables."""
    out: dict[str, tuple[int, int]] = {}
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE'", (schema,))]
        for table in tables:
            has_state = conn.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND "
                "table_name = %s AND column_name = 'state'", (schema, table)).fetchone()
            size = "sum(octet_length(state))" if has_state else "0"
            row = conn.execute(f'SELECT count(*), coalesce({size}, 0) '  # type: ignore[arg-type]
                               f'FROM "{schema}"."{table}"').fetchone()
            assert row is not None
            out[table] = (int(row[0]), int(row[1]))
    return out


def written_by(dsn: str, schema: str, action: Any) -> dict[str, Any]:
    before = table_rows_and_bytes(dsn, schema)
    action()
    after = table_rows_and_bytes(dsn, schema)
    rows = {t: after[t][0] - before.get(t, (0, 0))[0] for t in after
            if after[t][0] != before.get(t, (0, 0))[0]}
    state_bytes = sum(after[t][1] - before.get(t, (0, 0))[1] for t in after)
    return {"rows": sum(rows.values()), "rows_by_table": rows, "state_bytes": state_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--restores", type=int, default=8)
    parser.add_argument("--traces", type=Path, default=TRACES)
    parser.add_argument("--dsn", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    schema = fresh_schema(args.dsn, "sizefig")
    settings = Settings(storage_backend="postgres", database_url=args.dsn,
                        database_schema=schema)
    out: dict[str, Any] = {"benchmark": "size_figures",
                           "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                           "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    key = "sizefig"
    try:
        base, info, _ = real_events(args.traces)
        events = cycled(base, key, args.events + 10 * (args.reads + 2))
        store = build_store(settings)
        out["load"] = load(store, events, args.events, 1000)
        out["stored"] = stored_sizes(args.dsn, schema)
        state = store.context(key)
        raw = canonical_json(content_of(state))
        out["state_canonical_bytes"] = len(raw)
        out["decode_state"] = latency_summary([timed(json.loads, raw) for _ in range(5)])
        out["hash_from_nothing"] = latency_summary(
            [timed(content_hash, state) for _ in range(5)])
        del state, raw

        def next_version() -> None:
            store.record([next(events)])

        full: list[float] = []
        tail: list[float] = []
        for _ in range(args.reads):
            next_version()
            full.append(timed(store.context, key))
            next_version()
            tail.append(timed(lambda: tail_window(store.context(key), 50)))
        out["read_new_version"] = latency_summary(full)
        out["tail50_new_version"] = latency_summary(tail)
        latest = store.context(key)["version"]
        rng = random.Random(args.events)
        points = rng.sample(range(latest // 2, latest), args.reads)
        out["read_past_version"] = latency_summary(
            [timed(store.context, key, version=v) for v in points])

        restore, _ = restorer(store, settings)
        forks = [timed(restore, key, latest, f"{key}-fork-{i}") for i in range(args.restores)]
        out["fork"] = {**latency_summary(forks), "one_fork_writes": written_by(
            args.dsn, schema, lambda: restore(key, latest, f"{key}-fork-measured"))}
        rewinds = [timed(restore, key, v, key) for v in points[:args.restores]]
        out["rewind"] = {**latency_summary(rewinds), "one_rewind_writes": written_by(
            args.dsn, schema, lambda: restore(key, points[0], key))}
        out["stored_after"] = stored_sizes(args.dsn, schema)
        store.close()
    finally:
        drop_schema(args.dsn, schema)
    out["traces"] = info
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
