"""`export-af`'s codec alone: what writing an agent's state as a Letta agent file costs, and
how big the files are, beside the raw baseline of the same states as canonical JSON.

Every trace agent's events are folded into its state; each state is then
- dumped as canonical JSON (the raw baseline: the least any export writes),
- built as an agent file document and serialised (`agent_file`),
- encoded with the round-trip check `export-af` runs (`encode_state`: the file is imported
  again and folded, and must give the state's content hash).
Each is timed over `--runs` runs (process CPU time and wall time; the median run reported),
per agent and per MB of raw state.

    python bench/letta_export.py                       # the shared traces, 5 runs
    python bench/letta_export.py --traces ctxstore/infrastructure/samples/traces --runs 3

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import trace_agents  # noqa: E402
from ctxstore.domain.state import (  # noqa: E402
    apply_event,
    canonical_json,
    content_hash,
    empty_content,
)
from ctxstore.infrastructure.importers.letta_export import (  # noqa: E402
    agent_file,
    encode_state,
)

TRACES = Path("/work/shared/data/traces")


def states(root: Path) -> tuple[list[dict[str, Any]], int]:
    agents, files = trace_agents(root)
    out = []
    for n, envelopes in enumerate(agents):
        content = empty_content()
        for envelope in envelopes:
            apply_event(content, envelope.type, envelope.data_dict())
        out.append({**content, "agent_id": f"bench-{n}", "version": len(envelopes),
                    "as_of": None, "content_hash": content_hash(content)})
    return out, files


def timed(work: Callable[[dict[str, Any]], bytes], all_states: list[dict[str, Any]],
          runs: int) -> dict[str, Any]:
    cpu, wall, size = [], [], 0
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        size = sum(len(work(state)) for state in all_states)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"bytes": size, "cpu_s_median": round(statistics.median(cpu), 4),
            "wall_s_median": round(statistics.median(wall), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=TRACES)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    all_states, files = states(args.traces)
    raw = timed(canonical_json, all_states, args.runs)
    built = timed(lambda s: json.dumps(agent_file(s), ensure_ascii=False).encode("utf-8"),
                  all_states, args.runs)
    checked = timed(encode_state, all_states, args.runs)
    mb = raw["bytes"] / 1e6
    result = {
        "traces": str(args.traces), "files": files, "agents": len(all_states),
        "runs": args.runs, "raw_state_json": raw, "agent_file": built,
        "agent_file_with_round_trip_check": checked,
        "size_vs_raw": round(built["bytes"] / raw["bytes"], 3),
        "cpu_ms_per_agent": {k: round(v["cpu_s_median"] * 1000 / len(all_states), 3)
                             for k, v in (("raw", raw), ("agent_file", built),
                                          ("with_check", checked))},
        "cpu_s_per_raw_mb": {k: round(v["cpu_s_median"] / mb, 4)
                             for k, v in (("raw", raw), ("agent_file", built),
                                          ("with_check", checked))},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
