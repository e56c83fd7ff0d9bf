"""A restore's content hash costs what changed, not the size of the content (issue 16 item 4):
a fork of a whole version starts with its source's part addresses, so neither the restore nor
the fork's next read hashes the content again; the hashes are still the content's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hash_rule import independent_hash
from restore_support import Kit, msg, new_agent

from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json, content_of


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    return make_kit(snapshot_interval=50)


def test_a_fork_and_its_read_do_not_hash_the_content_again(kit: Kit,
                                                            hashed: list[int]) -> None:
    agent = new_agent("long")
    kit.store.record([msg(agent, f"message {i} " + "x" * 200) for i in range(2000)])
    source = kit.store.context(agent)
    whole = len(canonical_json(content_of(source)))
    hashed.clear()
    fork = new_agent("fork")
    result = kit.restore.restore(agent, Point.latest(), fork)
    forked = kit.store.context(fork)
    assert sum(hashed) < whole / 10, (sum(hashed), whole)
    assert result.content_hash == source["content_hash"] == forked["content_hash"]
    assert forked["content_hash"] == independent_hash(content_of(forked))
    # A rewind to a past version: its snapshot's addresses, plus the events after it.
    hashed.clear()
    rewind = kit.restore.restore(agent, Point.of_version(1975), agent)
    assert sum(hashed) < whole / 10, (sum(hashed), whole)
    assert rewind.content_hash == independent_hash(content_of(kit.store.context(agent)))
