"""Garbage-collector settings for the long-running processes (ingest, serve, project).

Why: recording a batch allocates tens of objects per event (parsed JSON, pydantic models, domain
events, rows), nearly none of them in reference cycles, while the process holds a large,
long-lived heap (the aggregate cache's folded contexts). With CPython's default threshold
(700 young allocations) the collector runs over a hundred times per 2,000-event batch and, as
the cache grows, keeps scanning the whole heap: in bench/ingest_nats.py that was about a fifth
of an ingest worker's CPU per event. A larger young generation makes collections rare, and
freezing what start-up built (modules, settings, the app) keeps it out of every scan. Cycles
are still collected, only later; the older generations keep their thresholds (with (20, 100)
instead the benchmark showed no difference beyond its noise).
"""

from __future__ import annotations

import gc


def tune_gc(young_threshold: int) -> tuple[int, ...]:
    """Apply `young_threshold` (0: leave CPython's defaults) and freeze the start-up heap.

    Call once a process has built its application, before it starts serving. Returns the
    thresholds that were in force before, for a caller that wants to put them back.
    """
    before = gc.get_threshold()
    if young_threshold > 0:
        gc.collect()  # freeze only what is alive, not start-up's garbage
        gc.freeze()
        gc.set_threshold(young_threshold, *before[1:])  # the older generations as they were
    return before
