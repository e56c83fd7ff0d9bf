""".ctxpkg import decompresses no more than the manifest declares: crafted bodies (a frame header
claiming a terabyte, a frame honestly holding far more than the manifest says, a zstd bomb with
no declared size) are refused before memory grows, with nothing written."""

from __future__ import annotations

import json
import struct
import tracemalloc
from collections.abc import Callable

import pytest
import zstandard
from restore_support import Kit, msg, new_agent
from test_restore_packages import frame, split

from ctxstore.application.errors import InvalidPackageFile
from ctxstore.infrastructure.persistence.portable import BodyTooLarge, PortableZstd

MIB = 1024 * 1024


def exported(kit: Kit) -> tuple[dict[str, object], bytes]:
    agent = new_agent()
    kit.store.record([msg(agent, f"hello {i}") for i in range(20)])
    cp = kit.checkpoints.capture(agent)
    manifest, body = split(kit.services.packages.export(cp.package_id))
    return manifest, zstandard.ZstdDecompressor().decompress(body)


def with_body(manifest: dict[str, object], body: bytes) -> bytes:
    """The package with `body` in place of its own (lengths, hashes, checksum made right)."""
    import hashlib

    info = dict(manifest["body"])  # type: ignore[call-overload]
    info.update(size=len(body), sha256=hashlib.sha256(body).hexdigest())
    return frame({**manifest, "body": info}, body)


def lying_header(raw: bytes, declared: int) -> bytes:
    """A frame of `raw` whose header says its content is `declared` bytes."""
    plain = zstandard.ZstdCompressor(write_content_size=False, write_checksum=False).compress(raw)
    blocks = plain[zstandard.frame_header_size(plain):]
    descriptor = 3 << 6  # an 8-byte Frame_Content_Size, multi-segment, no checksum/dictionary
    window = 10 << 3  # 1 MiB
    return (b"\x28\xb5\x2f\xfd" + bytes([descriptor, window]) + struct.pack("<Q", declared)
            + blocks)


def zeros_frame(size: int, *, declare: bool) -> bytes:
    compressor = zstandard.ZstdCompressor(level=3, write_content_size=declare)
    if declare:
        return compressor.compress(bytes(size))
    stream = compressor.compressobj()  # streamed: no size in the header
    chunk = bytes(MIB)
    return b"".join([*(stream.compress(chunk) for _ in range(size // MIB)), stream.flush()])


def peak_bytes(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def refused(kit: Kit, data: bytes, match: str) -> int:
    """Import `data`, expect InvalidPackageFile matching `match`; the peak memory it took."""
    def attempt() -> None:
        with pytest.raises(InvalidPackageFile, match=match):
            kit.services.packages.import_package(data)

    peak = peak_bytes(attempt)
    assert kit.checkpoints.list() == []
    return peak


def test_crafted_bodies_are_refused_without_decompressing_them(make_kit: Callable[..., Kit]
                                                               ) -> None:
    source, kit = make_kit("source"), make_kit("target")
    manifest, raw = exported(source)
    declared = manifest["body"]["original_size"]  # type: ignore[index]
    assert declared == len(raw) < 64 * 1024

    # A header that claims a terabyte: refused on the header, before any allocation.
    claim = lying_header(raw, 1 << 40)
    assert zstandard.get_frame_parameters(claim).content_size == 1 << 40
    peak = refused(kit, with_body(manifest, claim),
                   f"declares {1 << 40} bytes, more than the {declared} allowed")
    assert peak < MIB

    # An honest header, but 32 MiB where the manifest declares a few KiB.
    peak = refused(kit, with_body(manifest, zeros_frame(32 * MIB, declare=True)),
                   f"declares {32 * MIB} bytes")
    assert peak < MIB

    # A bomb with no declared size: streamed, and stopped one byte past the manifest's size.
    bomb = zeros_frame(256 * MIB, declare=False)
    assert len(bomb) < 64 * 1024
    assert zstandard.get_frame_parameters(bomb).content_size == zstandard.CONTENTSIZE_UNKNOWN
    peak = refused(kit, with_body(manifest, bomb), f"more than the {declared} bytes allowed")
    assert peak < 2 * MIB

    # The real body still imports (with the same bounded path).
    imported = kit.services.packages.import_package(
        with_body(manifest, zstandard.ZstdCompressor(level=19).compress(raw)))
    assert imported.integrity_hash == manifest["integrity_hash"]


def test_decompress_bounded() -> None:
    z = PortableZstd(level=19)
    data = json.dumps({"k": list(range(5000))}).encode()
    frame_ = z.compress(data)
    assert z.decompress_bounded(frame_, len(data)) == data
    with pytest.raises(BodyTooLarge, match="declares"):
        z.decompress_bounded(frame_, len(data) - 1)
    streamed = zstandard.ZstdCompressor().compressobj()
    unsized = streamed.compress(data) + streamed.flush()
    assert z.decompress_bounded(unsized, len(data)) == data
    with pytest.raises(BodyTooLarge, match="decompresses to more"):
        z.decompress_bounded(unsized, len(data) - 1)
    with pytest.raises(ValueError, match="not a zstd frame"):
        z.decompress_bounded(b"plain bytes", 100)
    with pytest.raises(ValueError, match="damaged"):
        z.decompress_bounded(frame_[:-5], len(data))
