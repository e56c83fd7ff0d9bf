"""The use cases a command handler works with, wired by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from ctxstore.application.auto_checkpoints import AutoCheckpoints
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.commands.access import AccessPolicy
from ctxstore.application.diff import DiffService
from ctxstore.application.forget import ForgetService
from ctxstore.application.packages import PackageService
from ctxstore.application.restore import RestoreService
from ctxstore.application.store import ContextStore
from ctxstore.domain.bounds import DEFAULT_MAX_CLOCK_SKEW_SECONDS


@dataclass(frozen=True)
class EventLimits:
    """The bounds every envelope meets, whichever door it came through (settings)."""

    max_event_bytes: int = 1024 * 1024
    max_clock_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS


@dataclass(frozen=True)
class UseCases:
    store: ContextStore
    checkpoints: CheckpointService
    restore: RestoreService
    diff: DiffService
    packages: PackageService
    limits: EventLimits
    auto: AutoCheckpoints
    forget: ForgetService

    @property
    def policy(self) -> AccessPolicy:
        return AccessPolicy(self.store, self.checkpoints)  # stateless: cheap to make
