"""A look at a NATS server: its `INFO` line without a client connection (version,
JetStream), and a short-lived client connection that gives up at once.

`ctxstore partitions` and ingest fit the subjects to an old server by its version; the
development launcher (devtools/services.py) uses the same probe to tell whether NATS answers.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from nats.aio.client import Client

DEFAULT_HOST = "127.0.0.1"


async def _quiet(_error: Exception) -> None:
    """nats-py would log each failed attempt with a traceback; the caller reports the error
    that ends the attempts (the CLI in one line, /healthz in its answer)."""


async def connect_once(servers: str | list[str], timeout: float,
                       error_cb: Callable[[Exception], Awaitable[None]] = _quiet) -> Client:
    """A client connection for one short job (a health check, an operator command, a purge):
    each server is tried at once and once more, then `NoServersError`.

    nats-py's own "no retries" is not: `max_reconnect_attempts=0` retries the first connect
    for ever, and 1 sleeps `reconnect_time_wait` (2 s) before its second try, so a refused
    connection took a /healthz its whole timeout and every NATS command two seconds."""
    import nats  # nats-py: only the callers that need NATS pay its import

    return await nats.connect(servers, connect_timeout=timeout, allow_reconnect=False,
                              max_reconnect_attempts=1, reconnect_time_wait=0,
                              error_cb=error_cb)


def nats_address(url: str) -> tuple[SplitResult, str, int]:
    """The first server of a comma-separated NATS URL list: (parts, host, port)."""
    first = url.split(",")[0].strip()
    if "://" not in first:
        first = f"nats://{first}"
    parts = urlsplit(first)
    return parts, parts.hostname or DEFAULT_HOST, parts.port or 4222


def nats_info(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The server's ``INFO`` object at ``url``, or None when nothing NATS-like answers."""
    _, host, port = nats_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = b""
            while b"\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    if not line.startswith("INFO "):
        return None
    try:
        info = json.loads(line[5:])
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


