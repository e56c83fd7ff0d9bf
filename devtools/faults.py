"""The fault suite: real-trace events published over NATS while the services under the store
are broken one after another, then every event checked in the store.

Agents (the real traces under /work/shared/data/traces, copied under new agent and event ids
up to the wanted volume) publish at a steady rate with ctxstore's own publisher (four
connections, spread over the nodes) to a three-node JetStream cluster with replicated (R3)
streams and several partitions. Two ingest workers (`ctxstore ingest --processes 2`) record
them into a PostgreSQL this suite started, through a TCP proxy. Once a tenth of the events is
out, in turn and overlapping:

    a worker SIGKILLed (its supervisor restarts it)
    PostgreSQL stopped; while it is down the other worker SIGKILLed; PostgreSQL started
    a NATS node SIGKILLed (one an ingest worker is connected to, so deliveries are lost on the
    wire; the events stream's leader if it is one); while it is down the network to PostgreSQL
    cut for 10 s, and during the cut a worker SIGKILLed a third time; the node started again

and then the rest is published. When everything is drained, the store's history of each agent
is compared with what its agent published: lost, duplicated, reordered must all be 0; and
each agent's latest state, read as a reader reads it (its snapshot's parts, then the events
after it), must equal a fold of all its events. Publish-to-commit latency comes from
PostgreSQL's own commit timestamps (the suite's server keeps them), split by when the event
was published: before, during and after the faults.

    python -m devtools.faults                  # 100,000 events (make faults)
    python -m devtools.faults --events 3000 --rate 60

Prints one JSON object; exits 1 when anything was lost, duplicated or reordered, or a state
does not read back.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import psycopg

from ctxstore.application.store import ContextStore
from ctxstore.domain.events import AnyEnvelope, parse_envelope
from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.messaging.publisher import ContextPublisher
from ctxstore.infrastructure.messaging.streams import ensure_streams
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.settings import Settings
from devtools.fault_servers import (
    REPO,
    IngestService,
    NatsCluster,
    PostgresServer,
    ProxyProcess,
    until_answered,
)
from devtools.services import libpq_dsn

sys.path.insert(0, str(REPO))  # bench/ (the trace loader) is not an installed package

PUBLISHER_NAME = "faults-publisher"  # the agents' connections, told apart from the workers'


@dataclass
class FaultConfig:
    events: int = 100_000
    rate: float = 400.0  # offered events per second, in all
    partitions: int = 4
    workers: int = 2
    publishers: int = 4
    cut_seconds: float = 10.0
    postgres_stop: str = "fast"  # pg_ctl's mode: "immediate" is a crash (recovery on start)
    faults_from: float = 0.1  # the share of events published when the first fault falls
    # the share of events held back until the faults have ended (0: none), so that some are
    # published after them however long the faults take on a slow machine
    after_faults: float = 0.0
    batch_size: int = 500
    fetch_size: int = 200
    drain_timeout: float = 900.0
    work_dir: Path | None = None
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))


def load_events(total: int) -> list[AnyEnvelope]:
    """`total` real-trace events, agents interleaved round-robin, each agent's in order."""
    from bench.ingest_nats import load_agents

    agents = load_agents(total, tag=f"f{uuid.uuid4().hex[:4]}")
    longest = max(len(bodies) for _, bodies, _ in agents)
    return [parse_envelope(bodies[i]) for i in range(longest) for _, bodies, _ in agents
            if i < len(bodies)]


@dataclass
class Timeline:
    """Wall-clock times (time.time()) of what happened, for the report."""

    started: float = field(default_factory=time.time)
    faults: list[dict[str, Any]] = field(default_factory=list)
    faults_began: float | None = None
    faults_ended: float | None = None
    last_publish: float | None = None

    def mark(self, what: str, started: float) -> None:
        self.faults.append({"fault": what, "at_s": round(started - self.started, 2),
                            "took_s": round(time.time() - started, 2)})


class Suite:
    def __init__(self, config: FaultConfig, root: Path):
        self.config = config
        self.root = root
        self.prefix = f"f{uuid.uuid4().hex[:8]}"
        self.subjects = Subjects(prefix=self.prefix, partitions=config.partitions, replicas=3)
        self.cluster = NatsCluster(root / "nats")
        self.postgres: PostgresServer | None = None
        self.proxy: ProxyProcess | None = None
        self.ingest: IngestService | None = None
        self.timeline = Timeline()
        self.sent: dict[str, float] = {}
        self.publisher_errors = 0

    # Set-up ------------------------------------------------------------------------------------
    def settings(self, database_url: str) -> Settings:
        return Settings(storage_backend="postgres", database_url=database_url,
                        storage_path=self.root / "storage", nats_url=",".join(self.cluster.urls),
                        nats_prefix=self.prefix, nats_partitions=self.config.partitions,
                        nats_replicas=3)

    def env(self) -> dict[str, str]:
        assert self.postgres is not None and self.proxy is not None
        proxied = self.postgres.url.replace(f":{self.postgres.port}/", f":{self.proxy.port}/")
        settings = self.settings(proxied)
        return {"CONTEXT_STORAGE_BACKEND": "postgres",
                "CONTEXT_DATABASE_URL": settings.database_url,
                "CONTEXT_STORAGE_PATH": str(settings.storage_path),
                "CONTEXT_NATS_URL": settings.nats_url, "CONTEXT_NATS_PREFIX": self.prefix,
                "CONTEXT_NATS_PARTITIONS": str(self.config.partitions),
                "CONTEXT_NATS_REPLICAS": "3"}

    def start(self) -> None:
        say = self.config.log
        say(f"starting a 3-node NATS cluster and PostgreSQL under {self.root}")
        self.cluster.start()
        self.postgres = PostgresServer(keep=self.config.work_dir is not None)
        say(f"PostgreSQL: {self.postgres.url} in {self.postgres.handle.root_dir}")
        build_store(self.settings(self.postgres.url)).close()  # tables before the workers
        asyncio.run(self._streams())
        self.proxy = ProxyProcess("127.0.0.1", self.postgres.port)
        self.ingest = IngestService(
            self.env(), self.root / "ingest.log", processes=self.config.workers,
            options=("--batch-size", str(self.config.batch_size), "--fetch-size",
                     str(self.config.fetch_size), "--lease-seconds", "3",
                     "--log-level", "INFO"))
        asyncio.run(self._consumers_made())

    async def _streams(self) -> None:
        nc = await nats.connect(self.cluster.urls)
        try:
            await ensure_streams(nc, self.subjects)
        finally:
            await nc.close()

    async def _consumers_made(self, timeout: float = 120.0) -> None:
        """Until each partition's consumer exists: its worker has taken the lease and pulls
        (a worker takes seconds to start on a busy machine, which is no latency of ours)."""
        nc = await nats.connect(self.cluster.urls)
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        try:
            for p in range(self.config.partitions):
                await until_answered(functools.partial(
                    js.consumer_info, self.subjects.events_stream, self.subjects.durable(p)),
                    deadline, every=0.2)
        finally:
            await nc.close()

    def close(self) -> None:
        if self.ingest is not None:
            self.ingest.stop()
        if self.proxy is not None:
            self.proxy.close()
        self.cluster.stop()
        if self.postgres is not None:
            self.postgres.close()

    # The run -----------------------------------------------------------------------------------
    async def publish(self, events: list[AnyEnvelope], reached: asyncio.Event) -> None:
        """At the configured rate, in small chunks, each agent always through the same one of
        several publishers (connections spread over the nodes): its events stay in order in
        that publisher's lane for it, whatever the chunks."""
        async def connection_error(error: Exception) -> None:
            self.publisher_errors += 1  # the publisher retries; counted for the report

        publishers = [ContextPublisher(
            await nats.connect(self.cluster.urls, max_reconnect_attempts=-1,
                               reconnect_time_wait=0.5, error_cb=connection_error,
                               name=PUBLISHER_NAME),
            Subjects(prefix=self.prefix), attempts=100, ack_timeout=5.0, owns_connection=True)
            for _ in range(self.config.publishers)]
        lane = {agent: i % len(publishers) for i, agent in
                enumerate(dict.fromkeys(e.agent_id for e in events))}
        threshold = int(len(events) * self.config.faults_from)
        held_from = len(events) - int(len(events) * self.config.after_faults)
        pending: list[asyncio.Task[Any]] = []
        start, done = time.time(), 0
        try:
            while done < len(events):
                due = min(len(events), int((time.time() - start) * self.config.rate) + 1)
                if self.timeline.faults_ended is None:
                    due = min(due, held_from)
                if due > done:
                    shares: list[list[AnyEnvelope]] = [[] for _ in publishers]
                    now = time.time()
                    for envelope in events[done:due]:
                        self.sent[envelope.event_id] = now
                        shares[lane[envelope.agent_id]].append(envelope)
                    pending.extend(asyncio.create_task(publisher.publish_many(share))
                                   for publisher, share in zip(publishers, shares, strict=True)
                                   if share)
                    self.timeline.last_publish, done = now, due
                    if done >= threshold:
                        reached.set()
                await asyncio.sleep(0.02)
            await asyncio.gather(*pending)
        finally:
            for publisher in publishers:
                await publisher.close()

    async def faults(self, reached: asyncio.Event) -> None:
        """The schedule: each step some seconds after the one before began (so a slow step
        never shortens an outage); the blocking steps run in threads."""
        await reached.wait()
        assert self.ingest is not None and self.postgres is not None
        assert self.proxy is not None
        ingest, postgres, proxy = self.ingest, self.postgres, self.proxy
        t0 = previous = self.timeline.faults_began = time.time()
        node: list[int] = []

        async def step(after: float, what: str, action: Callable[[], Any]) -> None:
            nonlocal previous
            await asyncio.sleep(max(0.0, previous + after - time.time()))
            began = previous = time.time()
            self.config.log(f"+{began - t0:5.1f}s {what}")
            result = action()
            if isinstance(result, Awaitable):
                await result
            self.timeline.mark(what, began)

        def thread(fn: Callable[..., Any], *args: Any) -> Callable[[], Awaitable[Any]]:
            return lambda: asyncio.to_thread(fn, *args)

        async def kill_node() -> None:
            node.append(await self._victim())
            await asyncio.to_thread(self.cluster.kill_node, node[0])

        cut = self.config.cut_seconds
        await step(0, "worker SIGKILLed (1 of 3)", thread(ingest.kill_worker, 0))
        await step(0, "worker restarted by its supervisor", thread(ingest.wait_all_running))
        await step(4, f"PostgreSQL stopped ({self.config.postgres_stop})",
                   thread(postgres.stop, self.config.postgres_stop))
        await step(2, "worker SIGKILLed while PostgreSQL is down (2 of 3)",
                   thread(ingest.kill_worker, 1))
        await step(4, "PostgreSQL started", thread(postgres.start))
        await step(6, "NATS node SIGKILLed (a worker's, the stream leader's if it is one)",
                   kill_node)
        await step(2, f"network to PostgreSQL cut for {cut:.0f}s", thread(proxy.blackhole))
        await step(cut / 2, "worker SIGKILLed during the cut and the node's absence "
                   "(3 of 3)", thread(ingest.kill_worker, 0))
        await step(cut / 2, "network to PostgreSQL restored", thread(proxy.heal))
        await step(2, "NATS node started again",
                   lambda: asyncio.to_thread(self.cluster.start_node, node[0]))
        await step(0, "every worker running", thread(ingest.wait_all_running))
        self.timeline.faults_ended = time.time()

    async def _victim(self) -> int:
        """The node to kill: one an ingest worker is connected to (what the server had sent it
        is then lost on the wire), the events stream's leader among them if it is one (its
        streams elect a new leader), else the leader."""
        leader = await self._stream_leader()
        workers = []
        for i in range(len(self.cluster.nodes)):
            try:
                names = await asyncio.to_thread(self.cluster.client_names, i)
            except OSError:
                names = []
            workers.append(sum(name != PUBLISHER_NAME for name in names))
        if workers[leader] or not any(workers):
            return leader
        return max(range(len(workers)), key=workers.__getitem__)

    async def _stream_leader(self) -> int:
        nc = await nats.connect(self.cluster.urls)
        try:
            info = await nc.jetstream().stream_info(self.subjects.events_stream)
            assert info.cluster is not None and info.cluster.leader is not None
            return int(info.cluster.leader.lstrip("n"))
        finally:
            await nc.close()

    async def drained(self) -> None:
        """Until every partition's consumer has had every message delivered and acknowledged
        (a worker acknowledges after its commit): what the store holds is then final."""
        durables = [self.subjects.durable(p) for p in range(self.config.partitions)]
        nc = await nats.connect(self.cluster.urls, max_reconnect_attempts=-1)
        js = nc.jetstream()
        deadline = time.monotonic() + self.config.drain_timeout
        try:
            while True:
                try:
                    infos = [await js.consumer_info(self.subjects.events_stream, d)
                             for d in durables]
                    if all(not i.num_pending and not i.num_ack_pending for i in infos):
                        return
                except Exception as e:  # a node coming back: ask again
                    self.config.log(f"consumer info: {type(e).__name__}: {e}")
                if time.monotonic() > deadline:
                    raise AssertionError("the consumers did not drain in "
                                         f"{self.config.drain_timeout:.0f}s")
                await asyncio.sleep(0.5)
        finally:
            await nc.close()

    async def dead_letters(self) -> int:
        nc = await nats.connect(self.cluster.urls)
        try:
            return (await nc.jetstream().stream_info(self.subjects.dlq_stream)).state.messages
        finally:
            await nc.close()

    async def scenario(self, events: list[AnyEnvelope]) -> int:
        reached = asyncio.Event()
        await asyncio.gather(self.publish(events, reached), self.faults(reached))
        self.config.log(f"published {len(self.sent)} events; waiting for the drain")
        await self.drained()
        return await self.dead_letters()

    # The verdict -------------------------------------------------------------------------------
    def check(self, events: list[AnyEnvelope]) -> dict[str, Any]:
        assert self.postgres is not None
        published: dict[str, list[str]] = {}
        for envelope in events:
            published.setdefault(envelope.agent_id, []).append(envelope.event_id)
        store = build_store(self.settings(self.postgres.url))
        stored: dict[str, list[str]] = {}
        try:
            for agent_id in published:
                stored[agent_id] = [i.event_id for i in store.iter_history(agent_id)]
            recorded = sum(a.version for a in store.agents())
            states = read_back([a for a, ids in stored.items() if ids], store)
        finally:
            store.close()
        return {**verdict(published, stored, recorded), **states}

    def committed(self) -> dict[str, float]:
        """Each recorded event's commit time, by PostgreSQL's clock (the machine's)."""
        assert self.postgres is not None
        with psycopg.connect(libpq_dsn(self.postgres.url)) as conn:
            return dict(conn.execute(
                "SELECT event_id, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 "
                "FROM ctxstore_event_ids").fetchall())

    async def stream_places(self, event_ids: set[str]) -> dict[str, tuple[int, str]]:
        """(stream sequence, subject) of the given events in the events stream."""
        nc = await nats.connect(self.cluster.urls)
        found: dict[str, tuple[int, str]] = {}
        try:
            js = nc.jetstream()
            last = (await js.stream_info(self.subjects.events_stream)).state.last_seq
            for seq in range(1, last + 1):
                msg = await js.get_msg(self.subjects.events_stream, seq)
                event_id = (msg.headers or {}).get("Nats-Msg-Id")
                if event_id in event_ids:
                    found[event_id] = (seq, msg.subject)
                    if len(found) == len(event_ids):
                        break
        finally:
            await nc.close()
        return found

    def explain_losses(self, result: dict[str, Any], events: list[AnyEnvelope],
                       committed: dict[str, float]) -> None:
        """Beside each lost event: where it sits in the stream, when it was published, and
        when its agent's neighbours were committed (seconds from the start of publishing)."""
        examples = result["lost_examples"]
        if not examples:
            return
        places = asyncio.run(self.stream_places({e["event_id"] for e in examples}))
        by_agent: dict[str, list[str]] = {}
        for envelope in events:
            by_agent.setdefault(envelope.agent_id, []).append(envelope.event_id)
        t0 = self.timeline.started

        def at(event_id: str | None) -> float | None:
            return round(committed[event_id] - t0, 2) if event_id in committed else None

        for example in examples:
            ids, n = by_agent[example["agent_id"]], example["position"]
            seq, subject = places.get(example["event_id"], (None, None))
            example.update(
                stream_seq=seq, subject=subject,
                published_s=round(self.sent[example["event_id"]] - t0, 2),
                previous_committed_s=at(ids[n - 1]) if n else None,
                next_committed_s=at(ids[n + 1]) if n + 1 < len(ids) else None)


def verdict(published: dict[str, list[str]], stored: dict[str, list[str]],
            recorded: int) -> dict[str, Any]:
    """Lost, duplicated and reordered of each agent's stored history against what it published
    (an agent with a lost event counts as reordered only if what is there is out of order)."""
    lost = duplicated = 0
    reordered: list[str] = []
    missing: list[dict[str, Any]] = []
    for agent_id, ids in published.items():
        have = stored.get(agent_id, [])
        unique = set(have)
        lost += len(set(ids) - unique)
        missing.extend({"agent_id": agent_id, "position": n, "of": len(ids), "event_id": i}
                       for n, i in enumerate(ids) if i not in unique)
        duplicated += len(have) - len(unique)
        seen: set[str] = set()
        first = [i for i in have if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]
        if first != [i for i in ids if i in unique] or unique - set(ids):
            reordered.append(agent_id)
    return {"events_published": sum(len(ids) for ids in published.values()),
            "events_recorded": recorded, "lost": lost, "duplicated": duplicated,
            "agents": len(published), "agents_reordered": len(reordered),
            "reordered_examples": reordered[:5], "lost_examples": missing[:10]}


def read_back(agent_ids: list[str], store: ContextStore) -> dict[str, Any]:
    """Each agent's latest state as a reader gets it, and its last snapshot read back from
    the part store, against folds of its events: after PostgreSQL crashed under the writers,
    what was committed must read back whole, the parts a snapshot names included (a part
    store keep commits without waiting for the disk: persistence.async_commit). A snapshot is
    read on its own: a reader that finds one unreadable folds the events instead, which would
    hide a lost part."""
    unreadable: list[str] = []
    mismatched: list[str] = []
    snapshots = 0
    for agent_id in agent_ids:
        try:
            latest = store.context(agent_id)
            snapshot = store.snapshot_at(agent_id, latest["version"])
            pairs: list[tuple[str, str | None]] = []  # (as read, as folded)
            folded, after = None, 0
            if snapshot is not None:
                # One fold of the events: to the snapshot (its hash taken there), then on.
                snapshots += 1
                folded, _ = store.replay(agent_id, None, upto=snapshot.version)
                pairs.append((snapshot.content_hash(),
                              folded.content_hash() if folded is not None else None))
                after = snapshot.version
            folded, _ = store.replay(agent_id, folded, after=after)
            pairs.append((latest["content_hash"],
                          folded.content_hash() if folded is not None else None))
        except Exception as e:  # noqa: BLE001 - reported, with what it was
            unreadable.append(f"{agent_id}: {type(e).__name__}: {e}")
            continue
        if any(read != expected for read, expected in pairs):
            mismatched.append(agent_id)
    return {"states_read_back": len(agent_ids), "snapshots_read_back": snapshots,
            "states_unreadable": len(unreadable), "states_mismatched": len(mismatched),
            "state_examples": (unreadable + mismatched)[:5]}


def latency_report(sent: dict[str, float], committed: dict[str, float], timeline: Timeline
                   ) -> dict[str, Any]:
    """Publish-to-commit by when the event was published, and the drain after the faults."""
    from bench.common import latency_summary

    assert timeline.faults_began is not None and timeline.faults_ended is not None
    phases: dict[str, list[float]] = {"before_faults": [], "during_faults": [],
                                      "after_faults": []}
    for event_id, at in sent.items():
        if event_id not in committed:
            continue
        phase = ("before_faults" if at < timeline.faults_began else
                 "during_faults" if at <= timeline.faults_ended else "after_faults")
        phases[phase].append((committed[event_id] - at) * 1000)
    before_end = [committed[e] for e, at in sent.items()
                  if at <= timeline.faults_ended and e in committed]
    return {
        "publish_to_commit_ms": {k: latency_summary(v) if v else None
                                 for k, v in phases.items()},
        # Until every event published before the last fault ended was committed.
        "drain_after_last_fault_s": round(max(0.0, max(before_end) - timeline.faults_ended), 2)
        if before_end else None,
        "last_commit_after_last_publish_s": round(max(committed.values())
                                                  - (timeline.last_publish or 0), 2)
        if committed else None,
    }


def ingest_log_counts(log: Path) -> dict[str, int]:
    """What the workers went through, from their supervisor's log (WARNING and above)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return {"worker_exits": text.count("exited with"),
            "worker_exits_killed": text.count("exited with -9"),
            "batches_retried": text.count("events failed ("),
            "consumers_rewound": text.count("rewinding consumer"),
            "delivery_gaps": text.count("a connection broke with messages on the wire"),
            "nats_reconnects": text.count("NATS: connected again")}


def run(config: FaultConfig) -> dict[str, Any]:
    """The whole suite; the JSON report as a dict."""
    root = config.work_dir or Path(tempfile.mkdtemp(prefix="ctxstore-faults-"))
    events = load_events(config.events)
    suite = Suite(config, root)
    try:
        suite.start()
        suite.timeline = Timeline()
        dead = asyncio.run(suite.scenario(events))
        result = suite.check(events)
        committed = suite.committed()
        suite.explain_losses(result, events, committed)
        result.update(latency_report(suite.sent, committed, suite.timeline))
    finally:
        suite.close()
        result_log = ingest_log_counts(root / "ingest.log")
        if config.work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "suite": "faults", **result, "dead_lettered": dead,
        "offered_rate": config.rate, "postgres_stop": config.postgres_stop,
        "partitions": config.partitions,
        "ingest_workers": config.workers, "nats_nodes": 3, "stream_replicas": 3,
        "run_s": round(time.time() - suite.timeline.started, 1),
        "faults": suite.timeline.faults, "ingest_log": result_log,
        "publisher_connection_errors": suite.publisher_errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=400.0,
                        help="offered events/s in all (the faults take ~40 s)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--postgres-stop", choices=["fast", "immediate"], default="fast",
                        help="pg_ctl stop mode: a shutdown, or a crash")
    parser.add_argument("--keep", type=Path, default=None,
                        help="run in this directory and keep it (server logs, worker log)")
    args = parser.parse_args()
    result = run(FaultConfig(events=args.events, rate=args.rate, partitions=args.partitions,
                             batch_size=args.batch_size, postgres_stop=args.postgres_stop,
                             work_dir=args.keep))
    print(json.dumps(result, indent=2))
    broken = (result["lost"] or result["duplicated"] or result["agents_reordered"]
              or result["states_unreadable"] or result["states_mismatched"])
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
