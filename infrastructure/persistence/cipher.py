"""AES-GCM encryption at rest (eventsourcing's AESCipher) with errors a user can act on.

The mapper compresses, then encrypts (eventsourcing's Mapper.to_stored_event), so events and
snapshots are stored as nonce + tag + ciphertext of a zstd frame. A wrong key fails the GCM tag
check: that becomes `DecryptionFailed`, never garbage.
"""

from __future__ import annotations

import binascii
import os
from base64 import b64decode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from ctxstore.infrastructure.persistence.zstd_compressor import StoredDataUnreadable


class DecryptionFailed(StoredDataUnreadable):
    """Stored data that does not decrypt with this store's key."""


def check_key(key: str) -> bytes:
    """The raw AES key of a CONTEXT_ENCRYPTION_KEY, or ValueError saying what is wrong."""
    try:
        raw = b64decode(key.encode("utf-8"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("CONTEXT_ENCRYPTION_KEY is not valid base64") from None
    if len(raw) not in AESCipher.KEY_SIZES:
        raise ValueError(
            f"CONTEXT_ENCRYPTION_KEY decodes to {len(raw)} bytes; AES needs 16, 24 or 32"
        )
    return raw


class ContextCipher(AESCipher):
    def __init__(self, environment: Environment):
        key = environment.get(self.CIPHER_KEY)
        if not key:
            raise ValueError("CONTEXT_ENCRYPTION_KEY is empty")
        self.key = check_key(key)

    @classmethod
    def of_key(cls, key: str | bytes) -> ContextCipher:
        """The cipher of a CONTEXT_ENCRYPTION_KEY (base64 text) or of raw key bytes (an
        agent's data key, persistence.data_keys)."""
        cipher = cls.__new__(cls)
        cipher.key = check_key(key) if isinstance(key, str) else key
        return cipher

    def wrap(self, data_key: bytes, owner: bytes) -> bytes:
        """A data key encrypted under this (store) key, bound to its owner: a wrapped key
        moved to another agent's row does not unwrap there."""
        nonce = os.urandom(12)
        return nonce + self._aead().encrypt(nonce, data_key, owner)

    def unwrap(self, wrapped: bytes, owner: bytes) -> bytes:
        try:
            return self._aead().decrypt(wrapped[:12], wrapped[12:], owner)
        except InvalidTag:
            raise DecryptionFailed(
                "cannot unwrap an agent's data key: CONTEXT_ENCRYPTION_KEY is not the key it "
                "was wrapped with (after `ctxstore rotate-key`, the new key is)"
            ) from None

    # The library's format (12-byte nonce, 16-byte tag, ciphertext), with one AESGCM per key:
    # the library made one at every call, a third of an event's encryption and half of its
    # decryption (0.7 and 1.0 µs of 2.4 and 2.0 for 400 bytes), on every event written and
    # every event and part read of an encrypted store.
    def _aead(self) -> AESGCM:
        made = self.__dict__.get("_made")
        if made is None or made[0] is not self.key:
            made = self._made = (self.key, AESGCM(self.key))
        return made[1]

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        sealed = self._aead().encrypt(nonce, plaintext, None)
        return nonce + sealed[-16:] + sealed[:-16]

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            if len(ciphertext) < 28:
                raise InvalidTag
            return self._aead().decrypt(ciphertext[:12], ciphertext[28:] + ciphertext[12:28],
                                        None)
        except InvalidTag:
            raise DecryptionFailed(
                "cannot decrypt stored data: CONTEXT_ENCRYPTION_KEY is not the key it was "
                "written with (or it was written unencrypted, or is damaged)"
            ) from None
