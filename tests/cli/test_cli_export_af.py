"""`ctxstore export-af` as a user runs it: the installed command in a subprocess, on SQLite.
The round trip of every trace and the schema are in tests/importers/test_letta_export.py; here:
the command's options, its output file, and its errors (one line, non-zero, no traceback, no
file left behind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import SAMPLES
from test_cli_core import run

TRACE = (SAMPLES / "letta-agent-file"
         / "memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af")
AGENT = "letta-memgpt_agent__memgpt_agent_with_convo-2025-03-31_bee301d2"


def context(tmp_path: Path, agent: str, *args: str) -> dict[str, object]:
    return json.loads(run(tmp_path, "context", agent, *args, "--json").stdout)


def test_export_af_then_import_gives_the_same_content_hash(tmp_path: Path) -> None:
    run(tmp_path, "import", str(TRACE))
    out = tmp_path / "copy.af"
    done = run(tmp_path, "export-af", AGENT, "-o", str(out))
    source = context(tmp_path, AGENT)
    assert str(source["content_hash"]) in done.stdout.replace("\n", "")
    run(tmp_path, "import", str(out))
    assert context(tmp_path, "letta-copy")["content_hash"] == source["content_hash"]

    earlier = tmp_path / "earlier.af"
    run(tmp_path, "export-af", AGENT, "--version", "10", "--output", str(earlier),
        "--check-schema")

    doc = json.loads(earlier.read_text(encoding="utf-8"))
    assert doc["metadata"]["ctxstore_version"] == "10"
    assert doc["metadata"]["ctxstore_content_hash"] == context(
        tmp_path, AGENT, "--version", "10")["content_hash"]
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(("args", "expected"), [
    (("export-af", "nobody", "-o", "{tmp}/x.af"), "agent 'nobody' has no recorded events"),
    (("export-af", AGENT, "--version", "100000", "-o", "{tmp}/x.af"), "has no version 100000"),
    (("export-af", AGENT, "--checkpoint", "nope", "-o", "{tmp}/x.af"), "checkpoint 'nope'"),
    (("export-af", AGENT, "--version", "3", "--at", "2025-01-01", "-o", "{tmp}/x.af"),
     "--at: "),
    (("export-af", AGENT, "-o", "{tmp}/no/such/dir/x.af"),
     "cannot write {tmp}/no/such/dir/x.af: No such file or directory"),
    (("export-af", AGENT, "-o", "{tmp}"), "cannot write {tmp}: Is a directory"),
    (("--tenant", "someone-else", "export-af", AGENT, "-o", "{tmp}/x.af"),
     f"agent '{AGENT}' has no recorded events"),
])
def test_export_af_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], expected: str
                                       ) -> None:
    run(tmp_path, "import", str(TRACE))
    proc = run(tmp_path, *(a.format(tmp=tmp_path) for a in args), check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert expected.format(tmp=tmp_path) in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # nothing written
