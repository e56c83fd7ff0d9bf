"""How checkpoint package bodies and metadata are stored (application.package_port.PackageCodec).

zstd at the checkpoint level, with the store's dictionaries; AES-GCM when the store encrypts.
"""

from __future__ import annotations

from eventsourcing.persistence import Cipher, Compressor


class BodyCodec:
    """Compress (and encrypt, when the store encrypts) package bodies and metadata."""

    def __init__(self, compressor: Compressor, cipher: Cipher | None = None):
        self.compressor = compressor
        self.cipher = cipher

    @property
    def is_encrypted(self) -> bool:
        return self.cipher is not None

    @property
    def strategy(self) -> str:
        """e.g. `zstd-3` or `zstd-19+long+dict-1234` (the compressor's level, long-distance
        matching and active dictionary)."""
        level = getattr(self.compressor, "level", None)
        name = "zstd" if level is None else f"zstd-{level}"
        if getattr(self.compressor, "long_distance", False):
            name += "+long"
        dict_id = getattr(self.compressor, "active_dictionary_id", None)
        return f"{name}+dict-{dict_id}" if dict_id else name

    def encode(self, raw: bytes) -> bytes:
        data = self.compressor.compress(raw)
        return self.cipher.encrypt(data) if self.cipher is not None else data

    def decode(self, data: bytes) -> bytes:
        if self.cipher is not None:
            data = self.cipher.decrypt(data)
        return self.compressor.decompress(data)
