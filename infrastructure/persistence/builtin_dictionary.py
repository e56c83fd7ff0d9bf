"""The zstd dictionary every store has: made from synthetic rows (devtools.builtin_dictionary).

Events of a few hundred bytes, compressed one frame each, pay zstd for building entropy tables
per frame and match against nothing: on the real traces' events, 4.3 µs an event for 0.48 of
their bytes (0.72 below 1 kB). With a dictionary each frame starts from its tables and from the
store's own vocabulary. A dictionary trained on stored events does better still (`ctxstore
compression train`), but holds fragments of them, which no forget reaches; this one holds only
the store's layouts filled with made-up words and ids, so it is on by default for the rows it
helps (below 2 kB: events, snapshot rows, small parts; persistence.zstd_compressor) until a
trained one is chosen (`CONTEXT_COMPRESSION_DICTIONARY`).

Its bytes never change: each frame names the dictionary it was written with, and every store
loads this one, so what it wrote stays readable. Its id is below the range zstd's trainer draws
from (32,768 to 2**31), so no trained dictionary shares it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

BUILTIN_DICTIONARY_ID = 1
BUILTIN_DICTIONARY_PATH = Path(__file__).with_name("builtin.zdict")


@lru_cache(maxsize=1)
def builtin_dictionary() -> bytes:
    """The built-in dictionary's bytes (a zstd dictionary with its entropy tables)."""
    return BUILTIN_DICTIONARY_PATH.read_bytes()
