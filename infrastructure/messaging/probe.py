"""A look at a NATS server without a client connection: its `INFO` line (version, JetStream).

`ctxstore partitions` and ingest fit the subjects to an old server by its version; the
development launcher (devtools/services.py) uses the same probe to tell whether NATS answers.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import SplitResult, urlsplit

DEFAULT_HOST = "127.0.0.1"


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


