"""glibc's malloc thresholds for the long-running processes (ingest, serve, project).

Why: glibc serves an allocation above its mmap threshold (128 KiB at start) with a mapping of
its own, handed back to the system when freed, and anything smaller from the heap. By default
that threshold moves: each freed mapped block raises it to the block's size (up to 32 MiB).
Once a process has freed a few large buffers (a decoded part, a batch of events, a compressed
page), later buffers of that size come from the heap, where the holes they leave between
long-lived objects cannot be given back. An ingest worker's RSS then climbs for tens of
thousands of events and settles about a tenth above where it began, though its Python heap
does not grow: `python -m devtools.record_rss` went 137 → 145 MB over 80,000 events with the
moving threshold and 132 → 132 MB with it fixed, at the same CPU. Setting the threshold
explicitly stops it moving (mallopt(3)), for the trim threshold too, so a large buffer is mapped
apart and returned the moment it is freed.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")  # glibc reads these at start


def fix_malloc_thresholds(threshold: int) -> bool:
    """Fix glibc's mmap and trim thresholds at `threshold` bytes; True when that was done.

    Nothing is done for 0, on a C library other than glibc (musl, macOS), or when the operator
    set glibc's own environment variables, whose choice stands.
    """
    if threshold <= 0 or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in ENVIRONMENT):
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold)) and bool(
        mallopt(M_TRIM_THRESHOLD, threshold))
