"""Point-in-time reads and restores on PostgreSQL, and what compression saves: JSON on stdout.

(a) Latency p50/p99 of reading an agent at random points (`ContextStore.agent_at`, and
    `context` which also hashes the state) and of restoring it (the restore use case: a fork
    into a fresh target), with snapshots (taken by the store's own SnapshotPolicy while
    loading, default settings) and without (the same events read by a store with no snapshot
    store: every read replays from version 1; capped by --replay-seconds per size).
    Also the events' and snapshots' stored bytes (snapshots keep their contents as parts of the
    part store: their rows plus those parts), what each fork writes (part bytes, parts,
    reference rows, its event's bytes), rewinds of the agent itself, tail-50 reads, and
    forks and tail-50 reads of the latest version (held folded, as a live agent is).
    The process runs with the collector settings ctxstore's servers apply (--gc), and each
    timed phase reports the full collections that landed in it; forks and rewinds also the
    CPU this process and PostgreSQL spend on each (paid one after the other: their sum is
    what a p50 target cannot go below on this machine), and, apart, where a fork's time goes
    step by step (`fork_phases_at_random_versions`).
(b) Bytes per event of real-trace events: zlib (eventsourcing's default compressor), plain zstd,
    zstd with a dictionary trained on other events of the same traces, against raw JSON.
(c) Checkpoint size (canonical state compressed) against raw canonical JSON, and the time a
    real capture takes at several zstd levels (CONTEXT_CHECKPOINT_COMPRESSION_LEVEL).
(b) and (c) are measured with --workload traces only.

Workloads (--workload), both recorded through `ContextStore.record` in batches (--batch):
  traces   every imported event of the real traces (/work/shared/data/traces), cycled with
           fresh event ids. The fold keeps every message and tool call, so the context grows
           with the history (tens of MB of JSON at 100k events).
  bounded  real trace texts in an agent that keeps a working set (memories over a fixed pool
           of ids, MCP server states, a fixed set of links): the context stays the same size
           however long the history; see BoundedWorkload. --append-share mixes in messages
           and tool calls, which make it grow again.

    .venv/bin/python bench/restore.py                       # traces: 10k, 100k (~7 min)
    .venv/bin/python bench/restore.py --workload bounded    # 10k, 100k, 1M (~10 min)
    .venv/bin/python bench/restore.py --workload bounded --sizes 10000,100000 --reads 100
    .venv/bin/python bench/restore.py --quick               # a minute: 2k and 10k
    .venv/bin/python bench/restore.py --checkpoints-only    # (c) alone, on a 10k-event agent
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import itertools
import json
import os
import platform
import pstats
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402
import psycopg  # noqa: E402
import zstandard  # noqa: E402
from eventsourcing.compressor import ZlibCompressor  # noqa: E402

from bench.common import (  # noqa: E402
    FullCollections,
    cpu_seconds,
    drop_schema,
    fresh_schema,
    latency_summary,
    trace_agents,
)
from ctxstore.application.dictionary_port import (  # noqa: E402
    DEFAULT_DICTIONARY_SIZE,
    DEFAULT_SAMPLES,
)
from ctxstore.application.store import ContextStore  # noqa: E402
from ctxstore.domain.agent_id import aggregate_id  # noqa: E402
from ctxstore.domain.aggregate import AgentContext  # noqa: E402
from ctxstore.domain.events import AnyEnvelope  # noqa: E402
from ctxstore.domain.state import (  # noqa: E402
    EventNotApplicable,
    apply_event,
    canonical_json,
    check_applicable,
    content_of,
    empty_content,
)
from ctxstore.infrastructure.bootstrap import build_store  # noqa: E402
from ctxstore.infrastructure.persistence.builtin_dictionary import BUILTIN_DICTIONARY_ID  # noqa: E402
from ctxstore.infrastructure.persistence.dictionary_training import wire_json  # noqa: E402
from ctxstore.infrastructure.persistence.dsn import libpq_dsn  # noqa: E402
from ctxstore.infrastructure.persistence.zstd_compressor import ZstdCompressor  # noqa: E402
from ctxstore.infrastructure.process_tuning import tune_process  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402

TRACES = Path("/work/shared/data/traces")
NO_SNAPSHOTS = 10**12
TARGETS = {
    "read_p50_ms_at_100k": 20.0,
    "read_p99_ms_at_100k": 100.0,
    "tail_50_p99_ms": 20.0,  # issue 16: at 10k and 100k real-trace events
    "fork_and_rewind_p50_ms": 5.0,  # issue 16: the same at 10k as at 100k
    "fork_tail_50_over_source": 1.0,  # issue 16: a fork's tail read costs what its source's does
    "p50_1m_over_10k": 1.5,
    "dictionary_bytes_over_raw": 0.20,
    "checkpoint_bytes_over_raw": 0.08,
    "checkpoint_capture_ms_at_10k": 2000.0,
}


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


# Real traces ----------------------------------------------------------------------------------
def fold_applicable(content: dict[str, Any], envelopes: Iterable[AnyEnvelope]
                    ) -> list[AnyEnvelope]:
    """Fold into `content` those envelopes that apply to it (in order); return them."""
    kept: list[AnyEnvelope] = []
    for envelope in envelopes:
        data = envelope.data_dict()
        try:
            check_applicable(content, envelope.type, data)
        except EventNotApplicable:
            continue
        apply_event(content, envelope.type, data)
        kept.append(envelope)
    return kept


def real_events(root: Path) -> tuple[list[AnyEnvelope], dict[str, Any], list[list[AnyEnvelope]]]:
    """Every imported event of every trace agent, in order, that applies from an empty state
    (so the sequence can be cycled into one agent), and the agents' own event lists."""
    agents, files = trace_agents(root)
    content = empty_content()
    kept = fold_applicable(content, itertools.chain.from_iterable(agents))
    info = {"root": str(root), "files": files, "agents": len(agents),
            "events": sum(len(a) for a in agents), "cycle_events": len(kept),
            "cycle_raw_json_bytes": sum(len(canonical_json(e.model_dump(mode="json")))
                                        for e in kept)}
    return kept, info, agents


def cycled(base: list[AnyEnvelope], agent_id: str, count: int) -> Iterator[AnyEnvelope]:
    """`count` events cycling through `base`, each with a fresh id, for one agent."""
    for i in range(count):
        e = base[i % len(base)]
        yield e.model_copy(update={"event_id": str(uuid.uuid4()), "agent_id": agent_id,
                                   "occurred_at": None, "session_id": None})


# Bounded workload ------------------------------------------------------------------------------
MCP_SERVERS = ("filesystem", "github", "postgres", "browser")
RELATIONS = ("supports", "contradicts")


def real_texts(agents: list[list[AnyEnvelope]], cap: int) -> list[str]:
    """Every text of the traces (message and reasoning content, tool outputs, memory blocks),
    at least 20 characters, each cut to `cap` characters."""
    texts: list[str] = []
    for envelope in itertools.chain.from_iterable(agents):
        data = envelope.data_dict()
        value = data.get("content", data.get("output"))
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) >= 20:
            texts.append(text[:cap])
    return texts


class BoundedWorkload:
    """An agent that keeps a working set: its folded context stays the same size however long
    its history, so a read should cost the same at 10k events as at 1M.

    Per event (seeded): memory_updated 45%, memory_stored 20%, memory_forgotten 15% (over a
    fixed pool of `pool` memory ids; a store with no free id updates instead, a forget with
    fewer than pool/3 held stores instead), mcp_state 15% (one of four servers, its whole
    state replaced), memory_linked 5% (among the first 20 ids, two relations: at most 760
    distinct links, kept once). Memory contents and MCP notes are real trace texts.
    With `append_share` > 0, that share of events are message / tool_call+tool_result pairs
    of real trace text instead, which the fold keeps for good (the context then grows).
    """

    def __init__(self, texts: list[str], pool: int, append_share: float, seed: int = 7):
        self.texts = texts
        self.pool = pool
        self.append_share = append_share
        self.seed = seed
        self.counts: dict[str, int] = {}  # event types generated so far (all sizes)

    def describe(self) -> dict[str, Any]:
        return {
            "name": "bounded",
            "what": "an agent keeping a working set: memory_stored/memory_updated/"
                    "memory_forgotten over a fixed pool of memory ids, mcp_state of 4 servers, "
                    "memory_linked within a fixed set of 760 possible links; contents are real "
                    "trace texts",
            "mix": {"memory_updated": 0.45, "memory_stored": 0.20, "memory_forgotten": 0.15,
                    "mcp_state": 0.15, "memory_linked": 0.05},
            "memory_id_pool": self.pool,
            "texts_from_traces": len(self.texts),
            "append_share": self.append_share,
            "why_no_messages_or_tool_calls": (
                "the fold (domain.state.apply_event) keeps every message, reasoning step and "
                "tool call in the context for good, so any fixed share of them makes the "
                "context grow linearly with history; with append_share > 0 that share of "
                "events are messages and tool_call/tool_result pairs (real text) and the "
                "context is no longer bounded"),
        }

    def events(self, agent_id: str, count: int) -> Iterator[AnyEnvelope]:
        from ctxstore.domain.events import make_envelope

        rng = random.Random(self.seed)
        held: list[str] = []
        held_set: set[str] = set()
        free = [f"mem-{i:04d}" for i in range(self.pool)]
        kinds = ("short_term", "long_term", "episodic", "semantic")
        text = self.texts
        call = 0
        pending_result: str | None = None
        for i in range(count):
            if pending_result is not None:
                type_, data = "tool_result", {"call_id": pending_result,
                                              "output": rng.choice(text),
                                              "duration_ms": round(rng.uniform(5, 900), 1)}
                pending_result = None
            elif self.append_share and rng.random() < self.append_share:
                if rng.random() < 0.5:
                    type_, data = "message", {"role": rng.choice(("user", "assistant")),
                                              "content": rng.choice(text)}
                else:
                    call += 1
                    pending_result = f"call-{call}"
                    type_, data = "tool_call", {"call_id": pending_result, "tool": "search",
                                                "arguments": {"query": rng.choice(text)[:200]}}
            else:
                r = rng.random()
                if r < 0.15 and len(held) > self.pool // 3:
                    victim = held.pop(rng.randrange(len(held)))
                    held_set.discard(victim)
                    free.append(victim)
                    type_, data = "memory_forgotten", {"memory_id": victim,
                                                       "reason": "stale"}
                elif r < 0.35 and free or not held:
                    memory_id = free.pop(rng.randrange(len(free)))
                    held.append(memory_id)
                    held_set.add(memory_id)
                    type_, data = "memory_stored", {
                        "memory_id": memory_id, "kind": rng.choice(kinds),
                        "content": rng.choice(text), "importance": round(rng.random(), 3),
                        "metadata": {"source": "trace", "turn": i}}
                elif r < 0.80:
                    type_, data = "memory_updated", {
                        "memory_id": rng.choice(held), "content": rng.choice(text),
                        "importance": round(rng.random(), 3)}
                elif r < 0.95:
                    server = rng.choice(MCP_SERVERS)
                    type_, data = "mcp_state", {"server": server, "state": {
                        "status": rng.choice(("connected", "degraded", "reconnecting")),
                        "tools": [f"{server}.{t}" for t in ("read", "write", "list", "search")],
                        "last_note": rng.choice(text), "seq": i}}
                else:
                    a, b = rng.sample(range(20), 2)
                    type_, data = "memory_linked", {"source_id": f"mem-{a:04d}",
                                                    "target_id": f"mem-{b:04d}",
                                                    "relation": rng.choice(RELATIONS)}
            self.counts[type_] = self.counts.get(type_, 0) + 1
            yield make_envelope(agent_id, type_, data, event_id=str(uuid.uuid4()))


# (b) bytes per event ---------------------------------------------------------------------------
def event_payloads(store: ContextStore, envelopes: list[AnyEnvelope]) -> tuple[list[bytes],
                                                                                list[int]]:
    """What the compressor is given for each event (the transcoded event), and its raw JSON."""
    agent = AgentContext.start("bench-bytes")
    payloads: list[bytes] = []
    raw: list[int] = []
    now = time.time()
    from datetime import UTC, datetime

    for i, e in enumerate(envelopes):
        agent.record(event_id=e.event_id, type=e.type, data=e.data_dict(),
                     timestamp=datetime.fromtimestamp(now + i / 1000, tz=UTC),
                     session_id=e.session_id)
        if len(agent.pending_events) >= 1000 or i == len(envelopes) - 1:
            for event in agent.collect_events():
                state = dict(vars(event))
                state.pop("originator_id")
                state.pop("originator_version")
                payloads.append(store.mapper.transcoder.encode(state))
                raw.append(len(wire_json(event)))
    return payloads, raw


def bytes_per_event(store: ContextStore, envelopes: list[AnyEnvelope], level: int,
                    dict_size: int, max_samples: int) -> dict[str, Any]:
    payloads, raw = event_payloads(store, envelopes)
    # Train on the even events, measure on the odd ones (held out), like a dictionary trained
    # on yesterday's events compressing today's.
    train = payloads[0::2][:max_samples]
    test = payloads[1::2]
    test_raw = raw[1::2]
    zlib = ZlibCompressor()
    plain = ZstdCompressor(level=level)
    dict_data = ZstdCompressor.train(train, dict_size)
    with_dict = ZstdCompressor(level=level)
    with_dict.activate(with_dict.add_dictionary(dict_data))
    builtin = ZstdCompressor(level=level, active_dictionary_id=BUILTIN_DICTIONARY_ID)  # default
    raw_per = sum(test_raw) / len(test)

    def per_event(compress: Callable[[bytes], bytes]) -> tuple[float, float]:
        """Bytes, and µs of CPU, an event (the second of two passes)."""
        for _ in range(2):
            started = time.process_time()
            total = sum(len(compress(p)) for p in test)
            cpu = time.process_time() - started
        return total / len(test), cpu / len(test) * 1e6

    figures: dict[str, Any] = {
        "events_measured": len(test), "dictionary_trained_on": len(train),
        "dictionary_bytes": len(dict_data), "zstd_level": level,
        "raw_json_bytes_per_event": round(raw_per, 1),
        "payload_bytes_per_event": round(sum(len(p) for p in test) / len(test), 1),
    }
    for name, fn in (("zlib", zlib.compress), ("zstd", plain.compress),
                     ("zstd_builtin_dictionary", builtin.compress),
                     ("zstd_dictionary", with_dict.compress)):
        per, cpu_us = per_event(fn)
        figures[name] = {"bytes_per_event": round(per, 1), "ratio_to_raw": round(per / raw_per,
                                                                                 4),
                         "compress_cpu_us_per_event": round(cpu_us, 2)}
    figures["aes_gcm_overhead_bytes_per_event"] = 28  # 12-byte nonce + 16-byte tag
    figures["dictionary_ratio_meets_target"] = (
        figures["zstd_dictionary"]["ratio_to_raw"] <= TARGETS["dictionary_bytes_over_raw"])
    return figures


# (c) checkpoints -------------------------------------------------------------------------------
def checkpoint_sizes(agents: list[list[AnyEnvelope]], states: dict[str, dict[str, Any]],
                     level: int) -> dict[str, Any]:
    """Canonical state compressed as a checkpoint body would be, against its raw size."""
    per_source: dict[str, dict[str, Any]] = {}
    sources: dict[str, list[bytes]] = {"real_trace_agents": []}
    for envelopes in agents:
        content = empty_content()
        fold_applicable(content, envelopes)
        sources["real_trace_agents"].append(canonical_json(content))
    for name, state in states.items():
        sources[name] = [canonical_json(content_of(state))]
    for name, bodies in sources.items():
        raw = sum(len(b) for b in bodies)
        entry: dict[str, Any] = {"states": len(bodies), "raw_bytes": raw}
        for lvl in sorted({level, 9, 19}):
            z = zstandard.ZstdCompressor(level=lvl)
            size = sum(len(z.compress(b)) for b in bodies)
            entry[f"zstd{lvl}_ratio"] = round(size / raw, 4)
        long_mode = zstandard.ZstdCompressor(compression_params=zstandard.ZstdCompressionParameters
                                             .from_level(19, enable_ldm=True, window_log=27))
        entry["zstd19_long_ratio"] = round(sum(len(long_mode.compress(b)) for b in bodies)
                                           / raw, 4)
        per_source[name] = entry
    return per_source


def timed_captures(checkpoints: Any, agent_id: str, n: int) -> tuple[list[float], Any]:
    """`n` captures of the agent: their times (ms, sorted) and the last checkpoint."""
    ms: list[float] = []
    checkpoint = None
    for _ in range(max(1, n)):
        t = time.perf_counter()
        checkpoint = checkpoints.capture(agent_id, label="bench")
        ms.append((time.perf_counter() - t) * 1000)
    return sorted(ms), checkpoint


def capture_levels(args: argparse.Namespace, base: list[AnyEnvelope], size: int,
                   levels: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Real captures (CheckpointService.capture on PostgreSQL) of one agent at each level:
    median time of a few, and the body's size against the raw canonical JSON."""
    from ctxstore.infrastructure.bootstrap import bootstrap

    schema = fresh_schema(args.dsn)
    settings = Settings(storage_backend="postgres", database_url=args.dsn,
                        database_schema=schema, snapshot_interval=NO_SNAPSHOTS)
    agent_id = f"bench-{size}"
    out: dict[str, Any] = {"events": size, "captures_per_level": args.captures}
    try:
        store = build_store(settings)
        out["load"] = load(store, cycled(base, agent_id, size), size, args.batch)
        state = store.agent_at(agent_id).state()
        raw = canonical_json(state)
        out["raw_canonical_json_bytes"] = len(raw)
        out["canonical_json_ms"] = round(timed(lambda: canonical_json(state)), 1)
        for level in levels:
            services = bootstrap(
                settings.model_copy(update={"checkpoint_compression_level": level}),
                store=store)
            ms, cp = timed_captures(services.checkpoints, agent_id, args.captures)
            plain = zstandard.ZstdCompressor(level=level)
            t = time.perf_counter()
            plain.compress(raw)
            out[f"level_{level}"] = {
                "capture_ms_median": round(ms[len(ms) // 2], 1),
                "capture_ms_max": round(ms[-1], 1),
                "compress_only_ms": round((time.perf_counter() - t) * 1000, 1),
                "compressed_size_bytes": cp.compressed_size_bytes,
                "ratio_to_raw": round(cp.compressed_size_bytes / cp.original_size_bytes, 4),
                "compression_strategy": cp.compression_strategy,
            }
            log(f"size {size}: level {level}: {out[f'level_{level}']}")
        store.close()
    finally:
        if not args.keep:
            drop_schema(args.dsn, schema)
    return out, state


def checkpoints_only(args: argparse.Namespace, started: float) -> None:
    """(c) alone: real captures at each level, and level ratios on the real trace agents."""
    defaults = Settings()
    level = defaults.checkpoint_level
    levels = sorted({3, 9, level, 12, 15, 19})
    base, trace_info, agents = real_events(args.traces)
    captures: dict[str, Any] = {}
    states: dict[str, dict[str, Any]] = {}
    for size in args.sizes:
        captures[str(size)], states[f"bench_agent_{size}_events"] = capture_levels(
            args, base, size, levels)
    sizes = checkpoint_sizes(agents, states, level)
    largest = str(max(args.sizes))
    assessment: dict[str, Any] = {
        f"checkpoint_bytes_over_raw_at_{largest}": [
            captures[largest][f"level_{level}"]["ratio_to_raw"],
            TARGETS["checkpoint_bytes_over_raw"]],
        "checkpoint_bytes_over_raw_small_trace_states": [
            sizes["real_trace_agents"][f"zstd{level}_ratio"], TARGETS["checkpoint_bytes_over_raw"]],
    }
    if "10000" in captures:
        assessment["checkpoint_capture_ms_at_10k"] = [
            captures["10000"][f"level_{level}"]["capture_ms_median"],
            TARGETS["checkpoint_capture_ms_at_10k"]]
    print(json.dumps({
        "benchmark": "restore.checkpoints",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "traces": trace_info,
        "checkpoint_compression_level": level,
        "captures": captures,
        "checkpoints": {"note": "canonical states compressed with plain zstd at several levels "
                        "(no dictionary), raw = canonical JSON", **sizes},
        "targets_measured_vs_target": assessment,
        "seconds": round(time.perf_counter() - started, 1),
    }, indent=2))


# (a) latency -----------------------------------------------------------------------------------
WRITE_SEGMENT = 10_000  # events: the load's CPU is reported per this many


def load(store: ContextStore, events: Iterator[AnyEnvelope], size: int, batch: int,
         max_seconds: float = float("inf")) -> dict[str, Any]:
    """Record `size` events in batches of `batch` through `ContextStore.record`; the store's
    own SnapshotPolicy decides the snapshots, as in production. Stops early (at a batch end)
    once `max_seconds` have passed: `events` then says how many were loaded."""
    started = time.perf_counter()
    done = 0
    per_100k: list[float] = []
    mark = started
    # This process's CPU an event in each WRITE_SEGMENT events (snapshots as the store's policy
    # takes them included): whether writing costs more as the context grows.
    cpu_started = cpu_mark = time.process_time()
    cpu_per_segment: list[float] = []
    while done < size:
        chunk = list(itertools.islice(events, min(batch, size - done)))
        if not chunk:
            break
        result = store.record(chunk)
        assert result.recorded == len(chunk), result.rejected[:3]
        done += len(chunk)
        if done % WRITE_SEGMENT == 0:
            cpu_now = time.process_time()
            cpu_per_segment.append(round((cpu_now - cpu_mark) * 1e6 / WRITE_SEGMENT, 1))
            cpu_mark = cpu_now
        if done % 100_000 == 0:
            now = time.perf_counter()
            per_100k.append(round(now - mark, 1))
            mark = now
        if done % (batch * 20) == 0:
            log(f"  recorded {done}/{size} in {time.perf_counter() - started:.0f} s")
        if time.perf_counter() - started > max_seconds and done < size:
            log(f"  load stopped at {done}/{size}: over {max_seconds:.0f} s")
            break
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {"events": done, "batch": batch, "seconds": round(seconds, 1),
                           "events_per_second": round(done / seconds),
                           "client_cpu_us_per_event": round(
                               (time.process_time() - cpu_started) * 1e6 / max(done, 1), 1),
                           f"client_cpu_us_per_event_by_{WRITE_SEGMENT}": cpu_per_segment}
    if per_100k:
        out["seconds_per_100k"] = per_100k
    return out


def one_row(cursor: Any) -> tuple[Any, ...]:
    row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def part_totals(conn: Any, schema: str) -> tuple[int, int, int]:
    """(parts, their stored bytes, reference rows) in a store's part tables."""
    parts, size = one_row(conn.execute(
        f'SELECT count(*), coalesce(sum(octet_length(data)), 0) FROM "{schema}".ctxstore_parts'))
    rows = one_row(conn.execute(f'SELECT count(*) FROM "{schema}".ctxstore_part_refs'))[0]
    return int(parts), int(size), int(rows)


def stored_sizes(dsn: str, schema: str) -> dict[str, Any]:
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))]
        events = next(t for t in tables if t.endswith("_events"))
        snaps = next(t for t in tables if t.endswith("_snapshots"))
        n, total = one_row(conn.execute(
            f'SELECT count(*), sum(octet_length(state)) FROM "{schema}"."{events}"'))
        sn, stotal, smax = one_row(conn.execute(
            f'SELECT count(*), sum(octet_length(state)), max(octet_length(state)) '
            f'FROM "{schema}"."{snaps}"'))
        versions = [r[0] for r in conn.execute(
            f'SELECT originator_version FROM "{schema}"."{snaps}" ORDER BY 1')]
        parts, part_bytes, ref_rows = part_totals(conn, schema)
    stotal = stotal or 0
    gaps = [b - a for a, b in zip(versions, versions[1:], strict=False)]
    # Snapshots keep their contents as parts (application.part_content): what they cost is
    # their rows plus every part stored while loading (nothing else writes parts then).
    return {"events": n, "event_bytes": total, "stored_bytes_per_event": round(total / n, 1),
            "snapshots": sn, "snapshot_row_bytes": stotal, "largest_snapshot_bytes": smax,
            "snapshot_parts": parts, "snapshot_part_bytes": part_bytes,
            "part_reference_rows": ref_rows,
            "snapshot_bytes": stotal + part_bytes,
            "snapshot_bytes_over_event_bytes": round((stotal + part_bytes) / total, 3),
            "last_snapshot_version": versions[-1] if versions else None,
            "largest_gap_between_snapshots": max(gaps) if gaps else None}


def fork_writes(dsn: str, schema: str, restore: Callable[[], Any]) -> dict[str, int]:
    """What one restore wrote: part bytes, parts, reference rows, its event's stored bytes."""
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        before = part_totals(conn, schema)
        result = restore()
        after = part_totals(conn, schema)
        event = one_row(conn.execute(
            f'SELECT octet_length(state) FROM "{schema}".ctxstore_events '
            "ORDER BY notification_id DESC LIMIT 1"))[0]
    return {"part_bytes": after[1] - before[1], "parts": after[0] - before[0],
            "reference_rows": after[2] - before[2], "event_bytes": int(event),
            "target_version": result.target_version}


FULL_COLLECTIONS = FullCollections()


def watched(run: Callable[[], list[float]], *, cpu: bool = False) -> dict[str, Any]:
    """The latencies `run` returns, summarised with the full collections that landed among
    them (bench.common.FullCollections); `cpu`: with this process's CPU and PostgreSQL's
    (all its processes) a call, which one call after another pay in turn: where their sum
    passes a p50 target, no round trip saved meets it on this machine."""
    mark = FULL_COLLECTIONS.mark()
    server = cpu_seconds({})["postgresql"] if cpu else 0.0
    client = time.process_time()
    ms = run()
    client = time.process_time() - client
    out = {**latency_summary(ms), "full_collections": FULL_COLLECTIONS.since(mark)}
    if cpu:
        server = cpu_seconds({})["postgresql"] - server
        out["client_cpu_ms_mean"] = round(client * 1000 / len(ms), 2)
        out["postgres_cpu_ms_mean"] = round(server * 1000 / len(ms), 2)
        # The kernel charges CPU by clock tick (psutil, /proc): each process's figure moves
        # by whole ticks, so a mean over these calls is good to about a tick ÷ n.
        out["postgres_cpu_tick_over_n_ms"] = round(1000 / os.sysconf("SC_CLK_TCK") / len(ms), 2)
    return out


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    t = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - t) * 1000


def breakdown(store: ContextStore, agent_id: str, version: int) -> dict[str, float]:
    """Where one snapshot read's time goes, stage by stage (ms)."""
    oid = aggregate_id(agent_id)
    out: dict[str, float] = {}
    t = time.perf_counter()
    snaps = list(store.snapshots.recorder.select_events(  # type: ignore[union-attr]
        oid, desc=True, limit=1, lte=version))
    out["fetch_snapshot_row"] = time.perf_counter() - t
    gt = 0
    if snaps:
        s = snaps[0]
        gt = s.originator_version
        t = time.perf_counter()
        frame = store.mapper.cipher.decrypt(s.state) if store.mapper.cipher else s.state
        payload = store.mapper.compressor.decompress(frame)  # type: ignore[union-attr]
        out["decompress_snapshot"] = time.perf_counter() - t
        t = time.perf_counter()
        store.mapper.transcoder.decode(payload)
        out["json_decode_snapshot"] = time.perf_counter() - t
        out["snapshot_bytes_stored"] = len(s.state)
        out["snapshot_bytes_json"] = len(payload)
    t = time.perf_counter()
    rows = store.recorder.select_events(oid, gt=gt, lte=version)
    out["fetch_event_rows"] = time.perf_counter() - t
    t = time.perf_counter()
    for r in rows:
        store.mapper.to_domain_event(r)
    out["decode_events"] = time.perf_counter() - t
    out["events_after_snapshot"] = len(rows)
    t = time.perf_counter()
    agent = store.agent_at(agent_id, version)
    out["agent_at_total"] = time.perf_counter() - t
    t = time.perf_counter()
    agent.state()
    out["state_and_content_hash"] = time.perf_counter() - t
    return {k: (round(v * 1000, 2) if isinstance(v, float) else v) for k, v in out.items()}


# A fork's steps, none within another (RestoreService, ContextStore, PartContent and the
# operation log, by the attribute of the owner `fork_phases` patches): where its time goes.
FORK_PHASES = (("catalogue_rows", "store", "summaries"),
               ("catalogue_and_point_rows", "store", "summaries_with_point"),
               ("point_rows", "store", "point_rows"),
               ("snapshot_read_in_part", "restore", "_snapshot"),
               ("replay_after_snapshot", "store", "replay"),
               ("hash_at_version", "restore", "_source"),
               ("keep_parts", "parts", "keep"),
               ("append_event", "restore", "_append_by_reference"),
               ("operation_row", "operations", "record_operation"))


def fork_phases(store: ContextStore, settings: Settings, agent_id: str,
                versions: list[int]) -> dict[str, Any]:
    """Forks at `versions` with each step timed: this process's CPU and the wall time per
    fork, by step, and what no step covers (`other`). Timed by wrapping the instances'
    methods (a few microseconds a call), so apart from the figures above; at versions no
    read asked for before, so colder than the timed forks, which follow reads at theirs."""
    from ctxstore.domain.points import Point
    from ctxstore.infrastructure.bootstrap import bootstrap

    service = bootstrap(settings, store=store).restore
    owners = {"store": store, "restore": service, "parts": store.part_content,
              "operations": store.operations}
    spent = {name: [0.0, 0.0] for name, _, _ in FORK_PHASES}

    def timed_step(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name][0] += time.process_time() - cpu
                spent[name][1] += time.perf_counter() - wall
        return step

    patched = [(owners[owner], attr, vars(owners[owner]).get(attr))
               for _, owner, attr in FORK_PHASES]
    for (name, _, _), (owner, attr, _) in zip(FORK_PHASES, patched, strict=True):
        setattr(owner, attr, timed_step(name, getattr(owner, attr)))
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for i, version in enumerate(versions):
            service.restore(agent_id, Point.of_version(version), f"{agent_id}-phases-{i}")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        for owner, attr, own in patched:
            if own is None:
                delattr(owner, attr)  # the class's method again
            else:
                setattr(owner, attr, own)
    n = len(versions)
    steps = {name: {"cpu_ms": round(c * 1000 / n, 3), "wall_ms": round(w * 1000 / n, 3)}
             for name, (c, w) in spent.items()}
    steps["other"] = {"cpu_ms": round((cpu - sum(c for c, _ in spent.values())) * 1000 / n, 3),
                      "wall_ms": round((wall - sum(w for _, w in spent.values())) * 1000 / n,
                                       3)}
    return {"n": n, "cpu_ms": round(cpu * 1000 / n, 3), "wall_ms": round(wall * 1000 / n, 3),
            "steps": steps}


def profile(fn: Callable[[], Any], top: int = 12) -> list[str]:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    lines = [ln.strip() for ln in buf.getvalue().splitlines()]
    start = next(i for i, ln in enumerate(lines) if ln.startswith("ncalls"))
    return [ln for ln in lines[start:] if ln][: top + 1]


def fork_and_source_windows(reader: ContextStore, source: str, forks: list[str],
                            n: int = 10, reads: int = 4) -> dict[str, Any]:
    """Tail-50 of the latest version of forks against their source's: held folded (an agent
    acting, read again), and not held (its first read after a start: folded from the store,
    a fork through its reference to the source's parts). The source's and a fork's reads take
    turns, `reads` of each held (five samples a side gave p50s a half apart on a noisy day)."""
    cache = reader.agent_cache
    assert cache is not None

    def window(agent: str, held: bool) -> list[float]:
        if held:
            # Held from here on (the cache may hold few): the first read folds it, the second
            # builds its window index (store_reads.WindowIndex), as an acting agent's reads do.
            reader.context(agent, tail=50)
            reader.context(agent, tail=50)
            return [timed(reader.context, agent, tail=50) for _ in range(reads)]
        cache.evict(aggregate_id(agent))
        return [timed(reader.context, agent, tail=50)]

    out: dict[str, Any] = {}
    for held in (False, True):
        key = "held" if held else "not_held"
        source_ms: list[float] = []
        fork_ms: list[float] = []
        for agent in forks[:n]:
            source_ms += window(source, held)
            fork_ms += window(agent, held)
        out[f"source_{key}"] = latency_summary(source_ms)
        out[f"fork_{key}"] = latency_summary(fork_ms)
    return out


def fork_and_source_past_windows(reader: ContextStore, source: str,
                                 forks: list[tuple[str, int]]) -> dict[str, Any]:
    """Tail-50 of forks made at random versions, at their first version (folded from the
    restore's reference, before any snapshot of their own: its content read in part), against
    their source's at the version each was made from (from its snapshot, read in part)."""
    cache = reader.agent_cache
    assert cache is not None
    fork_ms, source_ms = [], []
    for fork, version in forks:
        cache.evict(aggregate_id(fork))
        fork_ms.append(timed(reader.context, fork, version=1, tail=50))
        source_ms.append(timed(reader.context, source, version=version, tail=50))
    return {"fork_at_its_first_version": latency_summary(fork_ms),
            "source_at_the_version_forked": latency_summary(source_ms)}


def restorer(store: ContextStore, settings: Settings
             ) -> tuple[Callable[[str, int, str], Any], Callable[[str], Any]]:
    """The restore use case (source, version, target) and checkpoint capture (agent)."""
    from ctxstore.domain.points import Point
    from ctxstore.infrastructure.bootstrap import bootstrap

    services = bootstrap(settings, store=store)

    def restore(source: str, version: int, target: str) -> Any:
        return services.restore.restore(source, Point.of_version(version), target)

    def capture(agent_id: str) -> Any:
        return services.checkpoints.capture(agent_id, label="bench")

    return restore, capture


def measure_size(args: argparse.Namespace, make_events: Callable[[str, int],
                                                                 Iterator[AnyEnvelope]],
                 size: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Load one agent of `size` events (snapshots as the store's policy takes them), then time
    reads and restores at random points with snapshots and without."""
    defaults = Settings()
    schema = fresh_schema(args.dsn)
    settings = Settings(storage_backend="postgres", database_url=args.dsn,
                        database_schema=schema, aggregate_cache_size=4,
                        part_cache_bytes=int(args.part_cache_mb * 2**20))
    agent_id = f"bench-{size}"
    out: dict[str, Any] = {"events_asked": size,
                           "snapshot_interval": defaults.snapshot_interval,
                           "snapshot_growth": defaults.snapshot_growth,
                           "part_cache_mb": args.part_cache_mb}
    state_for_checkpoint = None
    try:
        log(f"size {size}: loading into schema {schema}")
        loader = build_store(settings)  # with its part store: snapshots kept as parts
        out["load"] = load(loader, make_events(agent_id, size), size, args.batch,
                           args.max_load_seconds)
        size = out["events"] = out["load"]["events"]  # fewer when the load was cut short
        if size <= 100_000 and args.workload == "traces":
            state_for_checkpoint = loader.agent_at(agent_id).state()
        loader.close()
        del loader
        gc.collect()
        out["stored"] = stored_sizes(args.dsn, schema)
        rng = random.Random(size)
        reads = args.reads if size < 1_000_000 else args.reads_1m
        points = rng.sample(range(1, size + 1), min(reads, size))

        reader = build_store(settings)
        latest = reader.agent_at(agent_id).state()
        out["state_json_bytes_at_latest"] = len(canonical_json(content_of(latest)))
        del latest
        log(f"size {size}: {len(points)} reads with snapshots")
        agent_at = watched(lambda: [timed(reader.agent_at, agent_id, v) for v in points])
        context = watched(lambda: [timed(reader.context, agent_id, version=v)
                                   for v in points])
        # A window at each random version (its snapshot read in part, store_reads), and
        # what it holds: bounded by the rule, not by the history.
        tail = watched(lambda: [timed(reader.context, agent_id, version=v, tail=50)
                                for v in points])
        windows = [reader.context(agent_id, version=v, tail=50) for v in points[:5]]
        # The latest version's window, the agent held folded as a live one is (what an
        # acting agent reads): cut from the cached agent, no part read.
        tail_latest = watched(lambda: [timed(reader.context, agent_id, version=size, tail=50)
                                       for _ in points])
        out["read_with_snapshots"] = {"agent_at": agent_at,
                                      "context": context,
                                      "tail_50": tail,
                                      "tail_50_window": {
                                          "json_bytes_max": max(len(canonical_json(w))
                                                                for w in windows),
                                          "tool_calls_max": max(len(w["tool_calls"])
                                                                for w in windows)},
                                      "tail_50_latest": tail_latest}
        mid = sorted(points)[len(points) // 2]
        out["breakdown_at_median_point"] = {"version": mid, **breakdown(reader, agent_id, mid)}
        # What decoding a whole state costs (orjson on its canonical JSON, best of 3), the floor
        # a whole read of a version held nowhere in memory meets, against the reads above.
        raw = canonical_json(content_of(reader.context(agent_id, version=mid)))
        decode_ms = min(timed(orjson.loads, raw) for _ in range(3))
        del raw
        read_p50 = out["read_with_snapshots"]["context"]["p50_ms"]
        out["read_vs_decoding_the_state"] = {
            "decode_state_ms_at_median_point": round(decode_ms, 2),
            "context_p50_ms": read_p50,
            "context_p50_over_decode": round(read_p50 / decode_ms, 2)}
        if args.profile and size == max(args.sizes):
            out["profile_agent_at_tottime"] = profile(lambda: reader.agent_at(agent_id, mid))

        restore, capture = restorer(reader, settings)
        restores = min(args.restores if size < 1_000_000 else args.restores_1m, len(points))
        if restores > 0:
            log(f"size {size}: {restores} restores with snapshots (forks into new agents)")
            results: list[Any] = []
            out["restore_with_snapshots"] = watched(lambda: [
                timed(lambda *a: results.append(restore(*a)), agent_id, v,
                      f"{agent_id}-fork-{i}") for i, v in enumerate(points[:restores])],
                cpu=True)
            out["restore_bases"] = sorted({str(getattr(r, "base", "?")) for r in results})
            out["fork_tail_50_at_a_past_version_vs_source"] = fork_and_source_past_windows(
                reader, agent_id, [(f"{agent_id}-fork-{i}", v)
                                   for i, v in enumerate(points[:restores])])
            # Forks of the latest version (the agent held folded): by reference, nothing
            # decoded or copied, whatever the content's size.
            reader.agent_at(agent_id)  # held folded again (the forks above filled the cache)
            out["fork_latest"] = watched(lambda: [
                timed(restore, agent_id, size, f"{agent_id}-latest-{i}")
                for i in range(restores)], cpu=True)
            out["fork_tail_50_vs_source"] = fork_and_source_windows(
                reader, agent_id, [f"{agent_id}-latest-{i}" for i in range(restores)])
            # What each fork writes (measured apart from the timings), at points no fork
            # used yet: 30 events after the last snapshot (that tail is not stored yet), then
            # random ones.
            unused = rng.sample(sorted(set(range(1, size + 1)) - set(points)), restores)
            log(f"size {size}: {restores} forks with their steps timed")
            out["fork_phases_at_random_versions"] = fork_phases(
                reader, settings, agent_id,
                rng.sample(sorted(set(range(1, size + 1)) - set(points) - set(unused)),
                           restores))
            def counted_fork(version: int, i: int) -> Callable[[], Any]:
                return lambda: restore(agent_id, version, f"{agent_id}-counted-{i}")

            writes = [fork_writes(args.dsn, schema, counted_fork(v, i))
                      for i, v in enumerate([size - 70, *unused])]
            out["fork_writes"] = {
                "30_events_after_a_snapshot": writes[0],
                **{f"{key}_max": max(w[key] for w in writes)
                   for key in ("part_bytes", "parts", "reference_rows", "event_bytes")}}

        # Without snapshots: the same events, read by a store that never snapshots and has
        # no snapshot store (every read and restore replays from version 1).
        plain = settings.model_copy(update={"snapshot_interval": NO_SNAPSHOTS})
        replay = build_store(plain)
        replay.repository.snapshot_store = None  # reads
        replay.snapshots = None  # the restore use case's own base lookup, and writes
        replay_restore, _ = restorer(replay, plain)
        budget = args.replay_seconds
        wanted = max(1, args.replay_reads if size < 1_000_000 else args.replay_reads_1m)
        log(f"size {size}: up to {wanted} reads and restores replaying every event "
            f"(cap {budget:.0f} s each)")
        spent = 0.0
        replay_ms: list[float] = []
        for v in points[:wanted]:
            replay_ms.append(timed(replay.agent_at, agent_id, v))
            spent += replay_ms[-1] / 1000
            if spent > budget:
                break
        spent = 0.0
        replay_restore_ms: list[float] = []
        for i, v in enumerate(points[:wanted]):
            replay_restore_ms.append(timed(replay_restore, agent_id, v,
                                           f"{agent_id}-plain-{i}"))
            spent += replay_restore_ms[-1] / 1000
            if spent > budget:
                break
        out["without_snapshots"] = {
            "note": f"first {wanted} of the same random points, stopped early once "
                    f"{budget:.0f} s were spent; see n",
            "read_agent_at": latency_summary(replay_ms),
            "restore": latency_summary(replay_restore_ms)}
        replay.close()
        if size <= args.checkpoint_max and args.workload == "traces":
            t = time.perf_counter()
            checkpoint = capture(agent_id)
            out["checkpoint"] = {
                "version": checkpoint.version, "ms": round((time.perf_counter() - t) * 1000),
                "original_size_bytes": checkpoint.original_size_bytes,
                "compressed_size_bytes": checkpoint.compressed_size_bytes,
                "ratio": round(checkpoint.compressed_size_bytes
                               / checkpoint.original_size_bytes, 4),
                "compression_strategy": checkpoint.compression_strategy}
        if restores > 0:
            # Rewinds last: each appends a restore event to the agent measured above.
            log(f"size {size}: {restores} rewinds")
            out["rewind"] = watched(lambda: [timed(restore, agent_id, v, agent_id)
                                             for v in points[:restores]], cpu=True)
        reader.close()
    finally:
        if not args.keep:
            drop_schema(args.dsn, schema)
    return out, state_for_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=("traces", "bounded"), default="traces",
                        help="traces: the real traces cycled (the context grows with history); "
                        "bounded: real trace texts in an agent keeping a working set")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated event counts per agent (default 10000,100000 for "
                        "traces, 10000,100000,1000000 for bounded; 10000 with "
                        "--checkpoints-only)")
    parser.add_argument("--checkpoints-only", action="store_true",
                        help="only (c): real captures at several zstd levels, and sizes")
    parser.add_argument("--captures", type=int, default=3,
                        help="captures per level with --checkpoints-only")
    parser.add_argument("--quick", action="store_true", help="2k and 10k events, few reads")
    parser.add_argument("--reads", type=int, default=None,
                        help="random points per size (default 40 traces, 200 bounded)")
    parser.add_argument("--reads-1m", type=int, default=None,
                        help="random points at 1M+ (default 8 traces, --reads bounded)")
    parser.add_argument("--replay-reads", type=int, default=8,
                        help="reads and restores without snapshots per size (each replays the "
                        "history up to its point)")
    parser.add_argument("--replay-reads-1m", type=int, default=3)
    parser.add_argument("--replay-seconds", type=float, default=90.0,
                        help="stop the reads (and the restores) without snapshots of a size "
                        "once they took this long")
    parser.add_argument("--restores", type=int, default=None,
                        help="restores with snapshots per size (default 10 traces, 50 bounded)")
    parser.add_argument("--restores-1m", type=int, default=None)
    parser.add_argument("--pool", type=int, default=300,
                        help="bounded: memory ids the agent stores, updates and forgets")
    parser.add_argument("--text-cap", type=int, default=2000,
                        help="bounded: real trace texts cut to this many characters")
    parser.add_argument("--append-share", type=float, default=0.0,
                        help="bounded: share of events that are messages or tool call/result "
                        "pairs (kept for good by the fold: the context then grows)")
    parser.add_argument("--max-load-seconds", type=float, default=720.0,
                        help="stop loading a size after this long and measure what was loaded")
    parser.add_argument("--checkpoint-max", type=int, default=100_000,
                        help="traces: take a checkpoint of agents up to this many events")
    parser.add_argument("--batch", type=int, default=5000, help="events per record() call")
    parser.add_argument("--dsn", default=os.environ.get("CONTEXT_DATABASE_URL",
                                                        "postgresql://postgres@127.0.0.1/test"))
    parser.add_argument("--traces", type=Path, default=TRACES)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one read at the largest size")
    parser.add_argument("--part-cache-mb", type=float,
                        default=Settings().part_cache_bytes / 2**20,
                        help="CONTEXT_PART_CACHE_BYTES in MiB (default: the setting's); a "
                        "state larger than it is decoded again on each read at another point")
    parser.add_argument("--keep", action="store_true", help="keep the bench schemas")
    parser.add_argument("--gc", choices=("serving", "default"), default="serving",
                        help="serving: the collector and allocator settings ctxstore serve, "
                        "ingest and project run with (infrastructure.process_tuning: "
                        "CONTEXT_GC_YOUNG_THRESHOLD, the start-up heap frozen), so the reads "
                        "timed here pay the collections a server's do; default: CPython's")
    args = parser.parse_args()
    bounded = args.workload == "bounded"
    args.reads = args.reads or (200 if bounded else 40)
    args.reads_1m = args.reads_1m or (args.reads if bounded else 8)
    args.restores = args.restores if args.restores is not None else (50 if bounded else 10)
    args.restores_1m = (args.restores_1m if args.restores_1m is not None
                        else (args.restores if bounded else 2))
    if args.quick:
        args.sizes = args.sizes or "2000,10000"
        args.reads, args.replay_reads, args.restores = 15, 3, 5
        args.reads_1m, args.restores_1m = 15, 5
    default_sizes = ("10000" if args.checkpoints_only
                     else "10000,100000,1000000" if bounded else "10000,100000")
    args.sizes = [int(s) for s in str(args.sizes or default_sizes).split(",") if s.strip()]
    defaults = Settings()

    if args.gc == "serving":
        tune_process(defaults)  # as each long-running command does once it is built
    started = time.perf_counter()
    if args.checkpoints_only:
        checkpoints_only(args, started)
        return
    base, trace_info, agents = real_events(args.traces)
    log(f"traces: {trace_info}")
    result: dict[str, Any] = {"benchmark": "restore",
                              "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                              "machine": {"cpus": os.cpu_count(),
                                          "python": platform.python_version(),
                                          "load_average_at_start": os.getloadavg()},
                              "gc": {"process_tuning": args.gc,
                                     "thresholds": list(gc.get_threshold()),
                                     "frozen_objects": gc.get_freeze_count()},
                              "traces": trace_info}
    workload: BoundedWorkload | None = None
    if bounded:
        workload = BoundedWorkload(real_texts(agents, args.text_cap), args.pool,
                                   args.append_share)
        make_events: Callable[[str, int], Iterator[AnyEnvelope]] = workload.events
    else:
        result["workload"] = {
            "name": "traces",
            "what": "every imported event of the real traces that applies from an empty "
                    "state, cycled with fresh ids: messages, tool calls and reasoning are kept "
                    "for good, so the context grows with the history"}

        def make_events(agent_id: str, count: int) -> Iterator[AnyEnvelope]:
            return cycled(base, agent_id, count)

    latency: dict[str, Any] = {}
    states: dict[str, dict[str, Any]] = {}
    for size in args.sizes:
        figures, state = measure_size(args, make_events, size)
        latency[str(figures["events"])] = figures
        if state is not None:
            states[f"bench_agent_{size}_events"] = state
        log(json.dumps({size: figures.get("read_with_snapshots")}))
    if workload is not None:
        result["workload"] = {**workload.describe(), "generated_types": workload.counts}
    result["latency"] = latency

    def fig(size: str, *keys: str) -> float | None:
        node: Any = latency.get(size)
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, (int, float)) else None

    assessment: dict[str, Any] = {}
    if "100000" in latency:
        read = latency["100000"]["read_with_snapshots"]["agent_at"]
        assessment["read_p50_ms_at_100k"] = [read["p50_ms"], TARGETS["read_p50_ms_at_100k"]]
        assessment["read_p99_ms_at_100k"] = [read["p99_ms"], TARGETS["read_p99_ms_at_100k"]]
    for size_key in ("10000", "100000"):
        tail_p99 = fig(size_key, "read_with_snapshots", "tail_50", "p99_ms")
        if tail_p99 is not None:
            assessment[f"tail_50_p99_ms_at_{size_key}"] = [tail_p99, TARGETS["tail_50_p99_ms"]]
        for label, keys in (("fork_random_version", ("restore_with_snapshots",)),
                            ("fork_latest", ("fork_latest",)), ("rewind", ("rewind",))):
            p50 = fig(size_key, *keys, "p50_ms")
            if p50 is not None:
                assessment[f"{label}_p50_ms_at_{size_key}"] = [
                    p50, TARGETS["fork_and_rewind_p50_ms"]]
            cpu_ms = fig(size_key, *keys, "client_cpu_ms_mean")
            if cpu_ms is not None:  # the CPU alone, against the same target (see above)
                assessment[f"{label}_client_cpu_ms_at_{size_key}"] = [
                    cpu_ms, TARGETS["fork_and_rewind_p50_ms"]]
            server_ms = fig(size_key, *keys, "postgres_cpu_ms_mean")
            if cpu_ms is not None and server_ms is not None:  # the two in turn (watched)
                assessment[f"{label}_client_and_postgres_cpu_ms_at_{size_key}"] = [
                    round(cpu_ms + server_ms, 2), TARGETS["fork_and_rewind_p50_ms"]]
        past = "fork_tail_50_at_a_past_version_vs_source"
        for label, fork_keys, source_keys in (
                ("past_version", (past, "fork_at_its_first_version"),
                 (past, "source_at_the_version_forked")),
                ("held_latest", ("fork_tail_50_vs_source", "fork_held"),
                 ("fork_tail_50_vs_source", "source_held"))):
            fork_p50 = fig(size_key, *fork_keys, "p50_ms")
            source_p50 = fig(size_key, *source_keys, "p50_ms")
            if fork_p50 and source_p50:
                assessment[f"fork_tail_50_p50_over_source_{label}_at_{size_key}"] = [
                    round(fork_p50 / source_p50, 2), TARGETS["fork_tail_50_over_source"]]
    sizes = sorted(int(k) for k in latency)
    if len(sizes) > 1 and sizes[0] == 10_000:
        large = str(sizes[-1])
        name = "1m" if large == "1000000" else large
        ratios = {}
        compared: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("agent_at_p50", ("read_with_snapshots", "agent_at", "p50_ms")),
            ("agent_at_p99", ("read_with_snapshots", "agent_at", "p99_ms")),
            ("context_p50", ("read_with_snapshots", "context", "p50_ms")),
            ("context_p99", ("read_with_snapshots", "context", "p99_ms")),
            ("restore_p50", ("restore_with_snapshots", "p50_ms")),
            ("restore_p99", ("restore_with_snapshots", "p99_ms")))
        for label, path in compared:
            small_v, large_v = fig("10000", *path), fig(large, *path)
            if small_v and large_v:
                ratios[label] = round(large_v / small_v, 2)
        assessment[f"{name}_over_10k"] = ratios
        # Write CPU an event as the context grows: the largest agent's last segment of its
        # load against its first (the same events, the same process), and against the whole
        # load of the 10k agent.
        segments = latency[large]["load"].get(f"client_cpu_us_per_event_by_{WRITE_SEGMENT}")
        small_cpu = fig("10000", "load", "client_cpu_us_per_event")
        if segments and len(segments) > 1 and small_cpu:
            assessment[f"write_cpu_us_per_event_last_{WRITE_SEGMENT}_at_{name}"] = {
                "first": segments[0], "last": segments[-1],
                "last_over_first": round(segments[-1] / segments[0], 2),
                "whole_10k_load": small_cpu,
                "last_over_whole_10k_load": round(segments[-1] / small_cpu, 2)}
        if "agent_at_p50" in ratios:
            assessment[f"p50_{name}_over_10k"] = [ratios["agent_at_p50"],
                                                   TARGETS["p50_1m_over_10k"]]
    if not bounded:
        probe = build_store(Settings(storage_backend="sqlite",
                                     storage_path=Path(f"/tmp/bench-restore-{os.getpid()}")))
        compression = bytes_per_event(probe, base, defaults.compression_level,
                                      dict_size=DEFAULT_DICTIONARY_SIZE,
                                      max_samples=DEFAULT_SAMPLES)
        probe.close()
        checkpoints = checkpoint_sizes(agents, states, defaults.checkpoint_level)
        result["bytes_per_event"] = compression
        result["checkpoints"] = {
            "note": "real checkpoints (CheckpointService.capture) are under latency.<size>"
                    ".checkpoint; here canonical states compressed with zstd directly, as "
                    "package bodies are, at several levels", **checkpoints}
        assessment["dictionary_bytes_over_raw"] = [
            compression["zstd_dictionary"]["ratio_to_raw"], TARGETS["dictionary_bytes_over_raw"]]
        for size_key, figures in latency.items():
            if "checkpoint" in figures:  # real captures, at CONTEXT_CHECKPOINT_COMPRESSION_LEVEL
                assessment[f"checkpoint_bytes_over_raw_at_{size_key}"] = [
                    figures["checkpoint"]["ratio"], TARGETS["checkpoint_bytes_over_raw"]]
        assessment["checkpoint_bytes_over_raw_small_trace_states"] = [
            checkpoints["real_trace_agents"][f"zstd{defaults.checkpoint_level}"
                                             "_ratio"],
            TARGETS["checkpoint_bytes_over_raw"]]
    result["targets_measured_vs_target"] = assessment
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
