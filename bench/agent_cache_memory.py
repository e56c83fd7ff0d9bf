"""How much memory a folded agent holds per stored byte it was folded from.

The aggregate cache (application.agent_cache) is bounded by stored (compressed) bytes, which
cost nothing to count; this measures the factor between them and the Python objects a fold
keeps alive, so the budget's setting can say what it means in memory. Every trace agent is
recorded into a throwaway SQLite store, then folded one by one from its latest snapshot and
events (as a cache miss does) under tracemalloc.

    python bench/agent_cache_memory.py            # traces under /work/shared/data/traces
    python bench/agent_cache_memory.py --traces ctxstore/infrastructure/samples/traces

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import trace_agents  # noqa: E402
from ctxstore.domain.agent_id import aggregate_id  # noqa: E402
from ctxstore.infrastructure.bootstrap import build_store  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=Path, default=Path("/work/shared/data/traces"))
    args = parser.parse_args()
    agents, files = trace_agents(args.traces)
    with tempfile.TemporaryDirectory() as folder:
        store = build_store(Settings(storage_backend="sqlite", storage_path=Path(folder),
                                     aggregate_cache_size=0))
        for envelopes in agents:
            for start in range(0, len(envelopes), 500):
                store.record(envelopes[start:start + 500])
        stored_total = memory_total = 0
        ratios: list[float] = []
        tracemalloc.start()
        for envelopes in agents:
            originator_id = aggregate_id(envelopes[0].agent_id)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            agent, size = store.fold_heads([originator_id])[originator_id]
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
            del agent
            stored_total += size
            memory_total += held
            ratios.append(held / size)
        tracemalloc.stop()
        store.close()
    print(json.dumps({
        "bench": "agent_cache_memory", "trace_files": files, "agents": len(agents),
        "events": sum(map(len, agents)), "stored_bytes": stored_total,
        "folded_memory_bytes": memory_total,
        "memory_per_stored_byte": round(memory_total / stored_total, 2),
        "per_agent": {"median": round(statistics.median(ratios), 2),
                      "max": round(max(ratios), 2)},
    }))


if __name__ == "__main__":
    main()
