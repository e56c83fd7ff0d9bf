"""How many malloc arenas glibc may give the long-running processes (ingest, serve, project).

Why: glibc gives each thread that allocates under contention an arena of its own, up to eight
per core, and hands little of an arena back to the system once it has grown. The workers run
their database work on a pool of threads, each of which folds and encodes whole batches: every
arena then grows to the largest batch its thread happened to handle, and the process's RSS
creeps up for many minutes although the Python heap does not grow (tracemalloc showed a flat
heap while RSS rose; issue 17's soak measured +13 % in an ingest worker between minutes 5-10
and 25-30 with the default). A small number of arenas shares the freed space between threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(arenas: int) -> bool:
    """Let glibc use at most `arenas` arenas from now on (0: leave its default). False where
    there is no glibc (another libc, or none found): nothing changes then."""
    if arenas <= 0:
        return False
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    return False
