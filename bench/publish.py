"""The agents' publisher: what keeping each agent's order costs, on real-trace events.

`ContextPublisher.publish_many` of real-trace envelopes to JetStream (until every PubAck is
back), for one agent (the longest trace: its events can only go one at a time) and for many
agents at once (20 events each); with the default one event in flight per agent, and with
`--pipeline` per agent (no order guarantee across a connection cut). The baseline, in the same
run and on the same connection, is raw nats-py `publish_async` of the same bodies with every
PubAck awaited at the end (pipelined without bound, no retries, no validation).

    python bench/publish.py              # 2,000 events per case
    python bench/publish.py --events 500

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import jetstream_url, trace_agents  # noqa: E402
from ctxstore.domain.events import AnyEnvelope  # noqa: E402
from devtools.services import DEFAULT_NATS_URL, nats_info  # noqa: E402

TRACES = Path("/work/shared/data/traces")
PER_AGENT = 20


def renamed(envelopes: list[AnyEnvelope], agent_id: str) -> list[AnyEnvelope]:
    return [e.model_copy(update={"agent_id": agent_id, "event_id": uuid.uuid4().hex})
            for e in envelopes]


def one_agent(originals: list[list[AnyEnvelope]], total: int, tag: str) -> list[AnyEnvelope]:
    longest = max(originals, key=len)
    events: list[AnyEnvelope] = []
    while len(events) < total:
        events += renamed(longest, f"{tag}-solo")[: total - len(events)]
    return events


def many_agents(originals: list[list[AnyEnvelope]], total: int, tag: str
                ) -> list[AnyEnvelope]:
    """Agents' next PER_AGENT events (of real traces) interleaved round-robin, as concurrent
    agents would publish them."""
    lanes: list[list[AnyEnvelope]] = []
    count = 0
    while count < total:
        for n, original in enumerate(originals):
            if count >= total:
                break
            part = original[: min(PER_AGENT, total - count)]
            lanes.append(renamed(part, f"{tag}-{len(lanes)}-{n}"))
            count += len(lanes[-1])
    longest = max(len(lane) for lane in lanes)
    return [lane[i] for i in range(longest) for lane in lanes if i < len(lane)]


async def run(url: str, total: int, pipeline: int) -> dict[str, Any]:
    import nats

    from ctxstore.infrastructure.messaging.publisher import ContextPublisher
    from ctxstore.infrastructure.messaging.streams import ensure_streams
    from ctxstore.infrastructure.messaging.subjects import MSG_ID, Subjects

    originals, _files = trace_agents(TRACES)
    nc = await nats.connect(url)
    subjects = Subjects(prefix=f"pub{uuid.uuid4().hex[:8]}", partitions=4)
    await ensure_streams(nc, subjects)
    results: dict[str, Any] = {}
    try:
        for case, build in (("one_agent", one_agent), ("many_agents", many_agents)):
            row: dict[str, Any] = {}
            for mode, in_flight in (("ordered", 1), ("pipelined", pipeline)):
                events = build(originals, total, f"{case}-{mode}")
                publisher = ContextPublisher(nc, subjects, per_agent_in_flight=in_flight)
                started = time.perf_counter()
                acks = await publisher.publish_many(events)
                row[f"{mode}_events_per_s"] = round(len(acks) / (time.perf_counter() - started))
            raw_events = build(originals, total, f"{case}-raw")
            bodies = [(subjects.events(e.agent_id), e.event_id,
                       e.model_dump_json(exclude_none=True).encode()) for e in raw_events]
            js = nc.jetstream(publish_async_max_pending=len(bodies) + 1)
            started = time.perf_counter()
            futures = [await js.publish_async(s, b, headers={MSG_ID: i}) for s, i, b in bodies]
            await asyncio.gather(*futures)
            raw = len(bodies) / (time.perf_counter() - started)
            row["agents"] = len({e.agent_id for e in raw_events})
            row["raw_publish_async_per_s"] = round(raw)
            row["ratio_ordered"] = round(row["ordered_events_per_s"] / raw, 3)
            row["ratio_pipelined"] = round(row["pipelined_events_per_s"] / raw, 3)
            results[case] = row
    finally:
        js = nc.jetstream()
        await js.delete_stream(subjects.events_stream)
        await js.delete_stream(subjects.dlq_stream)
        await nc.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per case")
    parser.add_argument("--pipeline", type=int, default=64,
                        help="per_agent_in_flight of the pipelined runs")
    parser.add_argument("--nats-url", default=os.environ.get("CONTEXT_NATS_URL",
                                                             DEFAULT_NATS_URL))
    args = parser.parse_args()
    url, handle = jetstream_url(args.nats_url)
    try:
        results = asyncio.run(run(url, args.events, args.pipeline))
        version = (nats_info(url) or {}).get("version")
    finally:
        if handle is not None:
            handle.stop()
    print(json.dumps({"benchmark": "publish", "events_per_case": args.events,
                      "per_agent_in_flight_pipelined": args.pipeline, "nats_server": version,
                      **results}, indent=2))


if __name__ == "__main__":
    main()
