"""Importers of real agent traces into validated ctxstore envelopes.

`load_trace(path)` reads one file, detects its format (by extension, then by content), checks
all of it and returns the agents found in it, each with its envelopes in recording order:

- `.af`: Letta / MemGPT Agent File, v1 or v2, also when JSON-encoded twice (letta.py);
- `.traj`: SWE-agent trajectory (swe_agent.py);
- `.json`: a tau-bench result list `[{task_id, trial, reward, traj[]}]`, or an OpenAI chat
  transcript (a list of `{role, content, tool_calls?, tool_call_id?}` or `{"messages": [...]}`)
  (openai_chat.py); a Letta or SWE-agent document saved as `.json` is recognised too.

A file that cannot be imported raises `TraceFormatError` (path, position, reason) before
anything is returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ctxstore.infrastructure.importers.base import (
    EventLimits,
    ImportedAgent,
    TraceFormatError,
    read_json,
)
from ctxstore.infrastructure.importers.letta import is_letta, load_letta
from ctxstore.infrastructure.importers.openai_chat import (
    is_chat,
    is_tau_bench,
    load_chat,
    load_tau_bench,
)
from ctxstore.infrastructure.importers.swe_agent import is_swe_agent, load_swe_agent

TRACE_SUFFIXES = (".af", ".traj", ".json")

__all__ = [
    "TRACE_SUFFIXES",
    "EventLimits",
    "ImportedAgent",
    "TraceFormatError",
    "iter_trace_files",
    "load_trace",
]


def load_trace(path: Path | str, limits: EventLimits | None = None) -> list[ImportedAgent]:
    """The agents of one trace file, fully validated (each event within `limits` and the
    bounds of domain.bounds); TraceFormatError if anything is wrong."""
    path = Path(path)
    value, raw, _double = read_json(path)
    suffix = path.suffix.lower()
    if suffix == ".af" or (suffix != ".traj" and is_letta(value)):
        return load_letta(path, value, raw, limits)
    if suffix == ".traj" or is_swe_agent(value):
        return load_swe_agent(path, value, raw, limits)
    if is_tau_bench(value):
        return load_tau_bench(path, value, limits)
    if is_chat(value):
        return load_chat(path, value, raw, limits)
    raise TraceFormatError(
        path, "$", "unrecognised trace: expected a Letta agent file, a SWE-agent trajectory, "
        "a tau-bench result list or an OpenAI chat message list"
    )


def iter_trace_files(root: Path | str) -> Iterator[Path]:
    """Trace files under a folder (or the file itself), sorted, skipping `malformed/` folders."""
    root = Path(root)
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if (path.is_file() and path.suffix.lower() in TRACE_SUFFIXES
                and "malformed" not in path.relative_to(root).parts):
            yield path
