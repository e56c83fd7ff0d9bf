"""`ctxstore ingest` runs automatic checkpoint schedules; two worker processes on one PostgreSQL
store take each round once (one capture per change, however many rounds both see)."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from nats_helpers import wait_until
from test_messaging_faults import REPO, worker_env

from ctxstore.application.commands import LOCAL, StartAutoCheckpoints
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.settings import Settings


async def test_two_ingest_processes_take_each_round_once(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory(checkpoint_interval_minutes=0)
    services = bootstrap(settings)
    agent = "auto-ingest"

    def say(text: str) -> None:
        services.store.record([make_envelope(agent, "message",
                                             {"role": "user", "content": text},
                                             event_id=str(uuid.uuid4()))])

    def autos() -> list[str]:
        return [c.package_id for c in services.checkpoints.list(agent) if c.label == "auto"]

    def last_round() -> int:
        held = services.commands.use_cases.auto.get(agent)
        return (held.last_round_us or 0) if held is not None else 0

    say("one")
    services.commands.start_auto_checkpoints(LOCAL, StartAutoCheckpoints(
        agent_id=agent, interval_minutes=0.005, max_checkpoints=10))  # a round every 0.3 s
    log = tmp_path / "ingest.log"
    with log.open("ab") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--processes", "2", "--no-rpc"],
            env=worker_env(settings), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        await wait_until(lambda: len(autos()) == 1, timeout=60, what="a first capture")
        say("two")
        await wait_until(lambda: len(autos()) == 2, timeout=60, what="a second capture")
        for _ in range(3):  # more rounds pass, seen by both processes: nothing changed
            seen = last_round()
            await wait_until(lambda seen=seen: last_round() > seen, timeout=60,  # type: ignore[misc]
                             what="another round")
        assert len(autos()) == 2, log.read_text()
        groups = services.store.operations.operation_groups()
        assert sum(g.count for g in groups if g.automatic and g.outcome == "succeeded") == 2
    finally:
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=60)
        services.close()
