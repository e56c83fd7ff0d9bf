"""CONTEXT_CHECKPOINT_COMPRESSION_LEVEL: package bodies and exported bodies are compressed at
that level instead of the strategy's (not the events' CONTEXT_COMPRESSION_LEVEL), and
`compression_strategy` says so."""

from __future__ import annotations

import random
from collections.abc import Callable

import zstandard
from restore_support import Kit, env, msg, new_agent
from test_restore_packages import split

from ctxstore.domain.state import canonical_json
from ctxstore.infrastructure.settings import Settings

WORDS = ["agent", "context", "tool", "memory", "restore", "version", "checkpoint", "search",
         "result", "error", "retry", "plan", "user", "file", "patch", "test", "build", "query"]


def verbose_agent(kit: Kit) -> str:
    """The same ~40 KB of seeded prose in every store (levels differ clearly on it)."""
    rng = random.Random(7)
    agent = new_agent()
    kit.store.record([msg(agent, " ".join(rng.choice(WORDS) for _ in range(100)))
                      for _ in range(50)]
                     + [env(agent, "memory_stored", {"memory_id": f"m{i}", "kind": "semantic",
                                                     "content": f"fact {rng.random()}"})
                        for i in range(20)])
    return agent


def test_bodies_use_the_checkpoint_level(make_kit: Callable[..., Kit]) -> None:
    assert Settings().checkpoint_compression_level is None
    assert Settings().checkpoint_level == 19  # the default strategy's, `semantic`
    sizes = {}
    for level in (1, 19):
        kit = make_kit(f"level{level}", checkpoint_compression_level=level,
                       compression_level=3, compression_strategy="basic")
        agent = verbose_agent(kit)
        cp = kit.checkpoints.capture(agent)
        raw = canonical_json(kit.checkpoints.load(cp.package_id)[1])
        assert cp.compression_strategy == f"basic/zstd-{level}"
        expected = len(zstandard.ZstdCompressor(level=level).compress(raw))
        assert cp.original_size_bytes == len(raw) and cp.compressed_size_bytes == expected
        assert len(kit.stored_body(cp.package_id)) == expected
        manifest, body = split(kit.services.packages.export(cp.package_id))
        assert len(body) == expected  # the export is as small as the stored body
        assert manifest["checkpoint"]["compression_strategy"] == f"basic/zstd-{level}"  # type: ignore[index]
        sizes[level] = expected
    assert sizes[19] < sizes[1]


def test_import_recompresses_at_the_importers_level(make_kit: Callable[..., Kit]) -> None:
    one = make_kit("one", checkpoint_compression_level=1, compression_strategy="basic")
    two = make_kit("two", checkpoint_compression_level=19, compression_strategy="basic")
    agent = verbose_agent(one)
    cp = one.checkpoints.capture(agent)
    imported = two.services.packages.import_package(one.services.packages.export(cp.package_id))
    assert imported.compression_strategy == "basic/zstd-19"
    assert imported.compressed_size_bytes < cp.compressed_size_bytes
    assert two.checkpoints.load(cp.package_id)[1]["content_hash"] == cp.integrity_hash
