"""The zstd of `.ctxpkg` bodies: plain frames (no dictionary, so any store reads them), and a
decompression bounded by the size the package's manifest declares.

A frame's header may declare any content size, and zstd's one-shot `decompress` allocates that
much before it reads a byte; a frame without a declared size can expand a few kilobytes into
gigabytes. Package files come from elsewhere, so their bodies are refused on a header that
declares more than the manifest, and otherwise decompressed into a buffer of the manifest's
size that zstd refuses to overrun.
"""

from __future__ import annotations

import zstandard

from ctxstore.infrastructure.persistence.zstd_compressor import ZstdCompressor

CHUNK = 1024 * 1024
# zstd's own default limit on a frame's window (the memory decompression keeps): 128 MiB.
MAX_WINDOW_LOG = 27
MIN_WINDOW_LOG = 23


class BodyTooLarge(ValueError):
    """A frame that declares or decompresses to more than it may."""


class PortableZstd(ZstdCompressor):
    """Dictionary-free zstd at a chosen level, with `decompress_bounded` for untrusted frames."""

    def __init__(self, level: int = 3):
        super().__init__(level=level)

    def decompress_bounded(self, data: bytes, max_size: int) -> bytes:
        """The content of one zstd frame of at most `max_size` bytes.

        Raises BodyTooLarge when the header declares more, or the content runs past it, and
        ValueError for anything that is not a whole, readable, dictionary-free zstd frame.
        Memory stays within `max_size` plus the frame's window (itself bounded).
        """
        try:
            params = zstandard.get_frame_parameters(data)
        except zstandard.ZstdError as e:
            raise ValueError(f"not a zstd frame: {e}") from None
        if params.dict_id:
            raise ValueError(f"frame needs zstd dictionary {params.dict_id}; package bodies use "
                             "none")
        declared = params.content_size
        if declared != zstandard.CONTENTSIZE_UNKNOWN and declared > max_size:
            raise BodyTooLarge(f"frame header declares {declared} bytes, more than the "
                               f"{max_size} allowed")
        decompressor = zstandard.ZstdDecompressor(max_window_size=_window(max_size))
        try:
            # One buffer of the declared size (checked above), or of `max_size` when the frame
            # declares none: zstd stops with an error rather than write past it.
            out = decompressor.decompress(data, max_output_size=max(1, max_size))
        except zstandard.ZstdError as e:
            if _output_exceeds(decompressor, data, max_size):
                raise BodyTooLarge(f"frame decompresses to more than the {max_size} bytes "
                                   "allowed") from None
            raise ValueError(f"damaged or truncated zstd frame: {e}") from None
        if len(out) > max_size:
            raise BodyTooLarge(f"frame decompresses to more than the {max_size} bytes allowed")
        return out


def _window(max_size: int) -> int:
    """The window a frame may ask for: its content rounded up to a power of two, at least
    zstd's level-19 default (8 MiB, for frames streamed without a size), at most 128 MiB."""
    return 1 << max(MIN_WINDOW_LOG, min(MAX_WINDOW_LOG, max_size.bit_length()))


def _output_exceeds(decompressor: zstandard.ZstdDecompressor, data: bytes, limit: int) -> bool:
    """Whether the frame yields more than `limit` bytes, counted in chunks and dropped."""
    total = 0
    try:
        with decompressor.stream_reader(data, read_across_frames=False) as reader:
            while chunk := reader.read(CHUNK):
                total += len(chunk)
                if total > limit:
                    return True
    except zstandard.ZstdError:
        pass
    return False
