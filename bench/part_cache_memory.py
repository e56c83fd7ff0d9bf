"""How much memory the decoded parts cache holds per JSON byte it counts.

The part cache (application.part_cache) is bounded by the JSON bytes of the parts it holds,
which cost a `len` to count; this measures the factor between them and the Python objects those
parts keep alive, so `CONTEXT_PART_CACHE_BYTES` can say what it means in memory. One agent of
the real traces' events (cycled, as bench/restore.py does) is recorded into a throwaway SQLite
store, then read at an earlier version with the agent cache off (every part decoded once, into
the part cache) under tracemalloc.

    python bench/part_cache_memory.py --events 10000

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.restore import TRACES, cycled, load, real_events  # noqa: E402
from ctxstore.infrastructure.bootstrap import build_store  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=Path, default=TRACES)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    base, _, _ = real_events(args.traces)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(storage_backend="sqlite", storage_path=Path(folder),
                            aggregate_cache_size=0, part_cache_bytes=1 << 40)
        loader = build_store(settings)
        load(loader, cycled(base, "bench", args.events), args.events, 5000, 3600)
        loader.close()
        reader = build_store(settings)
        assert reader.part_content is not None and reader.part_content.cache is not None
        cache = reader.part_content.cache
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        reader.context("bench", version=max(1, args.events - 50))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        reader.close()
    print(json.dumps({"benchmark": "part_cache_memory", "events": args.events,
                      "parts_held": len(cache), "cache_json_bytes": cache.bytes,
                      "python_bytes_held": held,
                      "python_bytes_per_json_byte": round(held / cache.bytes, 2)}, indent=2))


if __name__ == "__main__":
    main()
