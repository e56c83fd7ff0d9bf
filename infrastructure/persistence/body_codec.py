"""How checkpoint package bodies and metadata are stored (application.package_port.PackageCodec).

zstd at the checkpoint level, with the store's dictionaries; AES-GCM when the store encrypts:
under the owning agent's data key (persistence.data_keys) when the caller names the agent, so
forgetting it shreds its bodies too, else (parts shared by forks) under the store key.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Cipher, Compressor

from ctxstore.infrastructure.persistence.data_keys import KeyRing


class BodyCodec:
    """Compress (and encrypt, when the store encrypts) package bodies and metadata."""

    def __init__(self, compressor: Compressor, cipher: Cipher | None = None,
                 keys: KeyRing | None = None):
        self.compressor = compressor
        self.cipher = cipher
        self.keys = keys

    def _cipher(self, owner: UUID | None) -> Cipher | None:
        if owner is not None and self.keys is not None:
            return self.keys.cipher_for(owner)
        return self.cipher

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

    def encode(self, raw: bytes, owner: UUID | None = None) -> bytes:
        data = self.compressor.compress(raw)
        cipher = self._cipher(owner)
        return cipher.encrypt(data) if cipher is not None else data

    def decode(self, data: bytes, owner: UUID | None = None) -> bytes:
        cipher = self._cipher(owner)
        if cipher is not None:
            data = cipher.decrypt(data)
        return self.compressor.decompress(data)
