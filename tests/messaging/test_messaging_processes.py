"""`ctxstore ingest --processes N`: one command, N real worker processes sharing the partitions;
a worker killed with SIGKILL is restarted and nothing is lost or recorded twice."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from nats_helpers import wait_drained, wait_until
from test_messaging_faults import (
    REPO,
    assert_exactly_once_in_order,
    scenario,
    total,
    worker_env,
)

from ctxstore.infrastructure.cli.supervise import share_partitions
from ctxstore.infrastructure.messaging.publisher import ContextPublisher
from ctxstore.infrastructure.settings import Settings


def test_partitions_are_dealt_round_robin() -> None:
    assert share_partitions([0, 1, 2, 3], 2) == [[0, 2], [1, 3]]
    assert share_partitions([1, 3, 5], 3) == [[1], [3], [5]]
    with pytest.raises(ValueError, match="more than the 2 partition"):
        share_partitions([0, 1], 3)


def workers_of(parent: subprocess.Popen[bytes]) -> dict[int, str]:
    """Pid -> --partitions of each live ingest worker the supervisor runs."""
    found = {}
    for child in psutil.Process(parent.pid).children():
        try:
            cmd = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if child.status() != psutil.STATUS_ZOMBIE and "--partitions" in cmd:
            found[child.pid] = cmd[cmd.index("--partitions") + 1]
    return found


async def test_processes_share_partitions_and_a_killed_one_is_restarted(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    agents, per_agent = 20, 60
    settings, run, events, store = scenario(settings_factory, 4, agents, per_agent)
    half = len(events) // 2
    log = tmp_path / "supervisor.log"
    with log.open("ab") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--processes", "2",
             "--batch-size", "100", "--fetch-size", "50", "--no-rpc", "--log-level", "INFO"],
            env=worker_env(settings), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        await wait_until(lambda: len(workers_of(parent)) == 2, timeout=30, what="2 workers")
        assert sorted(workers_of(parent).values()) == ["0,2", "1,3"]
        # Both workers pull before anything is published, so both get a share of the events.
        await wait_until(lambda: log.read_text().count("ingesting partitions") == 2,
                         timeout=30, what="both workers ingesting")
        # Each on uvloop (infrastructure.event_loop), as `serve` runs.
        assert log.read_text().count("(event loop: uvloop)") == 2, log.read_text()[-3000:]
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        await publisher.publish_many(events[:half])  # type: ignore[arg-type]
        await wait_until(lambda: total(store) >= half, timeout=40, what="the first half")

        victim = next(pid for pid, share in workers_of(parent).items() if share == "0,2")
        psutil.Process(victim).send_signal(signal.SIGKILL)
        await wait_until(lambda: victim not in workers_of(parent)
                         and len(workers_of(parent)) == 2, timeout=30, what="a new worker")
        assert sorted(workers_of(parent).values()) == ["0,2", "1,3"]

        await publisher.publish_many(events[half:])  # type: ignore[arg-type]
        await publisher.close()
        await wait_until(lambda: total(store) >= len(events), timeout=40, what="every event")
        await wait_drained(settings)  # anything recorded twice would show up now
        assert total(store) == len(events)
        assert_exactly_once_in_order(store, agents, per_agent, run)
        assert "exited with -9" in log.read_text()
        # The replacement presented its predecessor's name and took its leases back at once.
        assert "is consumed by" not in log.read_text()

        children = list(workers_of(parent))
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(40) == 0, log.read_text()[-3000:]
        assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status()
                       != psutil.STATUS_ZOMBIE for pid in children)
    finally:
        if parent.poll() is None:
            for child in psutil.Process(parent.pid).children():
                child.kill()
            parent.kill()
        store.close()


def test_too_many_processes_is_a_clear_error(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2)
    done = subprocess.run(
        [sys.executable, "-m", "ctxstore", "ingest", "--processes", "3"],
        env=worker_env(settings), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--processes 3 is more than the 2 partition(s)" in done.stderr
    assert "Traceback" not in done.stderr
    for bad in ("0", "many"):
        done = subprocess.run(
            [sys.executable, "-m", "ctxstore", "ingest", "--processes", bad],
            env=worker_env(settings), cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert f"--processes '{bad}': expected a number of at least 1" in done.stderr


async def test_workers_stop_when_the_supervisor_is_killed(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    """Orphans would keep pulling the partitions a restarted supervisor hands out again."""
    settings, _run, _events, store = scenario(settings_factory, 2, 1, 1)
    store.close()
    log = tmp_path / "supervisor.log"
    with log.open("ab") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--processes", "2",
             "--no-rpc", "--log-level", "INFO"],
            env=worker_env(settings), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        await wait_until(lambda: len(workers_of(parent)) == 2, timeout=30, what="2 workers")
        await wait_until(lambda: log.read_text().count("ingesting partitions") == 2,
                         timeout=30, what="both workers ingesting")
        # Each on uvloop (infrastructure.event_loop), as `serve` runs.
        assert log.read_text().count("(event loop: uvloop)") == 2, log.read_text()[-3000:]
        children = [psutil.Process(pid) for pid in workers_of(parent)]
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        _gone, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], "workers outlived their supervisor"
        assert log.read_text().count("ingest stopped:") == 2  # gracefully, by SIGTERM
    finally:
        for child in psutil.Process().children(recursive=True):
            if child.pid != parent.pid and "ingest" in " ".join(child.cmdline()):
                child.kill()
        if parent.poll() is None:
            parent.kill()
