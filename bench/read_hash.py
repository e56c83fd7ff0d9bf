"""What `content_hash` costs a read, and what a second read of the same version costs now that
the store keeps each read version's hash and each agent its parts' addresses (issue 16 item 4).

One agent of real-trace events (every trace under --traces, cycled; the context grows) on
PostgreSQL. For the latest version and a past one: the first read (folds and hashes the parts
not known yet: `first_read_hashed_bytes`), then --reads more reads of the same version, and
the hash alone on that state computed from nothing. Prints JSON.

    python bench/read_hash.py [--events 10000] [--reads 15] [--traces DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import drop_schema, fresh_schema, latency_summary  # noqa: E402
from bench.restore import TRACES, cycled, load, real_events  # noqa: E402
from ctxstore.domain import pages  # noqa: E402
from ctxstore.domain.state import canonical_json, content_hash  # noqa: E402
from ctxstore.infrastructure.bootstrap import build_store  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402

HASHED = {"bytes": 0}
_real_address = pages.address


def counted_address(raw: bytes) -> str:
    HASHED["bytes"] += len(raw)
    return _real_address(raw)


def ms(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=15)
    parser.add_argument("--traces", type=Path, default=TRACES)
    parser.add_argument("--dsn", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    schema = fresh_schema(args.dsn, "readhash")
    out: dict[str, Any] = {"events": args.events, "backend": "postgres"}
    try:
        store = build_store(Settings(storage_backend="postgres", database_url=args.dsn,
                                     database_schema=schema))
        base, info, _ = real_events(args.traces)
        out["traces"] = info
        out["load"] = load(store, cycled(base, "reader", args.events), args.events, 1000)
        pages.address = counted_address  # every SHA-256 of the tree hash goes through it
        for name, version in (("latest", None), ("past", args.events // 2 + 7)):
            hashed = HASHED["bytes"]
            first = ms(lambda v=version: store.context("reader", version=v))  # type: ignore[misc]
            first_hashed = HASHED["bytes"] - hashed
            hashed = HASHED["bytes"]
            again = [ms(lambda v=version: store.context("reader", version=v))  # type: ignore[misc]
                     for _ in range(args.reads)]
            again_hashed = HASHED["bytes"] - hashed
            state = store.context("reader", version=version)
            hash_ms = [ms(lambda s=state: content_hash(s)) for _ in range(5)]
            out[name] = {"version": state["version"],
                         "state_canonical_bytes": len(canonical_json(state)),
                         "first_read_ms": round(first, 2),
                         "first_read_hashed_bytes": first_hashed,
                         "again": latency_summary(again),
                         "again_hashed_bytes": again_hashed,
                         "hash_alone": latency_summary(hash_ms)}
    finally:
        pages.address = _real_address
        drop_schema(args.dsn, schema)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
