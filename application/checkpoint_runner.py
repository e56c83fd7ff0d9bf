"""The thread that runs automatic checkpoints in a long-running process (`serve`, `ingest`).

It wakes when the soonest round it knows of is due (the default schedule's, every
CONTEXT_CHECKPOINT_INTERVAL_MINUTES, or an agent's own), at least every `poll_seconds` to see
schedules another process started, and at once when this process starts or stops one; then
`AutoCheckpoints.run_due` claims and runs what is due (application.auto_checkpoints), so several
processes running this thread take each round once. A failing round is logged and the next one
runs as planned.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from ctxstore.application.auto_checkpoints import AutoCheckpoints, DueReport
from ctxstore.application.checkpoint_model import AutoCaptureReport
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.domain.clock import to_us

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
MIN_WAIT_SECONDS = 0.01


class CheckpointRunner:
    def __init__(self, auto: AutoCheckpoints, *, poll_seconds: float = POLL_SECONDS):
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        self.auto = auto
        self.poll_seconds = poll_seconds
        self.rounds = 0  # default rounds this runner ran
        self.last_report: AutoCaptureReport | None = None
        self.last_due: DueReport | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        auto.on_change.append(self._wake.set)

    @property
    def checkpoints(self) -> CheckpointService:
        return self.auto.checkpoints

    @property
    def interval_seconds(self) -> float | None:
        """The default schedule's interval (None: only agents' own schedules run)."""
        return self.auto.default_interval_seconds

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> AutoCaptureReport:
        """A default round now, unclaimed (the `checkpoint-prune`-like manual round): prune
        expired checkpoints, then checkpoint every changed agent without its own schedule."""
        report = self.checkpoints.capture_changed(
            label=self.auto.label, access_level=self.auto.access_level,
            exclude={s.agent_id for s in self.auto.schedules.select_schedules()})
        self._ran_default(report)
        return report

    def run_due(self) -> DueReport:
        """Claim and run what is due now (see AutoCheckpoints.run_due)."""
        due = self.last_due = self.auto.run_due()
        if due.default_round is not None:
            self._ran_default(due.default_round)
        return due

    def _ran_default(self, report: AutoCaptureReport) -> None:
        self.last_report = report
        self.rounds += 1

    def start(self) -> None:
        """Start the background thread (a fresh store's first default round runs after one
        interval; an agent's first round one interval after it was started)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ctxstore-checkpoints",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Stop after the current round, if any, waiting up to `timeout` for the thread to
        end; False while a round still runs (call again before closing what it uses)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
            self._thread = None
        return True

    def stop_and_wait(self, every: float = 10.0, first: float = 1.0) -> None:
        """Stop, and wait for a round in progress however long it takes: the store must
        outlive it (closing first failed the round). Said after `first` seconds (a round
        usually ends sooner), so whoever stops the server learns at once why it has not
        stopped yet, then every `every` seconds."""
        wait = first
        while not self.stop(wait):
            log.warning("waiting for the automatic checkpoint round in progress before "
                        "closing the store")
            wait = every

    def _wait_seconds(self, due: DueReport | None) -> float:
        wait = self.poll_seconds
        if self.interval_seconds is not None:
            wait = min(wait, self.interval_seconds)
        if due is not None and due.next_due_us is not None:
            until = (due.next_due_us - to_us(self.auto.clock())) / 1_000_000
            wait = min(wait, until)
        return max(MIN_WAIT_SECONDS, wait)

    def _loop(self) -> None:
        due: DueReport | None = None
        while not self._stop.is_set():
            try:
                due = self.run_due()
                if due.agent_rounds or due.failed or (
                        due.default_round and (due.default_round.captured
                                               or due.default_round.pruned)):
                    log.info("automatic checkpoints: %d agent rounds, default round %s",
                             len(due.agent_rounds),
                             "run" if due.default_round is not None else "not due")
            except Exception:  # noqa: BLE001 - keep running; the next round may succeed
                log.exception("automatic checkpoint round failed")
                due = None
            self._wake.wait(self._wait_seconds(due))
            self._wake.clear()

    def __enter__(self) -> CheckpointRunner:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
