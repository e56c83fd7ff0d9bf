"""What a store remembers per agent to save queries (tenants, tenants' keys, snapshot marks) is
bounded by count, least recently used first, and a forgotten fact is looked up again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ctxstore.application.lru_map import LruMap
from ctxstore.application.store import ContextStore
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import eventsourcing_env
from tests.support import make_settings


def test_lru_map_drops_the_least_recently_used() -> None:
    lru: LruMap[str, int] = LruMap(2)
    lru["a"], lru["b"] = 1, 2
    assert lru["a"] == 1  # now the most recent
    lru["c"] = 3
    assert dict(lru) == {"a": 1, "c": 3}
    assert lru.setdefault("c", 9) == 3 and len(lru) == 2
    with pytest.raises(ValueError):
        LruMap(0)


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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_new_agents_tenant_is_remembered_from_its_first_write(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Its next write asks no one; a new agent whose events were all refused was not written
    and is not remembered, and its first real write (under a data key of its own) works."""
    from eventsourcing.cipher import AESCipher

    from ctxstore.infrastructure.bootstrap import build_store

    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    store = build_store(make_settings(backend, tmp_path, dsn, encryption_enabled=True,
                                      encryption_key=AESCipher.create_key(32)))
    asked: list[list[str]] = []
    owners = store.index.owners
    monkeypatch.setattr(store.index, "owners", lambda keys: asked.append(list(keys))
                        or owners(keys))
    try:
        def said(agent: str, type_: str = "message", **data: object) -> object:
            return make_envelope(agent, type_, data or {"role": "user", "content": "hi"},
                                 event_id=str(uuid.uuid4()))

        store.record([said("new"), said("other")], tenant="acme")
        assert asked  # new: looked up
        asked.clear()
        (a, b) = store.record([said("new"), said("other")], tenant="acme").outcomes
        assert (a.status, a.version, b.version) == ("recorded", 2, 2)
        assert asked == []  # remembered: not asked again
        (refused,) = store.record([said("empty", "memory_updated", memory_id="m-none")],
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
