"""Zstandard compression for stored events and snapshots, with optional trained dictionaries.

Each frame names the dictionary it was made with (zstd puts the dictionary id in the frame
header), so events written with an older dictionary, or none, stay readable after a new one is
trained.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import zstandard
from eventsourcing.persistence import Compressor


class UnknownDictionary(LookupError):
    """A frame was written with a dictionary this store does not have."""


class ZstdCompressor(Compressor):
    def __init__(
        self,
        level: int = 3,
        dictionaries: Mapping[int, bytes] | None = None,
        active_dictionary_id: int | None = None,
    ):
        self.level = level
        self._lock = threading.Lock()
        self._dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}
        self._active: int | None = None
        self._local = threading.local()
        for dict_id, data in (dictionaries or {}).items():
            self.add_dictionary(data, expected_id=dict_id)
        if active_dictionary_id is not None:
            self.activate(active_dictionary_id)

    def add_dictionary(self, data: bytes, expected_id: int | None = None) -> int:
        zdict = zstandard.ZstdCompressionDict(data)
        dict_id = zdict.dict_id()
        if expected_id is not None and dict_id != expected_id:
            raise ValueError(f"dictionary id {dict_id} differs from the expected {expected_id}")
        with self._lock:
            self._dictionaries[dict_id] = zdict
            self._local = threading.local()  # drop per-thread contexts built on the old set
        return dict_id

    def activate(self, dict_id: int | None) -> None:
        if dict_id is not None and dict_id not in self._dictionaries:
            raise UnknownDictionary(f"dictionary {dict_id} is not loaded")
        with self._lock:
            self._active = dict_id
            self._local = threading.local()

    @property
    def active_dictionary_id(self) -> int | None:
        return self._active

    def _compressor(self) -> zstandard.ZstdCompressor:
        # zstd contexts are not thread-safe: one per thread.
        local = self._local
        compressor = getattr(local, "compressor", None)
        if compressor is None:
            zdict = self._dictionaries.get(self._active) if self._active is not None else None
            compressor = zstandard.ZstdCompressor(level=self.level, dict_data=zdict,
                                                  write_content_size=True)
            local.compressor = compressor
        return compressor

    def _decompressor(self, dict_id: int) -> zstandard.ZstdDecompressor:
        local = self._local
        cache: dict[int, zstandard.ZstdDecompressor] | None = getattr(local, "decompressors",
                                                                       None)
        if cache is None:
            cache = local.decompressors = {}
        decompressor = cache.get(dict_id)
        if decompressor is None:
            if dict_id == 0:
                decompressor = zstandard.ZstdDecompressor()
            else:
                zdict = self._dictionaries.get(dict_id)
                if zdict is None:
                    raise UnknownDictionary(
                        f"stored data needs zstd dictionary {dict_id}, which is not loaded"
                    )
                decompressor = zstandard.ZstdDecompressor(dict_data=zdict)
            cache[dict_id] = decompressor
        return decompressor

    def compress(self, data: bytes) -> bytes:
        return self._compressor().compress(data)

    def decompress(self, data: bytes) -> bytes:
        dict_id = zstandard.get_frame_parameters(data).dict_id
        return self._decompressor(dict_id).decompress(data)
