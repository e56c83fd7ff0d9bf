"""What a long-running process (ingest, serve, project) sets up for itself once it is built.

Why one place: each of those commands (and each worker of `serve --workers N`) must apply the
same settings at the same point, after its application is built and before it serves.
"""

from __future__ import annotations

from ctxstore.infrastructure.gc_tuning import tune_gc
from ctxstore.infrastructure.malloc_tuning import fix_malloc_thresholds
from ctxstore.infrastructure.settings import Settings


def tune_process(settings: Settings) -> None:
    """The allocator's thresholds and the collector's, from `settings`."""
    fix_malloc_thresholds(settings.malloc_mmap_threshold)
    tune_gc(settings.gc_young_threshold)
