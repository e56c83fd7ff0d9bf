"""The checkpoint/restore/diff/export/import commands, configured from the environment like a
user's shell: in-process through typer's runner, and one run of the installed `ctxstore`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ctxpkg_craft import repacked, unpacked
from restore_support import msg
from support import make_settings, run_cli

from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.cli import common
from ctxstore.infrastructure.settings import Settings

CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def environment(settings: Settings) -> dict[str, str]:
    return {
        "CONTEXT_STORAGE_BACKEND": settings.storage_backend,
        "CONTEXT_STORAGE_PATH": str(settings.storage_path),
        "CONTEXT_DATABASE_URL": settings.database_url,
        "CONTEXT_DATABASE_SCHEMA": settings.database_schema,
        "CONTEXT_SNAPSHOT_INTERVAL": "3",
        "COLUMNS": "200",
    }


def clear_caches() -> None:
    common.reset()


@pytest.fixture
def cli(backend: str, tmp_path: Path, request: pytest.FixtureRequest
        ) -> Iterator[tuple[dict[str, str], Settings]]:
    dsn = request.getfixturevalue("postgres_dsn") if backend != "sqlite" else None
    settings = make_settings(backend, tmp_path, dsn, snapshot_interval=3)
    store = build_store(settings)
    store.record([msg("bot", f"message {i}") for i in range(5)])
    store.close()
    clear_caches()
    yield environment(settings), settings
    clear_caches()


run = run_cli


def test_checkpoint_restore_diff_export_import(cli: tuple[dict[str, str], Settings],
                                              tmp_path: Path) -> None:
    env, _ = cli
    cp = json.loads(run(env, "checkpoint", "bot", "--label", "v5", "--access-level",
                        "shared", "--json").output)
    assert (cp["version"], cp["label"], cp["access_level"]) == (5, "v5", "shared")
    human = run(env, "checkpoint", "bot", "--version", "2").output
    assert "at version 2" in human and "ckpt-" in human
    listed = json.loads(run(env, "checkpoints", "bot", "--json").output)
    assert [c["version"] for c in listed] == [5, 2]
    assert cp["package_id"] in run(env, "checkpoints").output

    fork = json.loads(run(env, "restore", "bot", "--version", "3", "--into", "fork",
                          "--validate", "comprehensive", "--json").output)
    assert fork["mode"] == "fork" and fork["source_version"] == 3
    rewind = run(env, "restore", "bot", "--checkpoint", cp["package_id"]).output
    assert "rewind: bot is now version 8" in rewind
    merged = json.loads(run(env, "restore", "bot", "--version", "1", "--into", "fork",
                            "--merge", "--json").output)
    assert merged["merge_strategy"] == "merge" and merged["target_version"] == 2

    diff = json.loads(run(env, "diff", "bot", "--from", "3", "--to", "5", "--json").output)
    assert [m["content"] for m in diff["messages_added"]] == ["message 3", "message 4"]
    other = json.loads(run(env, "diff", "bot", "--from", "latest", "--other", "fork",
                           "--json").output)
    assert other["other"]["agent_id"] == "fork"
    assert "messages removed" in run(env, "diff", "bot", "--from", "5", "--other", "fork"
                                     ).output

    target = tmp_path / "bot.ctxpkg"
    assert "exported" in run(env, "export", cp["package_id"], "-o", str(target)).output
    assert target.stat().st_size > 0
    again = run(env, "import-package", str(target), "--json")
    assert json.loads(again.output)["package_id"] == cp["package_id"]  # already here

    second = make_settings("sqlite", tmp_path / "second")
    imported = json.loads(run(environment(second), "import-package", str(target),
                              "--json").output)
    assert imported["origin"] == "imported"
    assert imported["integrity_hash"] == cp["integrity_hash"]


def test_errors_are_one_line_and_nonzero(cli: tuple[dict[str, str], Settings],
                                         tmp_path: Path) -> None:
    env, _ = cli
    for args, words in [
        (("restore", "bot", "--version", "1", "--at", "2025-01-01"), "--at: "),
        (("restore", "--checkpoint", "ckpt-x", "bot", "--version", "1"), "--checkpoint: "),
        (("restore", "bot", "--version", "99", "--into", "x"), "no version 99"),
        (("restore", "bot", "--checkpoint", "ckpt-missing"), "not found"),
        (("restore", "bot", "--version", "1", "--validate", "paranoid"), "validation_level"),
        (("checkpoint", "nobody"), "no recorded events"),
        (("checkpoint", "bot", "--access-level", "world"), "access_level"),
        (("diff", "bot", "--from", "42"), "no version 42"),
        (("export", "ckpt-missing", "-o", str(tmp_path / "x.ctxpkg")), "not found"),
    ]:
        result = run(env, *args, ok=False)
        assert result.exit_code != 0, args
        assert words in result.output, (args, result.output)
        assert "Traceback" not in result.output
    bad = tmp_path / "bad.ctxpkg"
    bad.write_bytes(b"definitely not a package")
    result = run(env, "import-package", str(bad), ok=False)
    assert result.exit_code != 0 and "not a .ctxpkg file" in result.output


def test_installed_command(tmp_path: Path) -> None:
    settings = make_settings("sqlite", tmp_path)
    store = build_store(settings)
    store.record([msg("bot", f"message {i}") for i in range(3)])
    store.close()
    env = {**os.environ, **environment(settings)}
    proc = subprocess.run([CTXSTORE, "restore", "bot", "--version", "2", "--into", "copy",
                           "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target_agent_id"] == "copy"
    proc = subprocess.run([CTXSTORE, "restore", "bot", "--version", "77"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "no version 77" in proc.stderr


def test_a_crafted_package_is_one_line_and_nothing_written(cli: tuple[dict[str, str], Settings],
                                                           tmp_path: Path) -> None:
    """The reviewer's reproduction: a state holding an object tagged like the event store's own
    values, re-hashed. Refused in one line naming the field; the store reads on as before."""
    env, _ = cli
    cp = json.loads(run(env, "checkpoint", "bot", "--json").output)
    good = tmp_path / "good.ctxpkg"
    run(env, "export", cp["package_id"], "-o", str(good))
    manifest, state = unpacked(good.read_bytes())
    state["messages"][0]["content"] = {"_type_": "decimal_str", "_data_": "1"}
    crafted = tmp_path / "crafted.ctxpkg"
    crafted.write_bytes(repacked(manifest, state, "crafted-1"))
    result = run(env, "import-package", str(crafted), ok=False)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "body.state.messages.0.content" in lines[0], result.output
    assert "crafted-1" not in run(env, "checkpoints", "--json").output
    result = run(env, "restore", "bot", "--checkpoint", "crafted-1", "--into", "victim",
                 ok=False)
    assert result.exit_code != 0 and "not found" in result.output
    for args in (("context", "bot"), ("history", "bot"), ("search", "hi", "--all"),
                 ("evolution", "bot"), ("checkpoints", "--text", "t"), ("project", "--once")):
        run(env, *args)
