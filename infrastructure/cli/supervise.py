"""Run several worker processes from one command, restarting any that dies.

An ingest worker is one Python process and uses about one core (its global interpreter lock),
so a machine with more cores runs one per core, each consuming its own partitions. This keeps
them running as one service: a worker that exits on its own is restarted (after a pause that
doubles while it keeps failing quickly, so a broken configuration does not spin), and SIGTERM
or Ctrl-C stops them all gracefully (each records and acknowledges what it has pulled).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

STABLE_AFTER_S = 30.0  # a worker that ran this long before dying restarts at once


def _stop_with_parent(parent: int) -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies, however it dies.

    Orphaned workers would go on pulling the same partitions as the ones a restarted
    supervisor starts, and two consumers of one partition break each agent's order.
    Linux only (prctl PR_SET_PDEATHSIG); elsewhere orphans must be stopped by hand.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before the line above took effect
            os._exit(1)


@dataclass
class _Child:
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    delay: float = 0.0
    restarts: int = field(default=0)


def share_partitions(partitions: Sequence[int], processes: int, *,
                     limited: str | None = None) -> list[list[int]]:
    """Partitions dealt round-robin to `processes` workers; each gets at least one.

    `limited` says why there are no more partitions when raising CONTEXT_NATS_PARTITIONS
    would not help (a nats-server before 2.10 cannot partition at all)."""
    if processes < 1:
        raise ValueError("--processes must be at least 1")
    if processes > len(partitions):
        remedy = limited or "raise CONTEXT_NATS_PARTITIONS, or run fewer processes"
        raise ValueError(f"--processes {processes} is more than the {len(partitions)} "
                         f"partition(s) to consume: a worker would have none ({remedy})")
    return [list(partitions[i::processes]) for i in range(processes)]


class Supervisor:
    """Start `commands` as child processes and keep them running until told to stop."""

    def __init__(self, commands: Sequence[list[str]], *, first_delay: float = 1.0,
                 max_delay: float = 30.0, stop_timeout: float = 30.0):
        self.children = [_Child(list(c)) for c in commands]
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stop_timeout = stop_timeout
        self._stopping = False

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Until SIGTERM or SIGINT; 0 when every worker then stopped cleanly, else 1."""
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for child in self.children:
                self._start(child)
            while not self._stopping:
                self._watch()
                time.sleep(0.2)
            return self._stop_all()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _start(self, child: _Child) -> None:
        child.process = subprocess.Popen(
            child.command, preexec_fn=functools.partial(_stop_with_parent, os.getpid()))
        child.started = time.monotonic()
        log.info("worker %d started: %s", child.process.pid, " ".join(child.command[3:]))

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            ran = now - child.started
            child.delay = 0.0 if ran >= STABLE_AFTER_S else min(
                self.max_delay, max(self.first_delay, child.delay * 2))
            log.warning("worker %d exited with %s after %.1fs; restarting in %.1fs",
                        child.process.pid, code, ran, child.delay)
            child.process = None
            child.restart_at = now + child.delay

    def _stop_all(self) -> int:
        running = [c.process for c in self.children if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        clean = True
        deadline = time.monotonic() + self.stop_timeout
        for process in running:
            try:
                code = process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker %d did not stop in %.0fs; killing it", process.pid,
                          self.stop_timeout)
                process.kill()
                process.wait()
                clean = False
                continue
            clean = clean and code == 0
        return 0 if clean else 1
