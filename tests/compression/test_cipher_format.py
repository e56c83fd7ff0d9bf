"""ContextCipher keeps one AESGCM per key and writes the library's format: what it encrypts the
library's AESCipher decrypts and the other way round (stores written before still read), and
every failure is DecryptionFailed."""

from __future__ import annotations

import os
from base64 import b64encode

import pytest
from eventsourcing.cryptography import AESCipher

from ctxstore.infrastructure.persistence.cipher import ContextCipher, DecryptionFailed


def library_cipher(key: bytes) -> AESCipher:
    return AESCipher({AESCipher.CIPHER_KEY: b64encode(key).decode()})


@pytest.mark.parametrize("size", [0, 1, 400, 70_000])
def test_the_library_reads_ours_and_we_read_the_librarys(size: int) -> None:
    key, plain = os.urandom(32), os.urandom(size)
    ours, theirs = ContextCipher.of_key(key), library_cipher(key)
    assert theirs.decrypt(ours.encrypt(plain)) == plain
    assert ours.decrypt(theirs.encrypt(plain)) == plain
    assert ours.decrypt(ours.encrypt(plain)) == plain
    assert ours.encrypt(plain) != ours.encrypt(plain)  # a new nonce each time


def test_every_failure_is_decryption_failed() -> None:
    ours = ContextCipher.of_key(os.urandom(32))
    sealed = ours.encrypt(b"a secret")
    damaged = sealed[:30] + bytes([sealed[30] ^ 1]) + sealed[31:]
    for bad in (ContextCipher.of_key(os.urandom(32)).encrypt(b"a secret"), damaged,
                sealed[:27], b"", b"plain text, never encrypted at all"):
        with pytest.raises(DecryptionFailed, match="CONTEXT_ENCRYPTION_KEY"):
            ours.decrypt(bad)


def test_a_cipher_whose_key_changes_uses_the_new_key() -> None:
    first, second = os.urandom(32), os.urandom(16)
    cipher = ContextCipher.of_key(first)
    cipher.decrypt(cipher.encrypt(b"x"))  # its AESGCM made for the first key
    cipher.key = second
    assert library_cipher(second).decrypt(cipher.encrypt(b"y")) == b"y"
