"""The fold alone: how fast real trace events fold into an agent's content, and what it gives.

Every trace agent's events (through infrastructure.importers) are folded from an empty
content, twice over: by the content fold itself (domain.state.apply_event) and by the
aggregate's replay (stored-event objects mutating an AgentContext, as a read rebuilds a past
state). Each is timed `--runs` times; the fastest run and the median are reported with the
content hash of every agent joined into one digest, so two versions of the fold can be
compared for speed and for identical results.

    python bench/fold.py              # all traces under /work/shared/data/traces, 31 runs
    python bench/fold.py --runs 9 --traces ctxstore/infrastructure/samples/traces

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import trace_agents  # noqa: E402
from ctxstore.domain.agent_id import aggregate_id  # noqa: E402
from ctxstore.domain.aggregate import AgentContext  # noqa: E402
from ctxstore.domain.state import (  # noqa: E402
    EventNotApplicable,
    apply_event,
    check_applicable,
    content_hash,
    empty_content,
)

TRACES = Path("/work/shared/data/traces")
Fold = list[tuple[str, dict[str, Any]]]


def applicable(agents: list[list[Any]]) -> list[Fold]:
    """Each agent's (type, data) pairs that apply in order from an empty content."""
    folds: list[Fold] = []
    for envelopes in agents:
        content = empty_content()
        kept: Fold = []
        for envelope in envelopes:
            data = envelope.data_dict()
            try:
                check_applicable(content, envelope.type, data)
            except EventNotApplicable:
                continue
            apply_event(content, envelope.type, data)
            kept.append((envelope.type, data))
        folds.append(kept)
    return folds


def fold_content(folds: list[Fold]) -> list[dict[str, Any]]:
    contents = []
    for pairs in folds:
        content = empty_content()
        for kind, data in pairs:
            apply_event(content, kind, data)
        contents.append(content)
    return contents


def recorded_events(folds: list[Fold]) -> list[list[AgentContext.Recorded]]:
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    streams = []
    for n, pairs in enumerate(folds):
        agent_id = f"bench-fold-{n}"
        streams.append([
            AgentContext.Recorded(originator_id=aggregate_id(agent_id), originator_version=v,
                                  timestamp=moment, agent_id=agent_id, event_id=f"e{v}",
                                  type=kind, data=data, session_id="s")
            for v, (kind, data) in enumerate(pairs, start=1)])
    return streams


def replay(streams: list[list[AgentContext.Recorded]]) -> list[dict[str, Any]]:
    contents = []
    for events in streams:
        agent: Any = None
        for event in events:
            agent = event.mutate(agent)
        contents.append(agent.content)
    return contents


def digest(contents: list[dict[str, Any]]) -> str:
    return hashlib.sha256("".join(content_hash(c) for c in contents).encode()).hexdigest()


def timed(runs: int, work: Any, arg: Any) -> tuple[list[float], Any]:
    """Each run's seconds, and the last run's result."""
    seconds, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work(arg)
        seconds.append(time.perf_counter() - start)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=Path, default=TRACES, help="trace file or folder")
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    agents, files = trace_agents(args.traces)
    folds = applicable(agents)
    events = sum(len(f) for f in folds)
    streams = recorded_events(folds)
    fold_s, contents = timed(args.runs, fold_content, folds)
    replay_s, replayed = timed(args.runs, replay, streams)
    print(json.dumps({
        "traces": str(args.traces), "files": files, "agents": len(folds), "events": events,
        "runs": args.runs,
        # The minimum is the run least disturbed by other processes; the median for context.
        "apply_event_min_ms": round(min(fold_s) * 1000, 2),
        "apply_event_median_ms": round(statistics.median(fold_s) * 1000, 2),
        "apply_event_events_per_s": round(events / min(fold_s)),
        "replay_min_ms": round(min(replay_s) * 1000, 2),
        "replay_median_ms": round(statistics.median(replay_s) * 1000, 2),
        "replay_events_per_s": round(events / min(replay_s)),
        "content_digest": digest(contents),
        "replay_digest": digest(replayed),
    }, indent=2))


if __name__ == "__main__":
    main()
