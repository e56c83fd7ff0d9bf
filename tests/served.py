"""`ctxstore serve` as a real process for tests: its environment and a running server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from devtools.services import free_port

CTXSTORE = str(Path(sys.executable).with_name("ctxstore"))


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CONTEXT_API_KEYS", "CONTEXT_HTTP_ALLOW_UNAUTHENTICATED_REMOTE")}
    env.update({"CONTEXT_STORAGE_BACKEND": "sqlite", "CONTEXT_STORAGE_PATH": str(tmp_path),
                "CONTEXT_CHECKPOINT_INTERVAL_MINUTES": "0",
                "CONTEXT_NATS_URL": f"nats://127.0.0.1:{free_port()}", **extra})
    return env


def answers(url: str) -> bool:
    # Generous: /healthz waits up to 2 s for a NATS that is not there (serve_env's), so a
    # shorter timeout never sees the answer.
    try:
        return httpx.get(url, timeout=30).status_code < 500
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """`ctxstore serve` with these arguments until it answers on loopback; its output in log."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([CTXSTORE, "serve", "--port", str(port), *args], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not answers(f"{url}/healthz"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
