"""A restore's new root refers to the root its content was read from for the tops the two
share (application.part_port, PartStore.bases: PostgreSQL's part table), and a release never
lets such a base keep what no content holds any more: forgetting the source rebases its
forks, which then refer to their tops themselves. Real SQLite, PostgreSQL and `hybrid` (the
stores that keep every row write no base, and must keep working the same)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from hash_rule import independent_hash
from restore_support import Kit, ReleaseMeanwhile, env, msg, new_agent

from ctxstore.application.commands import LOCAL, Forget
from ctxstore.application.part_port import BASE_OWNER, PART_OWNER
from ctxstore.domain.agent_id import LOCAL_TENANT, aggregate_id
from ctxstore.domain.content_tree import tree_tops
from ctxstore.domain.points import Point
from ctxstore.domain.state import content_of

SECRET = "the source's secret, deleted before the fork's version"


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    return make_kit(snapshot_interval=100)


def based(kit: Kit) -> bool:
    """Whether this store writes base rows."""
    keeper = kit.store.part_content
    assert keeper is not None
    return bool(keeper._bases)


def talk(kit: Kit, agent: str, start: int, count: int) -> None:
    """`count` messages, a memory every tenth, 50 a batch."""
    batch = []
    for i in range(start, start + count):
        batch.append(env(agent, "memory_stored", {"memory_id": f"m{i}", "kind": "semantic",
                                                  "content": f"fact {i}"})
                     if i % 10 == 0 else msg(agent, f"message {i} " + "lorem ipsum " * 20))
        if len(batch) == 50:
            kit.store.record(batch)
            batch = []
    if batch:
        kit.store.record(batch)


def rows_of(kit: Kit, owner: str) -> set[str]:
    return {str(r[0]) for r in kit.sql(
        f"SELECT address FROM {kit.table('part_refs')} WHERE tenant = ? AND package_id = ?",
        (LOCAL_TENANT, owner))}


def base_rows(kit: Kit) -> int:
    return int(kit.sql(f"SELECT count(*) FROM {kit.table('part_refs')} "
                       "WHERE substr(package_id, 1, 5) = 'base:'")[0][0])


def root_of(kit: Kit, agent: str, version: int | None = None) -> str:
    return kit.hash(agent, version).split(":")[1]


def raw_parts(kit: Kit) -> dict[str, bytes]:
    """Every part the store holds for the local tenant, decoded."""
    keeper = kit.store.part_content
    assert keeper is not None
    if kit.settings.bodies_in_files:
        folder: Path = keeper.parts._folder(LOCAL_TENANT)  # type: ignore[attr-defined]
        stored = {p.name: p.read_bytes() for p in folder.glob("*/*")
                  if not p.name.startswith(".part-")}
    else:
        stored = {str(a): bytes(d) for a, d in kit.sql(
            f"SELECT address, data FROM {kit.table('parts')} WHERE tenant = ?",
            (LOCAL_TENANT,))}
    return {a: keeper._decode(d) for a, d in stored.items()}


def forget(kit: Kit, agent: str) -> None:
    kit.services.commands.forget(LOCAL, Forget(agent_id=agent, by="test"))


def test_a_fork_at_an_earlier_version_refers_to_its_base_for_what_they_share(kit: Kit) -> None:
    source = new_agent("src")
    talk(kit, source, 0, 330)  # snapshots at 100, 200, 300
    snapshot_root = root_of(kit, source, 300)
    fork = new_agent("fork")
    kit.restore.restore(source, Point.of_version(325), fork)
    kit.store.agent_cache = None
    root = root_of(kit, fork)
    assert root == root_of(kit, source, 325)
    tops = tree_tops(orjson.loads(raw_parts(kit)[root]))
    snapshot_tops = tree_tops(orjson.loads(raw_parts(kit)[snapshot_root]))
    own = rows_of(kit, PART_OWNER + root)
    if based(kit):
        # One row for every top it shares with the snapshot it was read from: the base.
        assert rows_of(kit, BASE_OWNER + root) == {snapshot_root}
        assert own == tops - snapshot_tops and 0 < len(own) < 5 < len(tops)
        # Its last message group, grown, refers to the snapshot's for the pages they share.
        raw = raw_parts(kit)
        group = orjson.loads(raw[root])["messages"][-1]
        then = orjson.loads(raw[snapshot_root])["messages"][-1]
        assert group != then and rows_of(kit, BASE_OWNER + group) == {then}
        assert rows_of(kit, PART_OWNER + group) == (set(orjson.loads(raw[group]))
                                                    - set(orjson.loads(raw[then])))
    else:
        assert own == tops and not rows_of(kit, BASE_OWNER + root)
    state = kit.store.context(fork)
    assert state["content_hash"] == f"sha256-tree1:{root}" == independent_hash(
        content_of(state))


def test_forgetting_the_source_rebases_its_forks_and_keeps_nothing_only_it_held(
        kit: Kit) -> None:
    """The source's snapshot at 300 holds a memory it forgot at 310; the fork, at 320, does
    not. Forgotten, the source's snapshot root no longer outlives it through the fork's base:
    the fork refers to its own tops, and no part holding the memory is left."""
    source = new_agent("src")
    talk(kit, source, 0, 295)
    kit.store.record([env(source, "memory_stored", {"memory_id": "secret",
                                                    "kind": "semantic", "content": SECRET})])
    talk(kit, source, 296, 14)  # the snapshot at 300 holds it
    kit.store.record([env(source, "memory_forgotten", {"memory_id": "secret"})])  # 310
    talk(kit, source, 311, 20)
    fork = new_agent("fork")
    kit.restore.restore(source, Point.of_version(320), fork)
    expected = kit.hash(fork)
    assert any(SECRET.encode() in raw for raw in raw_parts(kit).values())
    # The root's base, and the last message group's (the pages it shares with the one before).
    assert base_rows(kit) == (2 if based(kit) else 0)
    forget(kit, source)
    assert base_rows(kit) == 0
    assert not any(SECRET.encode() in raw for raw in raw_parts(kit).values())
    root = expected.split(":")[1]
    assert rows_of(kit, PART_OWNER + root) == tree_tops(orjson.loads(raw_parts(kit)[root]))
    kit.store.agent_cache = None
    state = kit.store.context(fork)
    assert state["content_hash"] == expected == independent_hash(content_of(state))
    assert "secret" not in state["memories"] and "m300" in state["memories"]
    forget(kit, fork)
    assert raw_parts(kit) == {} and base_rows(kit) == 0


def test_a_fork_of_a_fork_outlives_the_fork_it_was_based_on(kit: Kit) -> None:
    """The second fork reads the first's content from its restore's root (no snapshot of
    its own yet) and is based on it; forgetting the first rebases the second, and forgetting
    the source then leaves the second whole too."""
    source = new_agent("src")
    talk(kit, source, 0, 230)
    first = new_agent("first")
    kit.restore.restore(source, Point.of_version(215), first)
    talk(kit, first, 1000, 20)  # versions 2..21: no snapshot of its own
    second = new_agent("second")
    kit.restore.restore(first, Point.of_version(12), second)
    expected = kit.hash(second)
    assert expected == kit.hash(first, 12)
    if based(kit):
        assert rows_of(kit, BASE_OWNER + expected.split(":")[1]) == {
            root_of(kit, first, 1)}
    forget(kit, first)
    forget(kit, source)
    assert base_rows(kit) == 0
    kit.store.agent_cache = None
    state = kit.store.context(second)
    assert state["content_hash"] == expected == independent_hash(content_of(state))
    kit.store.record([msg(second, "still writable")])
    assert kit.store.context(second)["messages"][-1]["content"] == "still writable"


def fork_rows(kit: Kit, events: int) -> int:
    """Reference rows a fork 25 events after a snapshot of an agent of `events` writes."""
    source = new_agent("src")
    talk(kit, source, 0, events)
    before = int(kit.sql(f"SELECT count(*) FROM {kit.table('part_refs')}")[0][0])
    kit.restore.restore(source, Point.of_version(events - 5), new_agent("fork"))
    return int(kit.sql(f"SELECT count(*) FROM {kit.table('part_refs')}")[0][0]) - before


@pytest.mark.parametrize("backend", ["postgres"])  # the store that takes bases
def test_what_a_fork_refers_to_does_not_grow_with_the_context(kit: Kit) -> None:
    """330 events (one group of message pages) against 4,730 (two, and a second of tool
    calls... none here: messages and memories): the fork's rows are those of what changed."""
    small, large = fork_rows(kit, 330), fork_rows(kit, 4730)
    # The agent's row, the root's base, the tops that changed (the last message group, a
    # memory bucket), the group's base and its new page: the same few at both sizes.
    assert small == large and small < 10, (small, large)


@pytest.mark.parametrize("backend", ["postgres"])  # the store that takes bases
def test_a_release_waiting_for_a_based_fork_rebases_it_after(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release of the base (the source's snapshot root, its own reference gone as a
    forget's goes) started while the fork refers to it waits for the fork's transaction, then
    finds only the fork's base rows keeping it: it gives the fork its own rows and releases
    the base, and the fork reads back whole."""
    keeper = kit.store.part_content
    assert keeper is not None and based(kit)
    source = new_agent("src")
    talk(kit, source, 0, 230)
    base = root_of(kit, source, 200)
    expected = kit.hash(source, 225)
    kit.sql(f"DELETE FROM {kit.table('part_refs')} WHERE substr(package_id, 1, 6) = 'agent:'")
    release = ReleaseMeanwhile(kit, base)
    release.patch(monkeypatch)
    fork = new_agent("fork")
    kit.restore.restore(source, Point.of_version(225), fork)
    assert base in release.join() and base_rows(kit) == 0
    root = expected.split(":")[1]
    assert rows_of(kit, PART_OWNER + root) == tree_tops(orjson.loads(raw_parts(kit)[root]))
    kit.store.agent_cache = None
    keeper.cache = None  # every part read back from the store
    state = kit.store.context(fork)
    assert state["content_hash"] == expected == independent_hash(content_of(state))


@pytest.mark.parametrize("backend", ["postgres"])  # the store that takes bases
def test_parts_gc_drops_base_rows_a_release_before_bases_left(kit: Kit) -> None:
    """A release by a release before bases drops a removed node's `part:` rows only: its
    `base:` rows would keep their bases forever, past a forget of the source. `collect`
    (ctxstore parts-gc) drops such rows, so the source's forget then releases everything."""
    keeper = kit.store.part_content
    assert keeper is not None and based(kit)
    source = new_agent("src")
    talk(kit, source, 0, 230)
    fork = new_agent("fork")
    kit.restore.restore(source, Point.of_version(225), fork)
    owners = [str(r[0])[len(BASE_OWNER):] for r in kit.sql(
        f"SELECT package_id FROM {kit.table('part_refs')} WHERE substr(package_id, 1, 5) = "
        "'base:'")]
    assert owners
    # The fork forgotten by such a release: its row, its nodes and their `part:` rows go.
    kit.sql(f"DELETE FROM {kit.table('part_refs')} WHERE package_id = ?",
            (f"agent:{aggregate_id(fork)}",))
    for owner in owners:
        kit.sql(f"DELETE FROM {kit.table('parts')} WHERE address = ?", (owner,))
        kit.sql(f"DELETE FROM {kit.table('part_refs')} WHERE package_id = ?",
                (PART_OWNER + owner,))
    assert base_rows(kit) == len(owners)
    keeper.parts.collect(min_age_seconds=0)
    assert base_rows(kit) == 0
    forget(kit, source)
    assert raw_parts(kit) == {}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])  # the part table's dialects
def test_parts_gc_drops_a_base_row_whose_node_is_gone(kit: Kit) -> None:
    keeper = kit.store.part_content
    assert keeper is not None
    gone, kept = "1" * 64, "2" * 64
    kit.sql(f"INSERT INTO {kit.table('part_refs')} (tenant, package_id, address) "
            "VALUES (?, ?, ?)", (LOCAL_TENANT, BASE_OWNER + gone, kept))
    assert base_rows(kit) == 1
    keeper.parts.collect(min_age_seconds=3600)
    assert base_rows(kit) == 0
