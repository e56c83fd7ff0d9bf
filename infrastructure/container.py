"""What the composition root hands to every door: one frozen, typed set of wired services.

`bootstrap(settings)` (infrastructure/bootstrap.py) builds it; the HTTP app, the WebSocket, the
NATS app, the CLI and the projection worker receive it and build no adapter of their own. It
lives apart from bootstrap.py so a door can name its type without importing the builder (and
everything the builder imports): no door imports the root, so no import cycle can form.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ctxstore.application.checkpoint_runner import CheckpointRunner
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.commands import Commands
from ctxstore.application.dictionary_port import DictionaryCatalog
from ctxstore.application.diff import DiffService
from ctxstore.application.integrity import IntegrityService
from ctxstore.application.packages import PackageService
from ctxstore.application.restore import RestoreService
from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.settings import Settings
from ctxstore.projections.views import ContextViews


@dataclass(frozen=True)
class Services:
    """The store and every use case over it, as one process uses them.

    `runner` is the automatic checkpoint runner (the default schedule and the agents' own),
    built but not started: the doors that run long (`serve`, `ingest`) start and stop it.
    `views` (the projections' tables) open their own connections, so they are built on first
    use: a CLI command or an ingest worker that never reads them does not pay for them.
    """

    settings: Settings
    store: ContextStore
    checkpoints: CheckpointService
    restore: RestoreService
    diff: DiffService
    packages: PackageService
    commands: Commands  # what the doors call: the use cases as typed commands
    dictionaries: DictionaryCatalog
    subjects: Subjects
    runner: CheckpointRunner | None
    integrity: IntegrityService  # `ctxstore verify`: the agents' hash chains
    open_views: Callable[[], ContextViews] = field(repr=False, compare=False)
    _views_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                        repr=False, compare=False)

    @property
    def views(self) -> ContextViews:
        """The projections' views, opened on first use and kept (written past the frozen
        dataclass's __setattr__: the set of services stays fixed, only this is deferred). The
        lock: request threads asking at once must not open them, and create tables, twice."""
        with self._views_lock:
            if "_views" not in self.__dict__:
                object.__setattr__(self, "_views", self.open_views())
            views: ContextViews = self.__dict__["_views"]
            return views

    def close(self) -> None:
        """Close the store's connections, and the views' when they were opened."""
        views: ContextViews | None = self.__dict__.get("_views")
        if views is not None:
            views.close()
        self.store.close()
