"""An agent publishing its context to ctxstore over NATS JetStream, then reading it back.

Run a worker first (`ctxstore ingest`), then:

    python examples/publish_agent.py --agent support-bot-1

Each event goes to ctx.events.<agent_id> with Nats-Msg-Id = its event id, so publishing the same
event again (a retry) is recorded once. The worker announces each committed event on
ctx.recorded.<agent_id>; once the last one is announced, ctx.rpc.context answers the state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctxstore.infrastructure.messaging.publisher import (  # noqa: E402
    ContextPublisher,
    SyncContextPublisher,
    new_event,
)


async def run(url: str, agent: str, prefix: str = "ctx") -> None:
    async with await ContextPublisher.connect(url, prefix=prefix) as publisher:
        events = [
            new_event(agent, "message", {"role": "user", "content": "My order #123 is late."}),
            new_event(agent, "reasoning", {"thread_id": "t1", "content": "Look the order up."}),
            new_event(agent, "tool_call", {"call_id": "c1", "tool": "get_order",
                                           "arguments": {"order_id": "123"}}),
            new_event(agent, "tool_result", {"call_id": "c1",
                                             "output": {"status": "shipped"}}),
            new_event(agent, "memory_stored", {"memory_id": "m1", "kind": "episodic",
                                               "content": "Order 123 shipped late."}),
            new_event(agent, "message", {"role": "assistant",
                                         "content": "It shipped today, sorry for the wait."}),
        ]
        # Workers announce each event once committed: follow this agent's announcements.
        recorded = await publisher.nc.subscribe(f"{prefix}.recorded.{agent}")
        acks = await publisher.publish_many(events)  # in order; one agent: one at a time
        print(f"published {len(acks)} events (stream {acks[0].stream}, seqs "
              f"{acks[0].seq}..{acks[-1].seq})")
        again = await publisher.publish(events[0])  # a retry: dropped as a duplicate
        print(f"republished the first event: duplicate={again.duplicate}")

        while True:  # until the last event is durably recorded
            announced = json.loads((await recorded.next_msg(timeout=60)).data)
            if announced["event_id"] == events[-1].event_id:
                print(f"recorded: {agent} version {announced['version']}")
                break
        reply = await publisher.nc.request(
            f"{prefix}.rpc.context", json.dumps({"agent_id": agent}).encode(), timeout=10)
        state = json.loads(reply.data)
        if "error" in state:
            print("context:", state["error"])
        else:
            print(f"{agent} is at version {state['version']} with "
                  f"{len(state['messages'])} messages; hash {state['content_hash']}")


def run_sync(url: str, agent: str, prefix: str = "ctx") -> None:
    """The same from code without an event loop."""
    with SyncContextPublisher(url, prefix=prefix) as publisher:
        ack = publisher.event(agent, "message", {"role": "user", "content": "Thanks!"})
        print(f"sync publisher: stored at stream seq {ack.seq}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--agent", default="support-bot-1")
    parser.add_argument("--prefix", default="ctx", help="CONTEXT_NATS_PREFIX of the workers")
    args = parser.parse_args()
    asyncio.run(run(args.url, args.agent, args.prefix))
    run_sync(args.url, args.agent, args.prefix)
