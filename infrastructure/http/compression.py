"""GET context's large answers sent zstd-compressed to clients that accept it.

A window of a long real-trace agent is about a megabyte of JSON (1.3 MB for the last 50
messages of the 100k-event agent in bench/restore.py), which a client across a network waits
for byte by byte; zstd at level 1 makes it a fifth to a quarter of that in about 3 ms, once per
agent, version and window (the compressed bytes are cached beside the plain ones, http.cache),
and httpx, urllib3 2 and current browsers decode it. gzip is not offered: on these answers it
costs three to four times zstd's CPU for a larger result (the README's benchmark row), and a
client that accepts only gzip still gets every byte, uncompressed. Answers under the size
floor go as they are: compressing a few kilobytes saves the client nothing it would notice.

A compressed answer is another representation of the same version, so it carries its own
strong ETag (the plain one with a `-zstd` suffix, RFC 9110 8.8.3); an If-None-Match naming
either form still answers 304, since both name that version's content, and every answer says
`Vary: Accept-Encoding` for the caches between.
"""

from __future__ import annotations

from ctxstore.infrastructure.persistence.zstd_compressor import ZstdCompressor

ZSTD = "zstd"
LEVEL = 1
SUFFIX = "-" + ZSTD
VARY = "Accept-Encoding"

# The store's codec (a zstd context per thread), with no dictionary active: plain frames, with
# their size, which any zstd decoder reads.
_CODEC = ZstdCompressor(level=LEVEL)


def accepts_zstd(header: str | None) -> bool:
    """Whether an Accept-Encoding header accepts zstd: named, or `*`, with a q-value above
    zero (a `zstd;q=0` refuses it even beside `*`). A malformed q-value counts as refusal:
    the client then gets the plain answer, never an error."""
    if not header:
        return False
    star = False
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if coding not in (ZSTD, "*"):
            continue
        accepted = _q(params) > 0
        if coding == ZSTD:
            return accepted
        star = accepted
    return star


def _q(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def compress(data: bytes) -> bytes:
    """One zstd frame of `data`."""
    return _CODEC.compress(data)


def compressed_tag(tag: str) -> str:
    """The compressed representation's strong ETag: the plain one's, suffixed."""
    return tag[:-1] + SUFFIX + '"'
