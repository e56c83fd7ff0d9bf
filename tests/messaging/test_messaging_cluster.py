"""Replicated streams on a real three-node JetStream cluster (the compose `cluster` profile):
with CONTEXT_NATS_REPLICAS=3 every event survives the loss of a node."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from ctxstore.infrastructure.messaging.leases import LeaseLost, PartitionLeases
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.messaging.streams import ensure_streams
from ctxstore.infrastructure.messaging.subjects import Subjects
from devtools.fault_servers import NatsCluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nodes = NatsCluster(tmp_path)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


async def _ready(urls: list[str], subjects: Subjects) -> nats.NATS:
    deadline = time.monotonic() + 30
    while True:
        nc = None
        try:
            nc = await nats.connect(urls, connect_timeout=2, max_reconnect_attempts=-1)
            await ensure_streams(nc, subjects)  # needs a JetStream meta leader: retry until one
            return nc
        except Exception:
            if nc is not None:  # else it reconnects for ever, in every later test's loop
                await nc.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_replicated_streams_keep_events_when_a_node_dies(cluster: NatsCluster) -> None:
    urls = cluster.urls
    subjects = Subjects(prefix="clu", partitions=2, replicas=3)
    nc = await _ready(urls, subjects)
    js = nc.jetstream()
    info = await js.stream_info(subjects.events_stream)
    assert info.config.num_replicas == 3
    assert (await js.stream_info(subjects.dlq_stream)).config.num_replicas == 3

    leases = PartitionLeases(js, subjects.leases_bucket, [0], ttl=5, replicas=3)
    await leases.acquire(0)
    kv_stream = await js.stream_info(f"KV_{subjects.leases_bucket}")
    assert kv_stream.config.num_replicas == 3

    publisher = await ContextPublisher.connect(urls, prefix="clu")
    await publisher.publish_many([new_event("cl-agent", "message",
                                            {"role": "user", "content": str(i)})
                                  for i in range(20)])
    await publisher.close()
    placement = (await js.stream_info(subjects.events_stream)).cluster
    assert placement is not None
    leader = placement.leader
    cluster.kill_node(int(leader.lstrip("n")))  # the stream's leader goes away

    deadline = time.monotonic() + 30
    while True:
        try:
            state = (await js.stream_info(subjects.events_stream)).state
            if state.messages == 20:
                break
        except Exception:
            pass
        assert time.monotonic() < deadline, "the stream did not come back with all events"
        await asyncio.sleep(0.5)
    while True:  # the leases bucket is replicated too: a worker can still renew
        try:
            await leases.renew()
            break
        except LeaseLost:
            raise
        except Exception:
            assert time.monotonic() < deadline, "the leases did not come back"
            await asyncio.sleep(0.5)
    await nc.close()


def test_replicas_are_checked() -> None:
    with pytest.raises(ValueError, match="replicas"):
        Subjects(replicas=0)


def test_a_node_that_cannot_start_is_reported_with_its_reason(tmp_path: Path) -> None:
    """A node whose port is taken exits at once; the start says so with the node's own words
    instead of waiting out its deadline and naming only the node."""
    nodes = NatsCluster(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", nodes.client_ports[1]))
        taken.listen()
        try:
            with pytest.raises(AssertionError, match=r"n1 exited .*address already in use"):
                nodes.start()
            assert nodes.nodes[1] is None and nodes.nodes[0] is not None
        finally:
            nodes.stop()
