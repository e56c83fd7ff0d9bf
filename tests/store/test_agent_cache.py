"""The folded-agent cache is bounded by stored bytes (issue 17 item 2), on real SQLite and
PostgreSQL: a writer and a reader (two processes' stores) under a small budget never hold more
than it, still answer every read as a store without a cache does, and an agent bigger than the
whole budget is served but not kept."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support import make_settings, store_opener, user_message

from ctxstore.application.agent_cache import AgentCache
from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import aggregate_id


@pytest.fixture(params=["sqlite", "postgres"])
def open_stores(request: pytest.FixtureRequest, tmp_path: Path
                ) -> Iterator[Callable[..., ContextStore]]:
    """Stores on one fresh database (each its own process's cache), with these settings."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    with store_opener(make_settings(request.param, tmp_path, dsn)) as open_:
        yield open_



def noise(rng: random.Random, size: int) -> str:
    # Little repetition, so the stored (compressed) bytes stay near the text's size.
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(size))


def held_bytes(store: ContextStore, agent: str) -> int:
    """Stored bytes of the snapshot and events a fresh fold of the agent reads."""
    stored = store.index.heads([aggregate_id(agent)])[aggregate_id(agent)]
    return sum(len(s.state) for s in stored)


def test_a_small_budget_is_never_exceeded_and_reads_stay_right(
        open_stores: Callable[..., ContextStore]) -> None:
    budget = 9_000  # below what the agents hold (checked last), so the bound bites
    writer = open_stores(snapshot_interval=5, aggregate_cache_bytes=budget)
    reader = open_stores(snapshot_interval=5, aggregate_cache_bytes=budget)
    plain = open_stores(snapshot_interval=5, aggregate_cache_size=0)
    assert plain.agent_cache is None
    assert writer.agent_cache is not None and reader.agent_cache is not None
    rng = random.Random(17)
    agents = [f"cached-{i}" for i in range(10)]
    sent: dict[str, list[str]] = {a: [] for a in agents}
    for _ in range(30):
        batch = []
        for agent in rng.sample(agents, 4):
            text = noise(rng, rng.randrange(50, 600))
            sent[agent].append(text)
            batch.append(user_message(agent, text))
        assert writer.record(batch).recorded == len(batch)
        assert writer.agent_cache.bytes <= budget
        for agent in rng.sample(agents, 3):
            if not sent[agent]:
                continue
            state = reader.context(agent)
            assert [m["content"] for m in state["messages"]] == sent[agent]
            assert state == plain.context(agent)
            assert reader.agent_cache.bytes <= budget
    # The bound did bite, on both sides, and the cache still holds agents.
    assert writer.agent_cache.evictions > 0 and reader.agent_cache.evictions > 0
    assert len(writer.agent_cache) > 0 and len(reader.agent_cache) > 0
    assert sum(held_bytes(plain, a) for a in agents) > budget
    # A fresh fold is counted as exactly the stored bytes it read.
    fresh = open_stores(aggregate_cache_bytes=budget)
    fresh.context(agents[0])
    assert fresh.agent_cache is not None
    assert fresh.agent_cache.bytes == held_bytes(plain, agents[0])


def test_an_agent_bigger_than_the_budget_is_served_not_kept(
        open_stores: Callable[..., ContextStore]) -> None:
    budget = 4_000
    writer = open_stores(aggregate_cache_bytes=budget)
    reader = open_stores(aggregate_cache_bytes=budget)
    rng = random.Random(2)
    big = [noise(rng, 3_000) for _ in range(3)]
    assert writer.record([user_message("big", text) for text in big]).recorded == 3
    assert held_bytes(writer, "big") > budget
    assert writer.agent_cache is not None and reader.agent_cache is not None
    assert writer.agent_cache.get(aggregate_id("big")) is None
    assert [m["content"] for m in reader.context("big")["messages"]] == big
    assert reader.agent_cache.get(aggregate_id("big")) is None
    assert reader.agent_cache.bytes == 0
    # Served again, and the next batch for it still lands in order.
    assert writer.record([user_message("big", "more")]).versions == {"big": 4}
    assert [m["content"] for m in reader.context("big")["messages"]] == [*big, "more"]
    # A small agent beside it is kept.
    writer.record([user_message("small", "hi")])
    assert reader.context("small")["version"] == 1
    assert reader.agent_cache.get(aggregate_id("small")) is not None
    assert 0 < reader.agent_cache.bytes <= budget


def agent(version: int) -> Any:
    return SimpleNamespace(version=version)


def test_least_recently_used_go_first_by_bytes_and_by_count() -> None:
    cache = AgentCache(max_bytes=100, max_agents=3)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert cache.put(a, agent(1), 40) and cache.put(b, agent(1), 40)
    assert cache.get(a) is not None  # a is now the most recent
    assert cache.put(c, agent(1), 40)  # 120 > 100: b, the least recent, goes
    assert cache.get(b) is None and cache.bytes == 80 and len(cache) == 2
    assert not cache.put(b, agent(1), 101) and cache.bytes == 80
    # Growing by folded events keeps the entry only when it held the version folded onto.
    assert cache.grow(a, agent(3), 10, folded=2) and cache.bytes == 90
    assert not cache.grow(c, agent(5), 10, folded=2) and cache.get(c) is None
    assert cache.grow(b, agent(2), 5, folded=2)  # absent, but the events are all it is
    d = uuid.uuid4()
    cache.put(d, agent(1), 1)
    cache.put(uuid.uuid4(), agent(1), 1)  # a fourth agent: the least recent (a) goes
    assert cache.get(a) is None and len(cache) == 3
    assert bool(AgentCache(10, 10))  # an empty cache is still a cache
