"""`ctxstore ingest` started while PostgreSQL is down waits for it, saying so, and stops cleanly
on SIGTERM meanwhile; once the database listens (here: a proxy to it on the port the worker was
given), it records."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from nats_helpers import wait_until
from test_messaging_faults import REPO, total, worker_env

from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.settings import Settings
from devtools.services import free_port
from devtools.tcp_proxy import TcpProxy

WAITING = "the store's database cannot be reached"


def elsewhere(settings: Settings, port: int) -> Settings:
    """The settings with the database on `port` of the same host."""
    server = urlsplit(settings.database_url)
    return settings.model_copy(update={"database_url": settings.database_url.replace(
        f":{server.port}/", f":{port}/")})


@contextmanager
def ingest(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ctxstore", "ingest", "--no-rpc", "--log-level", "INFO"],
            env=worker_env(settings), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


async def test_sigterm_while_waiting_for_the_database_stops_cleanly(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    log = tmp_path / "ingest.log"
    with ingest(elsewhere(settings_factory(nats_partitions=1), free_port()), log) as worker:
        await wait_until(lambda: WAITING in log.read_text(), timeout=90, what=log.name)
        assert worker.poll() is None, log.read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()


async def test_ingest_records_once_a_late_database_listens(
        settings_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_factory(nats_partitions=1)
    direct = build_store(settings)  # the tables, made past the proxy
    server = urlsplit(settings.database_url)
    port = free_port()
    log = tmp_path / "ingest.log"
    proxy: TcpProxy | None = None
    try:
        with ingest(elsewhere(settings, port), log) as worker:
            await wait_until(lambda: WAITING in log.read_text(), timeout=90, what=log.name)
            proxy = await TcpProxy(server.hostname or "127.0.0.1", server.port or 5432,
                                   listen_port=port).start()
            await wait_until(lambda: "ingesting partitions" in log.read_text(), timeout=120,
                             what=f"the worker to start ({log.name})")
            publisher = await ContextPublisher.connect(settings.nats_url,
                                                       prefix=settings.nats_prefix)
            await publisher.publish(new_event("late-db", "message",
                                              {"role": "user", "content": "at last"}))
            await publisher.close()
            await wait_until(lambda: total(direct) == 1, timeout=60, what="the event")
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0, log.read_text()
    finally:
        direct.close()
        if proxy is not None:
            await proxy.stop()
