"""Automatic checkpoints every CONTEXT_CHECKPOINT_INTERVAL_MINUTES (DESIGN §3).

A daemon thread that long-running processes (serve, ingest) start and stop; each round applies
retention (CONTEXT_RETENTION_DAYS, CONTEXT_MAX_CHECKPOINTS_PER_AGENT) and then checkpoints the
agents that changed since their last checkpoint. A failing round is logged and the next one runs
as planned.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from ctxstore.application.checkpoint_model import AutoCaptureReport
from ctxstore.application.checkpoints import CheckpointService

log = logging.getLogger(__name__)


class CheckpointRunner:
    def __init__(self, checkpoints: CheckpointService, interval_seconds: float, *,
                 label: str = "auto", access_level: str = "private"):
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self.checkpoints = checkpoints
        self.interval_seconds = interval_seconds
        self.label = label
        self.access_level = access_level
        self.rounds = 0
        self.last_report: AutoCaptureReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> AutoCaptureReport:
        """One round now: prune expired checkpoints, then checkpoint every changed agent."""
        report = self.checkpoints.capture_changed(label=self.label,
                                                  access_level=self.access_level)
        self.last_report = report
        self.rounds += 1
        return report

    def start(self) -> None:
        """Start the background thread (the first round runs after one interval)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ctxstore-checkpoints",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop after the current round, if any; waits for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                report = self.run_once()
                if report.captured or report.pruned:
                    log.info("automatic checkpoints: %d taken, %d pruned", len(report.captured),
                             sum(len(ids) for ids in report.pruned.values()))
            except Exception:  # noqa: BLE001 - keep running; the next round may succeed
                log.exception("automatic checkpoint round failed")

    def __enter__(self) -> CheckpointRunner:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
