"""LangGraph's `PostgresSaver` against `CtxstoreSaver` on the same graph and conversation, in one
run on one PostgreSQL (a fresh schema each), printing JSON (issue 15).

The conversation is the tau-bench airline trajectories (shared/data/traces/tau-bench) joined
into one thread: a turn is a user message in, and the trace's assistant and tool messages up to
the next user message out, from a scripted model node of a `StateGraph(MessagesState)`. For
each saver: bytes on disk (the schema's tables, `pg_total_relation_size`) per raw byte (the
canonical JSON of the trace messages so far) at each size asked, turns/s over the whole run,
`get_state` at earlier checkpoints p50/p99, a fork by `update_state` from an earlier checkpoint
p50/p99, one full `get_state_history` walk, and `copy_thread` of the whole thread; and this
process's CPU time (`cpu_s`, `turns_cpu_s` for the turns alone, `cpu_ms_each` per sample):
wall time is noisy on a shared machine, and an embedded saver's store works in this process
(PostgreSQL's own work is not in it).

    python bench/langgraph.py --turns 50,100,200,500 --samples 30
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The repository root instead of bench/, whose modules (this `langgraph`, `http`) would shadow
# the packages of those names.
sys.path[0] = str(REPO)

import psycopg  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage  # noqa: E402
from langgraph.checkpoint.base import BaseCheckpointSaver  # noqa: E402
from langgraph.checkpoint.postgres import PostgresSaver  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402

from bench.common import drop_schema, fresh_schema, latency_summary  # noqa: E402
from ctxstore.domain.state import canonical_json  # noqa: E402
from ctxstore.infrastructure.adapters.langgraph import CtxstoreSaver  # noqa: E402
from ctxstore.infrastructure.persistence.dsn import libpq_dsn  # noqa: E402
from ctxstore.infrastructure.settings import Settings  # noqa: E402

TRACE = Path(os.environ.get("CTX_TRACES", "/work/shared/data/traces")) \
    / "tau-bench" / "historical_trajectories" / "gpt-4o-airline.json"
THREAD = "tau-bench-airline"


def _tool_calls(raw: Any) -> list[dict[str, Any]]:
    calls = ast.literal_eval(raw) if isinstance(raw, str) else raw or []
    return [{"id": c["id"], "name": c["function"]["name"],
             "args": json.loads(c["function"]["arguments"] or "{}")} for c in calls]


def _message(raw: dict[str, Any]) -> BaseMessage:
    content = raw.get("content")
    content = "" if content in (None, "None") else str(content)
    if raw["role"] == "user":
        return HumanMessage(content)
    if raw["role"] == "tool":
        return ToolMessage(content, tool_call_id=raw["tool_call_id"], name=raw.get("name"))
    return AIMessage(content, tool_calls=_tool_calls(raw.get("tool_calls")))


def conversation(turns: int) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """`turns` (user message, replies) pairs from the trajectories, in file order."""
    out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for task in json.loads(TRACE.read_text()):
        user: dict[str, Any] | None = None
        replies: list[dict[str, Any]] = []
        for raw in task["traj"]:
            if raw["role"] == "system":
                continue
            if raw["role"] == "user":
                if user is not None:
                    out.append((user, replies))
                user, replies = raw, []
            elif user is not None:
                replies.append(raw)
        if user is not None:
            out.append((user, replies))
        if len(out) >= turns:
            return out[:turns]
    raise SystemExit(f"the trace has only {len(out)} turns")


def graph(saver: BaseCheckpointSaver, script: list[list[dict[str, Any]]]) -> Any:
    def model(state: MessagesState) -> dict[str, Any]:
        turn = sum(isinstance(m, HumanMessage) for m in state["messages"]) - 1
        return {"messages": [_message(r) for r in script[min(turn, len(script) - 1)]]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", model)
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    return builder.compile(checkpointer=saver)


def disk_bytes(dsn: str, schema: str) -> int:
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(format('%%I.%%I', table_schema, "
            "table_name)::regclass)), 0) FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE'", (schema,)).fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def postgres_saver(dsn: str, schema: str) -> Iterator[BaseCheckpointSaver]:
    url = libpq_dsn(dsn)
    url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        yield saver


@contextmanager
def ctxstore_saver(dsn: str, schema: str) -> Iterator[BaseCheckpointSaver]:
    settings = Settings(storage_backend="postgres", database_url=dsn, database_schema=schema)
    with CtxstoreSaver(settings=settings) as saver:
        yield saver


def cpu_ms_each(samples: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A latency summary, with this process's CPU time per sample beside it."""
    start = time.process_time()
    summary = samples()
    summary["cpu_ms_each"] = round((time.process_time() - start) * 1000 / summary["n"], 2)
    return summary


def timed_ms(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def run(name: str, make: Callable[[str, str], Any], dsn: str, sizes: list[int],
        samples: int, seed: int) -> dict[str, Any]:
    talk = conversation(max(sizes))
    schema = fresh_schema(dsn, "lgbench")
    out: dict[str, Any] = {"saver": name, "disk": {}}
    rng = random.Random(seed)
    cpu_start = time.process_time()
    try:
        with make(dsn, schema) as saver:
            app = graph(saver, [replies for _, replies in talk])
            config = {"configurable": {"thread_id": THREAD}}
            raw = 0
            busy = 0.0
            turns_cpu = time.process_time()
            for n, (user, replies) in enumerate(talk, 1):
                raw += sum(len(canonical_json(m)) for m in (user, *replies))
                busy += timed_ms(partial(app.invoke, {"messages": [_message(user)]}, config))
                if n in sizes:
                    size = disk_bytes(dsn, schema)
                    out["disk"][str(n)] = {"raw_bytes": raw, "disk_bytes": size,
                                           "per_raw_byte": round(size / raw, 2)}
            out["turns_per_s"] = round(len(talk) / (busy / 1000), 1)
            out["turns_cpu_s"] = round(time.process_time() - turns_cpu, 2)
            walk_start = time.perf_counter()
            history = list(app.get_state_history(config))
            out["history_walk"] = {"checkpoints": len(history),
                                   "ms": round((time.perf_counter() - walk_start) * 1000, 1)}
            earlier = [h.config for h in history[len(history) // 10:]]
            out["get_state_earlier"] = cpu_ms_each(lambda: latency_summary(
                [timed_ms(partial(app.get_state, c)) for c in rng.sample(
                    earlier, min(samples, len(earlier)))]))
            out["fork_update_state"] = cpu_ms_each(lambda: latency_summary(
                [timed_ms(partial(app.update_state, c, {"messages": [HumanMessage("fork")]}))
                 for c in rng.sample(earlier, min(samples, len(earlier)))]))
            try:
                out["copy_thread"] = cpu_ms_each(lambda: latency_summary(
                    [timed_ms(partial(saver.copy_thread, THREAD, f"{THREAD}-copy-{k}"))
                     for k in range(samples)]))
                copy = app.get_state({"configurable": {"thread_id": f"{THREAD}-copy-0"}})
                out["copy_thread"]["copy_messages"] = len(copy.values.get("messages", []))
            except NotImplementedError:
                out["copy_thread"] = "NotImplementedError"
        out["cpu_s"] = round(time.process_time() - cpu_start, 2)
    finally:
        drop_schema(dsn, schema)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", default="50,100,200,500",
                        help="sizes at which disk is measured; the largest is the run's length")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--dsn", default=os.environ.get(
        "CONTEXT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.turns.split(","))
    results = [run(name, make, args.dsn, sizes, args.samples, args.seed)
               for name, make in (("PostgresSaver", postgres_saver),
                                  ("CtxstoreSaver", ctxstore_saver))]
    last = str(sizes[-1])
    pg, cs = results
    print(json.dumps({
        "bench": "langgraph", "trace": TRACE.name, "turns": sizes[-1], "results": results,
        "ratios": {
            "disk_postgres_over_ctxstore": round(pg["disk"][last]["disk_bytes"]
                                                 / cs["disk"][last]["disk_bytes"], 2),
            "turns_per_s_ctxstore_over_postgres": round(cs["turns_per_s"]
                                                        / pg["turns_per_s"], 2),
            "fork_p50_ctxstore_over_postgres": round(cs["fork_update_state"]["p50_ms"]
                                                     / pg["fork_update_state"]["p50_ms"], 2),
        }}, indent=2))


if __name__ == "__main__":
    main()
