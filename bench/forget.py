"""What forgetting an agent costs: the time of one `Forget` (its transaction, the part
release and the reclaim: SQLite's FTS merge and WAL truncation, PostgreSQL's VACUUM and search
index rebuild) for an agent of N events in a store of M such agents, with the projections'
rows in place; against the time the same store took to record that agent (a baseline measured
in the same run).

    python bench/forget.py                  # 20 agents x 500 events, SQLite and PostgreSQL
    python bench/forget.py --agents 5 --events 200

Prints one JSON object. NATS is left out (CONTEXT_NATS_URL unset for the run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import on_both_backends  # noqa: E402
from ctxstore.application.commands import LOCAL, Forget  # noqa: E402
from ctxstore.domain.events import make_envelope  # noqa: E402
from ctxstore.infrastructure.bootstrap import bootstrap, build_views  # noqa: E402
from ctxstore.infrastructure.projection_worker import ProjectionWorker  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402


def run(settings: Settings, agents: int, events: int) -> dict[str, Any]:
    services = bootstrap(settings)
    try:
        record_s: list[float] = []
        for a in range(agents):
            batch = [make_envelope(f"agent-{a}", "message",
                                   {"role": "user" if i % 2 else "assistant",
                                    "content": f"message {i} of agent {a}: " + "words " * 30},
                                   event_id=str(uuid.uuid4())) for i in range(events)]
            started = time.perf_counter()
            for i in range(0, events, 100):
                services.store.record(batch[i:i + 100])
            record_s.append(time.perf_counter() - started)
            services.checkpoints.capture(f"agent-{a}")
        views = build_views(settings)
        ProjectionWorker(services.store, views).run_once()
        views.factory.close()  # type: ignore[attr-defined]
        started = time.perf_counter()
        result = services.commands.forget(LOCAL, Forget(agent_id="agent-0", by="bench"))
        forget_s = time.perf_counter() - started
    finally:
        services.close()
    return {"agents": agents, "events_per_agent": events, "forget_ms": round(forget_s * 1e3, 1),
            "record_agent_ms_mean": round(sum(record_s) / len(record_s) * 1e3, 1),
            "forget_vs_record_ratio": round(forget_s / (sum(record_s) / len(record_s)), 2),
            "removed": {"events": result.events, "checkpoints": result.checkpoints,
                        "view_rows": result.view_rows}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()
    out = on_both_backends(lambda settings: run(settings, args.agents, args.events),
                           "bench_forget")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
