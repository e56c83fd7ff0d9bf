"""Snapshots and restores keep contents as parts (issue 16 items 1 and 2): a snapshot writes
only the parts the store lacks, a fork or rewind records where its content is instead of a
copy, both read back with the same content hashes, old whole snapshots and copied restores stay
readable, and tenants never share parts. Real SQLite, PostgreSQL and `hybrid` (parts as files).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hash_rule import independent_hash
from restore_support import Kit, ReleaseMeanwhile, env, msg, new_agent

from ctxstore.application import restore as restore_module
from ctxstore.application import store_reads
from ctxstore.application.commands import LOCAL, Forget
from ctxstore.application.errors import IntegrityMismatch
from ctxstore.application.part_content import READ_WITH, agent_owner
from ctxstore.domain import aggregate
from ctxstore.domain.agent_id import LOCAL_TENANT, aggregate_id
from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json, content_of
from ctxstore.domain.window import OpenCalls, tail_window
from ctxstore.infrastructure.bootstrap import build_store


@pytest.fixture
def kit(make_kit: Callable[..., Kit]) -> Kit:
    return make_kit(snapshot_interval=100)


def stored_parts(kit: Kit, tenant: str = LOCAL_TENANT) -> tuple[int, int]:
    """(parts, stored bytes) the store holds for a tenant, wherever the backend keeps them."""
    assert kit.store.part_content is not None
    parts = kit.store.part_content.parts
    if kit.settings.bodies_in_files:
        folder: Path = parts._folder(tenant)  # type: ignore[attr-defined]
        files = [p for p in folder.glob("*/*") if not p.name.startswith(".part-")]
        return len(files), sum(p.stat().st_size for p in files)
    rows = kit.sql(f"SELECT count(*), coalesce(sum(length(data)), 0) FROM {kit.table('parts')} "
                   "WHERE tenant = ?", (tenant,))
    return int(rows[0][0]), int(rows[0][1])


def ref_rows(kit: Kit, tenant: str = LOCAL_TENANT) -> int:
    return int(kit.sql(f"SELECT count(*) FROM {kit.table('part_refs')} WHERE tenant = ?",
                       (tenant,))[0][0])


def last_event_bytes(kit: Kit, agent: str) -> int:
    rows = kit.sql(f"SELECT state FROM {kit.table('events')} WHERE originator_id = ? "
                   "ORDER BY originator_version DESC LIMIT 1",
                   (kit.uuid_param(aggregate_id(agent)),))
    return len(bytes(rows[0][0]))


def talk(kit: Kit, agent: str, start: int, count: int, tenant: str = LOCAL_TENANT) -> None:
    """`count` messages (and a memory every tenth), recorded 50 at a time."""
    talk_to(kit.store, agent, start, count, tenant)


def talk_to(store: Any, agent: str, start: int, count: int, tenant: str = LOCAL_TENANT) -> None:
    batch: list[Any] = []
    for i in range(start, start + count):
        batch.append(msg(agent, f"message {i} {os.urandom(24).hex()} " + "lorem ipsum " * 20))
        if i % 10 == 0:
            batch[-1] = env(agent, "memory_stored", {"memory_id": f"m{i}", "kind": "semantic",
                                                     "content": f"fact {i}"})
        if len(batch) == 50:
            store.record(batch, tenant=tenant)
            batch = []
    if batch:
        store.record(batch, tenant=tenant)


def replayed_hash(kit: Kit, agent: str, version: int | None = None) -> str:
    """The agent's hash folded from its events alone (no snapshot), by the client's rule."""
    folded, _ = kit.store.replay(agent, None, upto=version)
    assert folded is not None
    return independent_hash(folded.content)


def test_a_snapshot_holds_a_reference_and_writes_only_the_new_parts(kit: Kit) -> None:
    agent = new_agent("grow")
    talk(kit, agent, 0, 1000)  # snapshots at 100, 200, ... 1000
    stored = kit.sql(f"SELECT state FROM {kit.table('snapshots')} WHERE originator_id = ? "
                     "ORDER BY originator_version DESC LIMIT 1",
                     (kit.uuid_param(aggregate_id(agent)),))
    mapper = kit.store.mapper
    raw = mapper.compressor.decompress(bytes(stored[0][0])) if mapper.compressor else b""
    snapshot = mapper.transcoder.decode(raw)
    assert "content_ref" in snapshot["state"] and "content" not in snapshot["state"]
    parts, size = stored_parts(kit)
    rows = ref_rows(kit)
    talk(kit, agent, 1000, 100)  # one more snapshot, at 1100
    more_parts, more_size = stored_parts(kit)
    # Dirty pages (2 of messages: 1000..1099 spans two), a memory bucket or ten, their
    # groups and the root: a few parts, not the 18 pages the content has.
    assert 0 < more_parts - parts <= 16, (parts, more_parts)
    assert more_size - size < size / 4, (size, more_size)
    assert more_parts and ref_rows(kit) - rows < 150
    # Read from that snapshot: the same content and hash as folding every event.
    assert kit.hash(agent) == replayed_hash(kit, agent)
    kit.store.agent_cache = None  # read it back from the store, not the writer's memory
    state = kit.store.context(agent)
    assert state["content_hash"] == independent_hash(content_of(state))
    assert len(state["messages"]) == 990 and len(state["memories"]) == 110


def fork_cost(kit: Kit, size: int) -> tuple[int, int, int, str]:
    """(parts bytes, reference rows, stored event bytes, hash) a fork of an agent of `size`
    messages writes; the source has 30 events after its last snapshot."""
    source = new_agent("src")
    talk(kit, source, 0, size + 30)
    parts, size_before = stored_parts(kit)
    rows = ref_rows(kit)
    fork = new_agent("fork")
    result = kit.restore.restore(source, Point.latest(), fork)
    after, size_after = stored_parts(kit)
    assert result.content_hash == kit.hash(source) == kit.hash(fork)
    return size_after - size_before, ref_rows(kit) - rows, last_event_bytes(kit, fork), fork


def test_a_fork_writes_what_its_source_did_not_store_whatever_its_size(kit: Kit) -> None:
    small = fork_cost(kit, 200)
    large = fork_cost(kit, 2000)
    # The event records a reference, not the content (the 2,000 messages are 500 kB).
    assert small[2] < 2000 and abs(large[2] - small[2]) < 64, (small, large)
    # Parts: the dirty tail page(s), a group node, the root; rows: the fork's one, the
    # root's and the new group node's (one per page of its group: 4 and 32 here).
    assert small[0] < 20_000 and large[0] < 20_000, (small, large)
    assert small[1] < 100 and large[1] < 100, (small, large)
    # A fork of the fork: the same root, already held, so one row and no part.
    parts, _ = stored_parts(kit)
    rows = ref_rows(kit)
    second = new_agent("fork2")
    result = kit.restore.restore(large[3], Point.latest(), second)
    assert stored_parts(kit)[0] == parts and ref_rows(kit) == rows + 1
    kit.store.agent_cache = None
    assert result.content_hash == kit.hash(second) == kit.hash(large[3])
    assert kit.hash(second) == independent_hash(content_of(kit.store.context(second)))


def test_rewinds_and_forks_by_reference_keep_their_hashes(kit: Kit) -> None:
    agent = new_agent("rw")
    talk(kit, agent, 0, 260)
    past = kit.hash(agent, 130)
    rewind = kit.restore.restore(agent, Point.of_version(130), agent)
    assert rewind.content_hash == past == replayed_hash(kit, agent, 130)
    talk(kit, agent, 1000, 80)  # more on top of the rewound content, a snapshot among them
    kit.store.agent_cache = None
    assert kit.hash(agent) == replayed_hash(kit, agent)
    history = kit.store.history(agent, after_version=260, limit=1)
    assert history[0].data["content_hash"] == past
    # `comprehensive` folds the whole history (through the reference) and agrees.
    checked = kit.restore.state_at(agent, Point.latest(), "comprehensive")
    assert checked.content_hash == kit.hash(agent)
    # A checkpoint of the rewound agent, restored into a new agent by reference.
    cp = kit.checkpoints.capture(agent)
    fork = new_agent("cpfork")
    result = kit.restore.restore(None, Point.of_checkpoint(cp.package_id), fork)
    assert result.content_hash == cp.integrity_hash == kit.hash(fork)


def test_old_whole_snapshots_and_copied_restores_stay_readable(kit: Kit) -> None:
    keeper = kit.store.part_content
    kit.store.part_content = None  # as a release before parts wrote them
    try:
        agent = new_agent("old")
        talk(kit, agent, 0, 250)
        fork = new_agent("oldfork")
        kit.restore.restore(agent, Point.of_version(200), fork)
        assert last_event_bytes(kit, fork) > 5_000  # a copy of the content
    finally:
        kit.store.part_content = keeper
    kit.store.agent_cache = None
    assert kit.hash(agent) == replayed_hash(kit, agent)
    assert kit.hash(fork) == replayed_hash(kit, agent, 200)
    talk(kit, fork, 0, 120)  # new snapshots of the old fork are kept as parts
    kit.store.agent_cache = None
    assert kit.hash(fork) == replayed_hash(kit, fork)


def test_tenants_never_share_parts(kit: Kit) -> None:
    agent = new_agent("same")
    for tenant in ("t1", "t2"):
        talk(kit, agent, 0, 200, tenant=tenant)  # the same content, in both tenants
    one, two = stored_parts(kit, "t1"), stored_parts(kit, "t2")
    assert one[0] > 0 and one[0] == two[0]  # each tenant stored its own
    key = kit.store.key_for("t2", agent)
    fork = kit.store.key_for("t2", new_agent("f"))
    kit.restore.restore(key, Point.latest(), fork, tenant="t2")
    assert stored_parts(kit, "t1") == one and ref_rows(kit, "t1") > 0
    assert kit.hash(fork) == kit.hash(key)


def test_forgetting_a_source_leaves_its_forks_whole(kit: Kit) -> None:
    """`forget` (the command, as every door runs it) deletes the agent's own reference rows
    and releases what they led to; the fork's rows keep its content."""
    source = new_agent("gone")
    talk(kit, source, 0, 330)
    fork = new_agent("stays")
    kit.restore.restore(source, Point.latest(), fork)
    expected = kit.hash(fork)
    roots = kit.store.packages.package_parts(LOCAL_TENANT, [agent_owner(aggregate_id(source))])

    def forget(agent: str) -> int:
        result = kit.services.commands.forget(LOCAL, Forget(agent_id=agent, by="test"))
        return int(result.parts_released)

    held = stored_parts(kit)[0]
    released = forget(source)
    # Its snapshots' roots (at 100, 200, 300; the fork's is its content at 330, the fork's
    # own) went, and down their trees what only they reached: pages as they were then.
    assert len(roots) == 3 and released > 3
    assert stored_parts(kit)[0] == held - released
    assert not kit.store.packages.package_parts(LOCAL_TENANT,
                                                [agent_owner(aggregate_id(source))])
    kit.store.agent_cache = None
    state = kit.store.context(fork)
    assert state["content_hash"] == expected == independent_hash(content_of(state))
    # The fork forgotten too: nothing of either is left.
    forget(fork)
    assert stored_parts(kit) == (0, 0) and ref_rows(kit) == 0


def test_an_agent_whose_snapshot_parts_are_gone_is_folded_from_its_events(kit: Kit) -> None:
    """Snapshots are derived data: parts lost (a bug, a person) cost speed, not the agent."""
    agent = new_agent("lost")
    talk(kit, agent, 0, 230)
    expected = kit.hash(agent)
    drop_all_parts(kit)
    kit.store.agent_cache = None
    assert kit.store.context(agent)["content_hash"] == expected == replayed_hash(kit, agent)
    kit.store.record([msg(agent, "still writable")])
    assert kit.store.context(agent)["messages"][-1]["content"] == "still writable"


def drop_all_parts(kit: Kit) -> None:
    if kit.settings.bodies_in_files:
        for path in kit.store.part_content.parts.root.glob("*/*/*"):  # type: ignore[union-attr]
            path.unlink()
    else:
        kit.sql(f"DELETE FROM {kit.table('parts')}")


def test_a_tree_released_while_a_fork_relies_on_it_is_written_again(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forget's release in flight removes the source's tree just after the fork found its
    root held: `ensure` notices, and the fork writes the whole tree again. (Where the fork
    keeps releases out while it refers and puts, PostgreSQL's table, the next test.)"""
    source = new_agent("src")
    talk(kit, source, 0, 200)  # its latest content is its snapshot's: the root is held
    root = kit.hash(source).split(":")[1]
    keeper = kit.store.part_content
    assert keeper is not None
    guarded = getattr(keeper.parts, "guard", None) is not None
    if guarded:
        # A raw delete is no release: here it would not wait for the fork, as releases do.
        monkeypatch.setattr(keeper.parts, "guard", None)
    refer_then_held = keeper.parts.refer_then_held
    released: list[bool] = []

    def held_then_released(refs: Any, tenant: str, rows: Any, addresses: Any) -> set[str]:
        found = refer_then_held(refs, tenant, rows, addresses)
        if root in addresses and not released:
            released.append(True)
            drop_all_parts(kit)
        return found

    monkeypatch.setattr(keeper.parts, "refer_then_held", held_then_released)
    fork = new_agent("fork")
    kit.restore.restore(source, Point.latest(), fork)
    assert released
    kit.store.agent_cache = None
    assert kit.hash(fork) == replayed_hash(kit, source)


@pytest.mark.parametrize("backend", ["postgres"])  # the part table there keeps releases out
def test_a_release_waits_for_a_fork_that_refers_to_what_it_releases(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's part table: a fork holds the tenant's part lock shared while it refers to
    its content and puts what lacks, so a release (which holds it alone) started meanwhile
    waits, then finds the fork's rows and keeps the tree: nothing is ensured after."""
    keeper = kit.store.part_content
    assert keeper is not None and getattr(keeper.parts, "guard", None) is not None
    source = new_agent("src")
    talk(kit, source, 0, 200)
    root = kit.hash(source).split(":")[1]
    # The source's own reference to its root goes, as a forget's does: released now, the
    # tree would go with it, but for the fork's rows.
    kit.sql(f"DELETE FROM {kit.table('part_refs')} WHERE package_id = ?",
            (agent_owner(aggregate_id(source)),))
    release = ReleaseMeanwhile(kit, root)
    release.patch(monkeypatch)
    fork = new_agent("fork")
    kit.restore.restore(source, Point.latest(), fork)
    assert release.join() == []  # it found the fork's reference to the root: nothing released
    kit.store.agent_cache = None
    assert kit.hash(fork) == replayed_hash(kit, source)


def test_a_root_seen_held_is_asked_for_alone_and_the_rest_when_it_is_gone(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork of a held agent's latest version, whose root this process kept, refers to the
    root and asks for it alone (not for its children with their rows); when the root is gone
    behind the process's back, the same keep asks for the rest and writes the tree again."""
    keeper = kit.store.part_content
    assert keeper is not None
    source = new_agent("src")
    talk(kit, source, 0, 200)  # the snapshot at 200 kept the latest content's root
    asked: list[tuple[int, int]] = []
    refer_then_held = keeper.parts.refer_then_held

    def counted(refs: Any, tenant: str, rows: Any, addresses: Any) -> set[str]:
        asked.append((len(rows), len(addresses)))
        return refer_then_held(refs, tenant, rows, addresses)

    monkeypatch.setattr(keeper.parts, "refer_then_held", counted)
    kit.restore.restore(source, Point.latest(), new_agent("first"))
    assert asked == [(1, 1)]  # the fork's row to the root, and the root
    asked.clear()
    drop_all_parts(kit)
    second = new_agent("second")
    kit.restore.restore(source, Point.latest(), second)
    assert asked[0] == (1, 1) and asked[1][1] > 1  # then the root's children too
    assert stored_parts(kit)[0] > 5  # the tree, written again
    monkeypatch.setattr(keeper, "cache", None)  # read back from the store, not from memory
    kit.store.agent_cache = None
    assert kit.hash(second) == replayed_hash(kit, source)


def test_a_merge_records_a_reference_and_writes_what_it_adds(kit: Kit) -> None:
    target, source = new_agent("into"), new_agent("from")
    talk(kit, target, 0, 300)
    talk(kit, source, 5000, 40)
    parts, _ = stored_parts(kit)
    result = kit.restore.restore(source, Point.latest(), target, merge_strategy="merge")
    assert last_event_bytes(kit, target) < 2000  # not the 300 + 36 messages
    # The target's pages up to its last snapshot were held: the merge wrote its tail pages,
    # the changed memory buckets, their group nodes and the root
    assert stored_parts(kit)[0] - parts < 15  # (7; the whole merged content has ~33)
    kit.store.agent_cache = None
    state = kit.store.context(target)
    assert result.content_hash == state["content_hash"] == independent_hash(content_of(state))
    assert len(state["messages"]) == 270 + 36


@pytest.fixture
def decoded(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The stored bytes of each part the store decodes, and (as -1) each content copied: the
    real functions, counted."""
    keeper = kit.store.part_content
    assert keeper is not None
    seen: list[int] = []
    decode, copy = keeper._decode, aggregate.copy_content

    def counted_decode(stored: bytes) -> bytes:
        seen.append(len(stored))
        return decode(stored)

    def counted_copy(content: Any) -> Any:
        seen.append(-1)
        return copy(content)

    monkeypatch.setattr(keeper, "_decode", counted_decode)
    monkeypatch.setattr(aggregate, "copy_content", counted_copy)
    return seen


def test_a_fork_of_the_latest_version_decodes_and_copies_nothing(kit: Kit,
                                                                 decoded: list[int]) -> None:
    agent = new_agent("hot")
    talk(kit, agent, 0, 530)  # snapshots at 100 ... 500; a 30-event tail kept by no snapshot
    latest = kit.version(agent)
    state = kit.store.context(agent)  # the agent is now held folded (cached)
    decoded.clear()
    fork = new_agent("hot-fork")
    result = kit.restore.restore(agent, Point.latest(), fork)
    rewind = kit.restore.restore(agent, Point.of_version(latest), agent)
    assert decoded == []  # no part decoded, no content copied
    assert (result.base, result.mode, result.source_version) == ("latest", "fork", latest)
    assert rewind.mode == "rewind" and rewind.target_version == latest + 1
    assert result.content_hash == rewind.content_hash == state["content_hash"]
    assert result.restoration_details["target_holds"]["messages"] == len(state["messages"])
    assert result.validation_result["checked"][0].startswith(f"the latest version {latest}")
    # Both are held with their source's containers copied, never its items: what they take
    # next changes neither the source nor the other.
    assert content_of(kit.store.context(fork)) == content_of(state)
    assert decoded == []  # the held fork answered: no part decoded, its content not copied
    talk(kit, fork, 3000, 10)
    assert content_of(kit.store.context(agent)) == content_of(state)
    # Both read back through their reference (a read from the store decodes), with the same
    # hash by the client's rule, and the rewound agent keeps its sessions and takes events.
    kit.store.agent_cache = None
    assert content_of(kit.store.context(agent)) == content_of(state)
    assert decoded
    talk(kit, agent, 2000, 10)
    kit.store.agent_cache = None
    assert kit.hash(agent) == replayed_hash(kit, agent)
    assert kit.store.context(agent, version=latest + 1)["content_hash"] == state["content_hash"]
    assert independent_hash(content_of(kit.store.context(fork, version=1))) == state["content_hash"]
    # `comprehensive` and a past version still build the state (and say so).
    assert kit.restore.restore(agent, Point.latest(), new_agent("c"),
                               validation_level="comprehensive").base != "latest"
    assert kit.restore.restore(agent, Point.of_version(latest),
                               new_agent("p")).content_hash == state["content_hash"]


def test_a_fork_of_a_held_latest_version_asks_for_no_events_unless_others_wrote(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue row a restore reads names the latest version: a source held folded at
    it is forked as it is held, without asking for newer events; one that another process
    wrote to since is brought up to date first, and still forked as held."""
    source = new_agent("held")
    talk(kit, source, 0, 120)
    kit.store.context(source)  # held folded
    select_events = kit.store.recorder.select_events
    asked: list[Any] = []

    def counted(originator_id: Any, *args: Any, **kwargs: Any) -> Any:
        if originator_id == aggregate_id(source):
            asked.append(kwargs)
        return select_events(originator_id, *args, **kwargs)

    monkeypatch.setattr(kit.store.recorder, "select_events", counted)
    result = kit.restore.restore(source, Point.latest(), new_agent("quiet"))
    assert (result.base, asked) == ("latest", [])
    other = build_store(kit.settings)  # another process's store on the same database
    try:
        talk_to(other, source, 5000, 7)
    finally:
        other.close()
    result = kit.restore.restore(source, Point.latest(), new_agent("busy"))
    assert result.base == "latest" and result.source_version == 127
    assert [a.get("gt") for a in asked] == [120]  # the events after the held version
    kit.store.agent_cache = None
    assert result.content_hash == replayed_hash(kit, source)


def forge_part(kit: Kit, address: str, raw: bytes) -> None:
    """Put other content under a part's address (stored as the store stores parts)."""
    keeper = kit.store.part_content
    assert keeper is not None
    data = keeper._encode(raw)
    if kit.settings.bodies_in_files:
        path: Path = keeper.parts.path(LOCAL_TENANT, address)  # type: ignore[attr-defined]
        path.unlink()
        path.write_bytes(data)
    else:
        kit.sql(f"UPDATE {kit.table('parts')} SET data = ? WHERE address = ?", (data, address))


def test_comprehensive_validation_checks_each_part_against_its_address(kit: Kit) -> None:
    """Plain reads trust the part store as they trust the events (no SHA-256 of every part
    on the hot path); `comprehensive` hashes each part it reads and names a forged one."""
    agent = new_agent("forged")
    talk(kit, agent, 0, 230)  # a snapshot at 200 keeps messages 0..63 in page m0
    page = kit.store.agent_at(agent).part_hashes.leaves["m0"]
    forged = [dict(m, content="forged") for m in kit.store.context(agent)["messages"][:64]]
    forge_part(kit, page, canonical_json(forged))
    kit.store.agent_cache = None
    assert kit.store.context(agent, version=220)["messages"][0]["content"] == "forged"
    with pytest.raises(IntegrityMismatch, match=f"part {page} does not hold"):
        kit.restore.state_at(agent, Point.of_version(220), "comprehensive")
    with pytest.raises(IntegrityMismatch, match=f"part {page} does not hold"):
        kit.restore.restore(agent, Point.latest(), new_agent("f"),
                            validation_level="comprehensive")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])  # hybrid's parts are files
def test_a_tree_is_read_on_one_connection_one_query_per_level(
        kit: Kit, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One read scope a tree (SQLite: its read transaction; PostgreSQL: one connection and
    no transaction at all, whose BEGIN and COMMIT were two round trips of nothing)."""
    keeper = kit.store.part_content
    assert keeper is not None
    parts: Any = keeper.parts
    agent = new_agent("levels")
    talk(kit, agent, 0, 230)
    scopes: list[int] = []
    opened: list[int] = []
    selects: list[int] = []
    lookups, transaction = parts._lookups, parts.datastore.transaction
    select, content = parts._select, keeper.content

    def counted_lookups() -> Any:
        scopes.append(1)
        return lookups()

    def counted_transaction(**kwargs: Any) -> Any:
        opened.append(1)
        return transaction(**kwargs)

    def counted_select(*args: Any) -> Any:
        selects.append(1)
        return select(*args)

    def content_alone(ref: Any, tail: int | None = None) -> Any:
        scopes.clear()
        opened.clear()
        selects.clear()
        found = content(ref, tail)
        reads.append((len(scopes), len(opened), len(selects)))
        return found

    reads: list[tuple[int, int, int]] = []
    monkeypatch.setattr(parts, "_lookups", counted_lookups)
    monkeypatch.setattr(parts.datastore, "transaction", counted_transaction)
    monkeypatch.setattr(parts, "_select", counted_select)
    monkeypatch.setattr(keeper, "content", content_alone)
    monkeypatch.setattr(keeper, "cache", None)  # every read reads its parts
    kit.store.agent_cache = None
    assert kit.store.context(agent, version=220)["content_hash"] == kit.hash(agent, 220)
    # The root, then its group nodes and single parts, then the pages.
    transactions = 1 if backend == "sqlite" else 0
    assert reads and set(reads) == {(1, transactions, 3)}, reads


def test_a_window_of_the_held_latest_version_reads_no_part_and_copies_nothing(
        kit: Kit, decoded: list[int]) -> None:
    agent = new_agent("window")
    talk(kit, agent, 0, 530)
    latest = kit.version(agent)
    full = kit.store.context(agent)  # the agent is now held folded
    decoded.clear()
    for tail in (0, 1, 50, 10_000):
        assert kit.store.context(agent, version=latest, tail=tail) == tail_window(full, tail)
    window = kit.store.context(agent, tail=5)
    assert decoded == []  # no part decoded, the whole content never copied
    # The answer's containers are its own (its items are the agent's, which its readers
    # encode and never change): what a reader adds to it is not held.
    window["messages"].append({"role": "user", "content": "added"})
    window["memories"]["added"] = {"kind": "semantic", "content": "added"}
    window["sessions"].append({"session_id": "x"})
    assert kit.store.context(agent, tail=5) == tail_window(full, 5)
    # Another version is read as before (here through its snapshot's parts).
    past = kit.store.context(agent, version=latest - 40)
    assert kit.store.context(agent, version=latest - 40, tail=3) == tail_window(past, 3)
    assert decoded


def test_a_fork_by_reference_is_held_counted_as_its_source(kit: Kit) -> None:
    """The cache bounds agents by the stored bytes they were folded from: a fork holding
    megabytes from a 330-byte event would break that bound, so the restored agent is held
    counted as its source (its content is the source's at some version), or not held at all
    when the source is not. Held, it reads and takes events as one folded from the store."""
    agent = new_agent("past")
    talk(kit, agent, 0, 230)
    cache = kit.store.agent_cache
    assert cache is not None
    source_size = cache.size_of(aggregate_id(agent))
    assert source_size is not None and source_size > 10_000
    fork = new_agent("past-fork")
    result = kit.restore.restore(agent, Point.of_version(150), fork)
    assert result.base == "snapshot"
    assert cache.size_of(aggregate_id(fork)) == source_size + last_event_bytes(kit, fork)
    held = kit.store.context(fork)
    assert held["content_hash"] == result.content_hash == kit.hash(agent, 150)
    # Both a fork and a rewind take new events onto what they hold.
    rewind = kit.restore.restore(agent, Point.of_version(100), agent)
    talk(kit, fork, 1000, 7)
    talk(kit, agent, 2000, 7)
    held_fork, held_agent = kit.store.context(fork), kit.store.context(agent)
    assert rewind.mode == "rewind"
    kit.store.agent_cache = None  # what the store holds, folded afresh
    assert kit.store.context(fork) == held_fork
    assert kit.store.context(agent) == held_agent
    assert held_fork["content_hash"] == replayed_hash(kit, fork)
    assert held_agent["content_hash"] == replayed_hash(kit, agent)


def test_a_fork_of_a_source_not_held_is_not_held_either(kit: Kit) -> None:
    agent = new_agent("cold")
    talk(kit, agent, 0, 230)
    cache = kit.store.agent_cache
    assert cache is not None
    cache.evict(aggregate_id(agent))
    fork = new_agent("cold-fork")
    result = kit.restore.restore(agent, Point.of_version(150), fork)
    assert aggregate_id(fork) not in cache
    assert kit.hash(fork) == result.content_hash == kit.hash(agent, 150)


def test_channels_are_kept_by_snapshots_and_forks_as_parts(kit: Kit) -> None:
    """A framework's named values (the `channels` field, LangGraph's other channels) go into
    the tree's parts with the rest: read back from a snapshot, and through a fork's reference."""
    agent = new_agent("graph")
    kit.store.record([env(agent, "channels", {"values": {"counter": 7, "plan": {"steps": [1]}}})])
    talk(kit, agent, 0, 230)  # past two snapshots
    expected = kit.hash(agent)
    fork = new_agent("graph-fork")
    kit.restore.restore(agent, Point.latest(), fork)
    kit.store.agent_cache = None
    for name in (agent, fork):
        state = kit.store.context(name)
        assert state["channels"] == {"counter": 7, "plan": {"steps": [1]}}
        assert state["content_hash"] == expected == independent_hash(content_of(state))


def test_the_held_windows_index_follows_appends_results_and_restores(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A held agent's window through its index (every agent indexed here) is the rule's
    window of its whole state, as events, results and a rewind change it."""
    monkeypatch.setattr(store_reads, "WINDOW_INDEX_FROM", 1)
    agent = new_agent("indexed")

    def check() -> None:
        latest = kit.version(agent)
        full = kit.store.context(agent)
        for tail in (0, 1, 5, 40, 10_000):
            assert kit.store.context(agent, version=latest, tail=tail) == tail_window(full, tail)

    talk(kit, agent, 0, 120)
    check()
    calls = [env(agent, "tool_call", {"call_id": f"k{i}", "tool": "t", "arguments": {}})
             for i in range(6)]
    kit.store.record(calls)
    check()  # open calls belong
    kit.store.record([env(agent, "tool_result", {"call_id": "k1", "output": "done"}),
                      env(agent, "message", {"role": "tool", "content": "r",
                                             "tool_call_id": "k1"})])
    check()  # k1 closed in place, named by the window
    talk(kit, agent, 500, 60)
    check()  # k1 now named only before the window
    kit.restore.restore(agent, Point.of_version(100), agent)
    check()  # new lists: indexed afresh
    assert kit.store.window_indexes  # the index was used


def test_a_window_of_a_past_version_reads_its_snapshots_last_pages(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window at an earlier version reads its snapshot in part (its lists' last pages and
    the pages of the open calls the snapshot knows of) and folds the events after it: the
    rule's window of the whole state, from a few parts."""
    monkeypatch.setattr(store_reads, "WINDOW_IN_PART_FROM", 64)
    agent = new_agent("windows")
    kit.store.record([env(agent, "tool_call", {"call_id": "waiting", "tool": "t",
                                                "arguments": {}})])
    for i in range(150):  # calls answered at once: the open one is pages back
        kit.store.record([env(agent, "tool_call", {"call_id": f"done{i}", "tool": "t",
                                                    "arguments": {}}),
                          env(agent, "tool_result", {"call_id": f"done{i}", "output": "ok"})])
    talk(kit, agent, 0, 300)
    kit.store.record([env(agent, "tool_call", {"call_id": f"k{i}", "tool": "t",
                                                "arguments": {}}) for i in range(3)]
                     + [env(agent, "tool_result", {"call_id": "k1", "output": "done"}),
                        env(agent, "message", {"role": "tool", "content": "r",
                                               "tool_call_id": "k1"})])
    talk(kit, agent, 300, 200)
    kit.store.agent_cache = None  # nothing held: every read goes to the store
    keeper = kit.store.part_content
    assert keeper is not None and keeper.cache is not None
    for version in (150, 601, 605, 650, 720, 806):
        for tail in (0, 3, 50, 200):
            keeper.cache.clear()
            window = kit.store.context(agent, version=version, tail=tail)
            read_in_part = len(keeper.cache)
            keeper.cache.clear()
            whole = kit.store.context(agent, version=version)
            assert window == tail_window(whole, tail), (version, tail)
            assert window["tool_calls"][0]["call_id"] == "waiting"  # open since version 1
            if version > 600 and tail <= 50:  # its snapshot's lists span more pages than read
                assert read_in_part < len(keeper.cache), (version, tail)
    assert [c["call_id"] for c in kit.store.context(agent, version=605, tail=2)["tool_calls"]
            ] == ["waiting", "k0", "k1", "k2"]
    # A rewind replaces the content: versions after it, before the next snapshot, fold it
    # from its reference, and their windows are the whole state's all the same.
    kit.restore.restore(agent, Point.of_version(700), agent)
    rewound = kit.version(agent)
    talk(kit, agent, 500, 40)
    for version in (rewound, rewound + 1, rewound + 30):
        whole = kit.store.context(agent, version=version)
        for tail in (0, 5, 50):
            assert kit.store.context(agent, version=version, tail=tail) == tail_window(
                whole, tail), (version, tail)


def test_windows_of_a_restores_versions_before_the_next_snapshot_read_in_part(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork or a rewind by reference records where its content's open calls are beside the
    root it refers to: a window of a version folded from it, before the target's next
    snapshot, reads that content's last pages (and the open calls' pages), as from a
    snapshot, and is the rule's window of the whole state."""
    monkeypatch.setattr(store_reads, "WINDOW_IN_PART_FROM", 64)
    # The past version's source read in part too (its snapshot's last pages, and the pages
    # of the open calls it records, one of them pages back).
    monkeypatch.setattr(restore_module, "IN_PART", replace(restore_module.IN_PART,
                                                           from_items=64))
    agent = new_agent("source")
    kit.store.record([env(agent, "tool_call", {"call_id": "waiting", "tool": "t",
                                                "arguments": {}})])
    for i in range(150):
        kit.store.record([env(agent, "tool_call", {"call_id": f"done{i}", "tool": "t",
                                                    "arguments": {}}),
                          env(agent, "tool_result", {"call_id": f"done{i}", "output": "ok"})])
    talk(kit, agent, 0, 500)
    # A fork of a past version (its source read in part), one of the latest version (the
    # source as held), and a rewind; each target then talks on, not up to a snapshot.
    targets = []
    for source_version, target in ((605, new_agent("past")), (None, new_agent("latest")),
                                   (702, agent)):
        point = (Point.of_version(source_version) if source_version is not None
                 else Point.latest())
        result = kit.restore.restore(agent, point, target)
        talk(kit, target, 1000, 30)
        targets.append((target, result.target_version))
    kit.store.agent_cache = None  # nothing held: every read goes to the store
    keeper = kit.store.part_content
    assert keeper is not None and keeper.cache is not None
    for target, restored in targets:
        for version in (restored, restored + 1, restored + 29):
            assert kit.store.agent_at(target, version).open_calls() is not None, target
            for tail in (0, 3, 50):
                keeper.cache.clear()
                window = kit.store.context(target, version=version, tail=tail)
                read_in_part = len(keeper.cache)
                keeper.cache.clear()
                whole = kit.store.context(target, version=version)
                assert window == tail_window(whole, tail), (target, version, tail)
                assert window["tool_calls"][0]["call_id"] == "waiting"
                assert read_in_part < len(keeper.cache), (target, version, tail)


def test_a_window_of_the_latest_version_not_held_reads_in_part_and_holds_nothing(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first window read of an agent this process does not hold (a CLI call, a server
    just started) reads its latest version's snapshot in part, as a past version's, instead of
    folding its whole content to hold it."""
    monkeypatch.setattr(store_reads, "WINDOW_IN_PART_FROM", 64)
    agent = new_agent("not-held")
    kit.store.record([env(agent, "tool_call", {"call_id": "waiting", "tool": "t",
                                                "arguments": {}})])
    talk(kit, agent, 0, 530)  # a snapshot at 500, 31 events after it
    cache, keeper = kit.store.agent_cache, kit.store.part_content
    assert cache is not None and keeper is not None and keeper.cache is not None
    originator_id = aggregate_id(agent)
    for tail in (0, 3, 50):
        cache.evict(originator_id)
        keeper.cache.clear()
        window = kit.store.context(agent, tail=tail)
        read_in_part = len(keeper.cache)
        assert cache.get(originator_id) is None  # nothing held by the window's read
        keeper.cache.clear()
        whole = kit.store.context(agent)  # folded whole, and held from here on
        assert window == tail_window(whole, tail), tail
        assert window["version"] == kit.version(agent) == 531
        assert window["tool_calls"][0]["call_id"] == "waiting"
        assert read_in_part < len(keeper.cache), tail
        assert cache.get(originator_id) is not None
        assert kit.store.context(agent, tail=tail) == window  # now cut from the held agent


def test_a_history_shows_a_restores_hash_without_reading_its_content(kit: Kit) -> None:
    """A restore kept by reference is listed with its root as its content hash: listing a
    fork's or a rewind's history reads none of the parts of what it restored."""
    agent, fork = new_agent("listed"), new_agent("listed-fork")
    talk(kit, agent, 0, 150)
    forked = kit.restore.restore(agent, Point.of_version(120), fork)
    rewound = kit.restore.restore(agent, Point.of_version(60), agent)
    keeper = kit.store.part_content
    assert keeper is not None and keeper.cache is not None
    keeper.cache.clear()
    fork_items = kit.store.history(fork)
    agent_items = kit.store.history(agent, after_version=150)
    assert len(keeper.cache) == 0  # no part read
    assert [i.type for i in fork_items] == ["context_restored"]
    assert fork_items[0].data["content_hash"] == forked.content_hash
    assert fork_items[0].data["provenance"]["source_version"] == 120
    assert agent_items[-1].data["content_hash"] == rewound.content_hash
    # The same as the content's own hash, read back.
    assert kit.store.context(fork, version=1)["content_hash"] == forked.content_hash


def test_a_snapshots_open_calls_are_trusted_only_beside_the_root_they_were_found_in(
        kit: Kit) -> None:
    """Where a snapshot's open calls are is recorded with its content's root: a record beside
    another root (copied along by a release that did not know it) is not used."""
    agent = new_agent("open-calls")
    kit.store.record([env(agent, "tool_call", {"call_id": "w", "tool": "t", "arguments": {}})])
    talk(kit, agent, 0, 120)  # a snapshot at 100
    assert kit.store.snapshots is not None and kit.store.part_content is not None
    stored = kit.store.snapshots.recorder.select_events(aggregate_id(agent), desc=True,
                                                        limit=1)[0]

    def resolved(change: Callable[[dict[str, Any]], None]) -> Any:
        snapshot = kit.store.mapper.to_domain_event(stored)
        change(snapshot.state)
        assert kit.store.part_content is not None
        return kit.store.part_content.resolve_snapshot(snapshot).mutate(None)

    recorded = resolved(lambda state: None)
    assert recorded.open_calls() == OpenCalls(1, (0,), frozenset())
    assert recorded.content["tool_calls"][0]["call_id"] == "w"

    def elsewhere(state: dict[str, Any]) -> None:
        state[aggregate.OPEN_CALLS]["root"] = "0" * 64

    assert resolved(elsewhere).open_calls() is None
    assert resolved(lambda state: state.pop(aggregate.OPEN_CALLS)).open_calls() is None


def test_a_held_window_or_state_does_not_change_as_the_agent_folds_on(
        kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window or whole state of the agent the store holds shares its items, never its
    containers: what the agent folds afterwards (appends, a call closed, a memory updated,
    MCP state, a channel, a session) leaves an answer already handed out as it was."""
    monkeypatch.setattr(store_reads, "WINDOW_INDEX_FROM", 1)
    agent = new_agent("handed")
    kit.store.record([
        env(agent, "tool_call", {"call_id": "w", "tool": "t", "arguments": {}}),
        env(agent, "memory_stored", {"memory_id": "m", "kind": "semantic", "content": "a"}),
        env(agent, "mcp_state", {"server": "fs", "state": {"status": "up"}}),
        env(agent, "channels", {"values": {"plan": {"steps": [1]}}}),
        env(agent, "message", {"role": "user", "content": "hello"}, session="s1"),
        env(agent, "reasoning", {"thread_id": "t", "content": "r"})])
    for tail in (1, 50, None):
        window = kit.store.context(agent, tail=tail)
        before = canonical_json(window)
        kit.store.record([
            msg(agent, "more"),
            env(agent, "tool_result", {"call_id": "w", "output": "done"}),
            env(agent, "memory_updated", {"memory_id": "m", "content": "b"}),
            env(agent, "memory_stored", {"memory_id": f"n{tail}", "kind": "semantic",
                                         "content": "c"}),
            env(agent, "mcp_state", {"server": "fs", "state": {"status": "down"}}),
            env(agent, "channels", {"values": {"plan": None, "other": 2}}),
            env(agent, "memory_linked", {"source_id": "m", "target_id": f"n{tail}",
                                         "relation": "r"}),
            env(agent, "message", {"role": "user", "content": "on"}, session="s1"),
            env(agent, "reasoning", {"thread_id": "t", "content": "r2"})])
        assert canonical_json(window) == before
        assert kit.store.context(agent, tail=tail) != window  # the agent did fold on


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])  # hybrid's parts are files
def test_a_snapshot_lists_the_parts_it_wrote_that_a_read_fetches_with_its_root(
        kit: Kit, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot records beside its root the parts it wrote that a read of it in part (a
    fork's, a rewind's) fetches next, its new tops and last pages: a cold read fetches them
    with the root, in one query where it took three; a record that is wrong (an address not
    stored, or none; not a list) costs the read a query, never its content."""
    keeper = kit.store.part_content
    assert keeper is not None and kit.store.snapshots is not None
    parts: Any = keeper.parts
    agent = new_agent("listed")
    talk(kit, agent, 0, 230)  # snapshots at 100 (every part of it new) and 200
    cache = keeper.cache
    monkeypatch.setattr(keeper, "cache", None)  # every read reads its parts
    selects: list[int] = []
    select = parts._select

    def counted_select(*args: Any) -> Any:
        selects.append(1)
        return select(*args)

    monkeypatch.setattr(parts, "_select", counted_select)
    unchanged = object()
    # A fork's reading, from contents this small on (it reads bigger ones whole).
    in_part = replace(restore_module.IN_PART, from_items=64)

    def read(version: int, listed: Any = unchanged) -> tuple[Any, int, list[str]]:
        """The snapshot at `version` read as a fork reads it, and the queries it took."""
        assert kit.store.snapshots is not None and keeper is not None
        stored = kit.store.snapshots.recorder.select_events(aggregate_id(agent), lte=version,
                                                            desc=True, limit=1)[0]
        assert stored.originator_version == version
        snapshot = kit.store.mapper.to_domain_event(stored)
        ref = snapshot.state[aggregate.CONTENT_REF]
        recorded = ref.get(READ_WITH)
        if listed is not unchanged:
            ref[READ_WITH] = listed
        selects.clear()
        folded = keeper.resolve_snapshot(snapshot, in_part).mutate(None)
        return folded, len(selects), recorded

    for version in (100, 200):
        expected, queries, recorded = read(version)
        assert recorded, version
        assert expected.content_hash() == kit.hash(agent, version)
        for wrong in (None, "x", [7], ["not an address"], ["0" * 64], [*recorded, "f" * 64]):
            folded, queries, _ = read(version, wrong)
            assert folded.content == expected.content, (version, wrong)
            assert folded.content_hash() == expected.content_hash()
            # One query more where an address listed is not stored.
            assert queries == 3 + (wrong in (["0" * 64], [*recorded, "f" * 64])), (
                version, wrong, queries)
    # The first snapshot wrote every part: all that a read in part needs comes with the root.
    # The second wrote what changed: with the rest held (decoded) from a read of the first,
    # one query too.
    assert cache is not None
    monkeypatch.setattr(keeper, "cache", cache)
    cache.clear()
    assert [read(100)[1], read(200)[1]] == [1, 1]


