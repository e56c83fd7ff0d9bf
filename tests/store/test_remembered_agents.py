"""What a store remembers per agent to save queries (tenants, tenants' keys, snapshot marks) is
bounded by count, least recently used first, and a forgotten fact is looked up again."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.cipher import AESCipher

from ctxstore.application.lru_map import LruMap
from ctxstore.application.store import ContextStore
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store, eventsourcing_env
from ctxstore.infrastructure.settings import Settings
from tests.support import calls_of, make_settings


def test_lru_map_drops_the_least_recently_used() -> None:
    lru: LruMap[str, int] = LruMap(2)
    lru["a"], lru["b"] = 1, 2
    assert lru["a"] == 1  # now the most recent
    lru["c"] = 3
    assert dict(lru) == {"a": 1, "c": 3}
    assert lru.setdefault("c", 9) == 3 and len(lru) == 2
    with pytest.raises(ValueError):
        LruMap(0)


def test_lru_map_takes_and_gives_many_at_once() -> None:
    lru: LruMap[str, int] = LruMap(3)
    lru.put_all({"a": 1, "b": 2})
    assert lru.get_all(["b", "x"]) == {"b": 2, "x": None}  # b is now the most recent
    lru.put_all({"c": 3, "d": 4})  # a, the least recent, goes
    assert dict(lru) == {"b": 2, "c": 3, "d": 4} and list(lru) == ["b", "c", "d"]
    lru.put_all({"b": 5, "e": 6, "f": 7})  # more than it holds: the last ones stay
    assert list(lru.items()) == [("b", 5), ("e", 6), ("f", 7)]


def test_a_store_remembers_at_most_its_bound_of_agents(tmp_path: Path) -> None:
    settings = make_settings("sqlite", tmp_path)
    store = ContextStore(env=eventsourcing_env(settings), snapshot_interval=2,
                         remembered_agents=5)
    try:
        tenants = ["local", "acme"]
        for i in range(30):
            for tenant in tenants:
                store.record([make_envelope(f"bot-{i}", "message",
                                            {"role": "user", "content": str(n)},
                                            event_id=str(uuid.uuid4())) for n in range(4)],
                             tenant=tenant)
            store.key_for("acme", f"bot-{i}")
            store.owner(store.key_for("acme", f"bot-{i}"))
        assert len(store._owners) <= 5 and len(store._keys) <= 5
        assert len(store.snapshot_policy._marks) <= 5
        # The first agents' facts were dropped; asking again finds the same answers.
        key = store.key_for("acme", "bot-0")
        assert store.owner(key) == "acme" and store.owner("bot-0") == "local"
        assert len(store.history(key)) == 4
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """An encrypted store's settings (data keys of each agent's own), on each backend."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    return make_settings(request.param, tmp_path, dsn, encryption_enabled=True,
                         encryption_key=AESCipher.create_key(32))


def said(agent: str, event_id: str | None = None, type_: str = "message",
         **data: object) -> Any:
    return make_envelope(agent, type_, data or {"role": "user", "content": "hi"},
                         event_id=event_id or str(uuid.uuid4()))


def test_a_new_agents_tenant_is_remembered_from_its_first_write(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its next write asks no one; a new agent whose events were all refused was not written
    and is not remembered, and its first real write (under a data key of its own) works."""
    store = build_store(settings)
    asked = calls_of(monkeypatch, store.index, "owners")
    try:
        store.record([said("new"), said("other")], tenant="acme")
        assert asked  # new: looked up
        asked.clear()
        (a, b) = store.record([said("new"), said("other")], tenant="acme").outcomes
        assert (a.status, a.version, b.version) == ("recorded", 2, 2)
        assert asked == []  # remembered: not asked again
        (refused,) = store.record([said("empty", type_="memory_updated", memory_id="m-none")],
                                  tenant="acme").outcomes
        assert refused.status == "rejected"
        key = store.key_for("acme", "empty")
        assert key not in store._owners
        (first,) = store.record([said("empty")], tenant="acme").outcomes
        assert (first.status, first.version) == ("recorded", 1)
        assert store.context(key)["version"] == 1
        assert store.owner(key) == "acme"
    finally:
        store.close()


def test_which_event_ids_are_known_is_asked_only_for_agents_written_before_and_not_held(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """New agents' batches go without the question; an id a client reused for a new agent
    is still reported a duplicate (the commit refuses it, the retry asks); a process that
    does not hold an agent written before asks (a redelivery after a restart)."""
    store = build_store(settings)
    asked = calls_of(monkeypatch, store.index, "known_event_ids")
    later = None
    try:
        first = store.record([said("a", "e1"), said("b", "e2")])
        assert [o.status for o in first.outcomes] == ["recorded", "recorded"]
        assert asked == []
        reused = store.record([said("c", "e1"), said("c", "e3")])
        assert [(o.status, o.version) for o in reused.outcomes] == [("duplicate", 1),
                                                                      ("recorded", 1)]
        assert asked, "the retry did not ask"
        assert store.context("c")["version"] == 1
        later = build_store(settings)  # holds nothing
        asked = calls_of(monkeypatch, later.index, "known_event_ids")
        attempts = calls_of(monkeypatch, later, "_record_once")
        again = later.record([said("a", "e1"), said("a", "e4")])
        assert [(o.status, o.version) for o in again.outcomes] == [("duplicate", 1),
                                                                    ("recorded", 2)]
        assert (len(asked), len(attempts)) == (1, 1)  # asked up front: no failed commit first
    finally:
        store.close()
        if later is not None:
            later.close()
