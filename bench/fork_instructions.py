"""Client instructions a fork costs, counted by callgrind, by this checkout and another: JSON.

`bench/restore_ab.py` times two checkouts taking turns; on a machine whose speed drifts by
10-20 % within minutes (and ran 2.5-3x slower on some days than others), a change of a few
percent in a fork's CPU stays inside that noise. An instruction count does not drift: the same
code, database and forks give the same count to 0.1 % (seen here: 552.3 / 552.5 / 552.7 M for
20 forks, three runs). So each checkout's worker runs under `valgrind --tool=callgrind` with
instrumentation off, and this driver turns it on (`callgrind_control -i on`) for the timed
forks alone: start-up, imports, loading and the warm-up forks are not counted.

What it counts is this process's work, not PostgreSQL's. Two things it does not weigh as a CPU
does: valgrind runs every instruction at the same cost (a cache miss is free, a division
cheap), and OpenSSL under valgrind hashes without the SHA extensions this machine's CPU has,
so SHA-256 counts several times what it costs for real: the JSON gives libcrypto's share
apart (`libcrypto_instructions`) and the rest (`instructions_without_libcrypto`), the figure
to compare.

    git worktree add /tmp/base <rev>
    .venv/bin/python bench/fork_instructions.py --against /tmp/base --events 10000
    .venv/bin/python bench/fork_instructions.py --events 100000 --forks 20   # this one only

Each checkout loads its own agent (`--events` real-trace events, cycled as in
`bench/restore.py`) into a fresh schema with its own code, outside valgrind: what a
snapshot records differs between releases (an older release may not read a newer record, and
then reads less), so each forks what it wrote itself. Then each makes the same forks (the same
random versions, `--seed`) into new agents. Needs valgrind (Debian's package).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This file's folder is first on sys.path (run as a script): the shared options without
# importing the package `bench`, which the workers import from the other checkout.
from ab_options import add_checkout_options

REPO = Path(__file__).resolve().parents[1]
WARM_UP = 5  # forks before counting: connections, prepared statements, caches


def worker(root: str, dsn: str, schema: str, agent_id: str, events: int, forks: int,
           seed: int, signals: str) -> None:
    """Fork `forks` times at random versions, between the driver's signals (files in
    `signals`: this worker writes `ready` then waits for `go`; writes `done`, waits for
    `stop`)."""
    sys.path.insert(0, root)
    from ctxstore.domain.points import Point
    from ctxstore.infrastructure.bootstrap import bootstrap, build_store
    from ctxstore.infrastructure.settings import Settings

    settings = Settings(storage_backend="postgres", database_url=dsn, database_schema=schema,
                        aggregate_cache_size=4)
    store = build_store(settings)
    restore = bootstrap(settings, store=store).restore
    rng = random.Random(seed)
    tag = f"{Path(root).name}-{random.randrange(10**9)}"

    def fork(n: int) -> None:
        restore.restore(agent_id, Point.of_version(rng.randrange(1, events + 1)),
                        f"{tag}-{n}")

    for n in range(WARM_UP):
        fork(-n - 1)
    rng.seed(seed)  # the counted forks are the same versions in every worker

    def signal(name: str) -> None:
        Path(signals, name).touch()

    def wait(name: str) -> None:
        while not Path(signals, name).exists():
            time.sleep(0.05)

    signal("ready")
    wait("go")
    for n in range(forks):
        fork(n)
    signal("done")
    wait("stop")
    store.close()


def loader(root: str, dsn: str, schema: str, agent_id: str, events: int) -> None:
    """Load the agent with `root`'s code (outside valgrind: not counted, and 50x faster)."""
    sys.path.insert(0, root)
    from bench.restore import TRACES, cycled, load, real_events
    from ctxstore.infrastructure.bootstrap import build_store
    from ctxstore.infrastructure.settings import Settings

    store = build_store(Settings(storage_backend="postgres", database_url=dsn,
                                 database_schema=schema))
    base, _, _ = real_events(TRACES)
    load(store, cycled(base, agent_id, events), events, 5000)
    store.close()


def wait_for(path: Path, process: subprocess.Popen[bytes], what: str) -> None:
    while not path.exists():
        if process.poll() is not None:
            raise SystemExit(f"the worker ended before {what} (exit {process.returncode})")
        time.sleep(0.1)


def counted(root: Path, args: argparse.Namespace, agent_id: str) -> dict[str, Any]:
    """One checkout's forks under callgrind, in a schema of its own: its instructions, whole
    and without libcrypto."""
    sys.path.insert(0, str(REPO))
    from bench.common import drop_schema, fresh_schema

    schema = fresh_schema(args.dsn)
    try:
        subprocess.run([sys.executable, __file__, "--dsn", args.dsn, "--events", str(args.events),
                        "--load", str(root), schema, agent_id], check=True)
        return _counted(root, args, schema, agent_id)
    finally:
        drop_schema(args.dsn, schema)


def _counted(root: Path, args: argparse.Namespace, schema: str, agent_id: str
             ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fork-instructions-") as signals:
        out = Path(signals, "callgrind.out")
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, __file__,
             "--dsn", args.dsn, "--events", str(args.events), "--forks", str(args.forks),
             "--seed", str(args.seed),
             "--worker", str(root), schema, agent_id, signals],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(Path(signals, "ready"), process, "its forks")
            toggle = ["callgrind_control", "-i"]
            subprocess.run([*toggle, "on", str(process.pid)], check=True,
                           capture_output=True)
            Path(signals, "go").touch()
            wait_for(Path(signals, "done"), process, "the end of its forks")
            subprocess.run([*toggle, "off", str(process.pid)], check=True,
                           capture_output=True)
            Path(signals, "stop").touch()
            _, err = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
        if process.returncode != 0:
            raise SystemExit(f"the worker failed: {err.decode(errors='replace')[-2000:]}")
        total, crypto = instruction_totals(out)
    return {"checkout": str(root), "forks": args.forks,
            "instructions_per_fork": round(total / args.forks),
            "libcrypto_instructions_per_fork": round(crypto / args.forks),
            "instructions_without_libcrypto_per_fork": round((total - crypto) / args.forks)}


def instruction_totals(out: Path) -> tuple[int, int]:
    """The run's instructions, and those spent in libcrypto (self cost, by object)."""
    text = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", str(out)],
                          check=True, capture_output=True, text=True).stdout
    total = next(int(m.group(1).replace(",", "")) for m in
                 [re.match(r"\s*([\d,]+) .*PROGRAM TOTALS", line) for line in text.splitlines()]
                 if m)
    crypto = sum(int(m.group(1).replace(",", "")) for m in
                 [re.match(r"\s*([\d,]+) .*\[[^]]*libcrypto[^]]*\]\s*$", line)
                  for line in text.splitlines()] if m)
    return total, crypto


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_checkout_options(parser, against_required=False)
    parser.add_argument("--forks", type=int, default=20,
                        help="forks counted per checkout (under valgrind, ~1 s each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", nargs=4, metavar=("ROOT", "SCHEMA", "AGENT", "SIGNALS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=3, metavar=("ROOT", "SCHEMA", "AGENT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        loader(args.load[0], args.dsn, args.load[1], args.load[2], args.events)
        return
    if args.worker:
        worker(args.worker[0], args.dsn, args.worker[1], args.worker[2], args.events,
               args.forks, args.seed, args.worker[3])
        return
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (Debian: apt-get install valgrind)")
    if args.events < 1 or args.forks < 1:
        parser.error("--events and --forks: at least 1")
    checkouts = {"this": REPO}
    if args.against:
        other = Path(args.against).resolve()
        if not (other / "ctxstore").is_dir():
            parser.error(f"--against: {other} holds no ctxstore checkout")
        checkouts["against"] = other

    sys.path.insert(0, str(REPO))
    from bench.restore import log

    agent_id = f"instructions-{args.events}"
    results = {}
    for name, root in checkouts.items():
        log(f"{name}: loading {args.events} events, then {args.forks} forks under callgrind "
            f"({root})")
        results[name] = counted(root, args, agent_id)
    out: dict[str, Any] = {"bench": "fork_instructions", "events": args.events,
                           "seed": args.seed, **results}
    if "against" in results:
        key = "instructions_without_libcrypto_per_fork"
        out["ratio_without_libcrypto"] = round(results["this"][key] / results["against"][key],
                                               4)
        out["ratio_all"] = round(results["this"]["instructions_per_fork"]
                                 / results["against"]["instructions_per_fork"], 4)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
