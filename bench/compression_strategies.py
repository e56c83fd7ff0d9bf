"""CONTEXT_COMPRESSION_STRATEGY on the real traces: each strategy's ratio and capture cost, JSON
on stdout.

Every trace agent (/work/shared/data/traces and the bundled copies under
ctxstore/infrastructure/samples/traces) is recorded into a fresh store per strategy in
--checkpoints steps, with a capture after each step, as automatic checkpoints would take them
while the agent works. For each strategy:

  ratio            stored bytes ÷ original bytes (compressed ÷ original, the plan's ratio) over
                   every capture: what the store really holds afterwards (package bodies and
                   the part store's parts, measured in its tables), and what the captures
                   reported (`compressed_size_bytes`, which for `semantic` is what each one
                   added: its body and the pieces the store did not hold yet)
  first_ratio      the same over the first capture of each agent only
  capture_ms       median wall time of one capture, and p90
  cpu_ms           median process CPU of one capture (what does not depend on other load)

The raw baseline in the same run: the canonical JSON of every captured state (`original`) and
that JSON as one plain zstd-3 frame per capture (`plain_zstd3`).

    .venv/bin/python bench/compression_strategies.py                     # SQLite, ~2-4 min
    .venv/bin/python bench/compression_strategies.py --backend postgres  # fresh schema
    .venv/bin/python bench/compression_strategies.py --strategies semantic,advanced --limit 20
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import zstandard  # noqa: E402

from bench.common import drop_schema, fresh_schema, percentile, trace_agents  # noqa: E402
from bench.restore import fold_applicable  # noqa: E402
from ctxstore.domain.events import AnyEnvelope  # noqa: E402
from ctxstore.domain.state import canonical_json, empty_content  # noqa: E402
from ctxstore.infrastructure.bootstrap import bootstrap, build_store  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402

TRACE_ROOTS = (Path("/work/shared/data/traces"), REPO / "ctxstore/infrastructure/samples/traces")


def load_agents(limit: int | None) -> tuple[list[list[AnyEnvelope]], dict[str, Any]]:
    """Each trace agent's applicable events, renamed apart (trace files reuse agent ids); an
    agent met twice (the bundled traces copy some shared ones) counts once."""
    agents: list[list[AnyEnvelope]] = []
    seen: set[tuple[str, ...]] = set()
    files = duplicates = 0
    for root in TRACE_ROOTS:
        if not root.exists():
            continue
        found, n = trace_agents(root)
        files += n
        for envelopes in found:
            kept = fold_applicable(empty_content(), envelopes)
            ids = tuple(e.event_id for e in kept)
            if ids in seen:
                duplicates += 1
                continue
            seen.add(ids)
            if kept:
                name = f"trace-{len(agents)}"
                agents.append([e.model_copy(update={"agent_id": name}) for e in kept])
    if limit:
        agents = agents[:limit]
    return agents, {"roots": [str(r) for r in TRACE_ROOTS if r.exists()], "files": files,
                    "agents": len(agents), "duplicate_agents_skipped": duplicates,
                    "events": sum(len(a) for a in agents)}


def settings_for(args: argparse.Namespace, strategy: str, folder: Path) -> Settings:
    common: dict[str, Any] = {"compression_strategy": strategy, "storage_path": folder,
                              "max_checkpoints_per_agent": 1000,
                              "checkpoint_interval_minutes": 0}
    if args.backend == "sqlite":
        return Settings(storage_backend="sqlite", **common)
    return Settings(storage_backend=args.backend, database_url=args.database_url,
                    database_schema=fresh_schema(args.database_url, "bench_cs"), **common)


def stored_bytes(services: Any) -> int:
    """Bytes the store holds for checkpoints: package bodies (rows or body parts) and parts."""
    recorder = services.store.packages
    total = 0
    for row in recorder.select_packages():
        full = recorder.select_package(row.package_id, tenant=row.tenant)
        total += len(full.body or b"")
    parts = services.checkpoints.parts
    datastore = recorder.datastore
    if hasattr(parts, "parts_table"):
        with datastore.transaction(commit=False) as curs:
            table = parts.parts_table
            if isinstance(table, str):
                curs.execute(f"SELECT coalesce(sum(length(data)), 0) FROM {table}")
            else:
                from psycopg.sql import SQL

                curs.execute(SQL("SELECT coalesce(sum(length(data)), 0) AS n FROM {}")
                             .format(table))
            row = curs.fetchone()
            total += int(next(iter(row.values())) if isinstance(row, dict) else row[0])
    elif parts is not None:  # hybrid's files
        total += sum(p.stat().st_size for p in parts.root.glob("*/*/*"))
    return total


def run_strategy(args: argparse.Namespace, strategy: str, agents: list[list[AnyEnvelope]]
                 ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ctxstore-bench-") as tmp:
        settings = settings_for(args, strategy, Path(tmp))
        store = build_store(settings)
        services = bootstrap(settings, store=store)
        wall: list[float] = []
        cpu: list[float] = []
        original = reported = first_original = first_reported = plain = 0
        plain_zstd = zstandard.ZstdCompressor(level=3)
        try:
            for envelopes in agents:
                step = max(1, -(-len(envelopes) // args.checkpoints))
                for n, start in enumerate(range(0, len(envelopes), step)):
                    store.record(envelopes[start:start + step])
                    agent = envelopes[0].agent_id
                    t0, c0 = time.perf_counter(), time.process_time()
                    cp = services.checkpoints.capture(agent)
                    wall.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                    original += cp.original_size_bytes
                    reported += cp.compressed_size_bytes
                    plain += len(plain_zstd.compress(canonical_json(store.context(agent))))
                    if n == 0:
                        first_original += cp.original_size_bytes
                        first_reported += cp.compressed_size_bytes
            held = stored_bytes(services)
            parts = services.checkpoints.parts
            return {
                "captures": len(wall),
                "compression_strategy": cp.compression_strategy,
                "ratio": round(held / original, 4),
                "ratio_reported": round(reported / original, 4),
                "first_ratio": round(first_reported / first_original, 4),
                "stored_bytes": held,
                "parts": parts.count() if parts is not None else 0,
                "capture_ms": {"p50": round(statistics.median(wall), 2),
                               "p90": round(percentile(wall, 0.9), 2),
                               "total_s": round(sum(wall) / 1000, 2)},
                "cpu_ms": {"p50": round(statistics.median(cpu), 2),
                           "mean": round(statistics.fmean(cpu), 2)},
                "baseline": {"original_bytes": original, "plain_zstd3_bytes": plain,
                             "plain_zstd3_ratio": round(plain / original, 4)},
            }
        finally:
            store.close()
            if args.backend != "sqlite":
                drop_schema(args.database_url, settings.database_schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", default="basic,advanced,semantic")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres", "hybrid"])
    parser.add_argument("--database-url", default=Settings().database_url)
    parser.add_argument("--checkpoints", type=int, default=4,
                        help="captures per agent, spread over its events")
    parser.add_argument("--limit", type=int, default=None, help="first N trace agents only")
    args = parser.parse_args()
    started = time.perf_counter()
    agents, info = load_agents(args.limit)
    results = {s: run_strategy(args, s, agents) for s in args.strategies.split(",")}
    out: dict[str, Any] = {
        "bench": "compression_strategies", "run": uuid.uuid4().hex[:8],
        "machine": {"python": platform.python_version(), "cpus": platform.machine()},
        "backend": args.backend, "checkpoints_per_agent": args.checkpoints, "traces": info,
        "strategies": results,
    }
    if "semantic" in results and "advanced" in results:
        out["semantic_beats_advanced"] = (results["semantic"]["ratio"]
                                          < results["advanced"]["ratio"])
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
