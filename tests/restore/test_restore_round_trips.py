"""What a restore asks the database, on every backend: its source's and target's catalogue
rows in one question (not again at the append), no checkpoint lookup when a snapshot lies
within the snapshot interval before the point; on PostgreSQL, the part rows of a keep sent in
pipeline mode, the snapshot, its chain link and the events after it in one statement, and an
operation's row as one statement. A restore's cost is mostly such round trips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.pq import PipelineStatus, TransactionStatus
from restore_support import Kit, msg, new_agent, snapshot_versions
from support import calls_of, count_round_trips

from ctxstore.application.commands import LOCAL, Caller, ReadContext
from ctxstore.application.commands.capture import Capture
from ctxstore.application.commands.forget import Forget
from ctxstore.application.commands.restore import Restore
from ctxstore.application.errors import AgentForgotten, AgentNotFound
from ctxstore.application.operation_log import OperationRecord
from ctxstore.domain.agent_id import LOCAL_TENANT, aggregate_id
from ctxstore.domain.points import Point
from ctxstore.infrastructure.persistence import part_table


def seeded(kit: Kit, n: int) -> str:
    agent = new_agent()
    kit.store.record([msg(agent, f"message {i}") for i in range(n)])
    return agent


def test_a_fork_and_a_rewind_read_the_rows_once(make_kit: Callable[..., Kit],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The source's and the target's catalogue rows in one question, with the rows of the
    point (PostgreSQL pipelines the two: one round trip), and the append asks for none
    again (SQLite, where a statement is no round trip, asks one by one)."""
    kit = make_kit()
    agent = seeded(kit, 12)
    postgres = kit.settings.engine == "postgres"
    with_point = calls_of(monkeypatch, kit.store.index, "agents_with_point")
    together = calls_of(monkeypatch, kit.store.index, "agents_of")
    alone = calls_of(monkeypatch, kit.store.index, "agent")
    points = calls_of(monkeypatch, kit.store.index, "point_rows")
    one_by_one = [] if postgres else [(agent,)]
    fork = new_agent("fork")
    result = kit.restore.restore(agent, Point.of_version(7), fork)
    assert with_point == [([agent, fork], aggregate_id(agent), 7)]
    if postgres:
        assert together == alone == points == []
    else:  # the port's: the rows one after the other, and the point's asked apart after
        assert together == [([agent, fork],)] and alone == [(agent,), (fork,)]
        assert points == [(aggregate_id(agent), 7)]
    assert result.content_hash == kit.hash(agent, 7) == kit.hash(fork)
    for calls in (with_point, together, alone, points):
        calls.clear()
    result = kit.restore.restore(agent, Point.of_version(3))
    assert with_point == [([agent], aggregate_id(agent), 3)]  # a rewind: one row
    assert (together, alone) == (([], []) if postgres else ([([agent],)], one_by_one))
    assert result.mode == "rewind" and kit.hash(agent) == kit.hash(agent, 3)
    for calls in (with_point, together, alone, points):
        calls.clear()
    # Of the latest version: no point's rows (the agent as the store holds it).
    kit.restore.restore(agent, Point.latest(), new_agent("latest"))
    assert with_point == points == [] and len(together) == 1


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_rows_and_the_points_rows_are_one_round_trip(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalogue rows (with tombstones, for a command) and a point's rows, pipelined: one
    wait on the server, and what each read asked apart gives."""
    kit = make_kit()
    agent = seeded(kit, 12)
    gone = seeded(kit, 3)
    kit.services.commands.forget(LOCAL, Forget(agent_id=gone, by="test"))
    keys = [agent, gone, "never-written"]
    index = kit.store.index
    apart = (index.agents_of(keys), index.point_rows(aggregate_id(agent), 8))
    stones_apart = kit.store.rows_and_tombstones(LOCAL_TENANT, keys)
    waits = count_round_trips(monkeypatch)
    with kit.store.one_connection.scope():
        assert index.agents_with_point(keys, aggregate_id(agent), 8) == apart
        assert waits == ["sync"]
        waits.clear()
        rows, stones, point = kit.store.rows_tombstones_and_point(LOCAL_TENANT, keys,
                                                                  (agent, 8))
        assert waits == ["sync"]
    assert (rows, stones) == stones_apart and point == apart[1]
    assert set(stones) == {gone} and rows[agent] is not None and point is not None
    assert (point.after, [e.originator_version for e in point.events]) == (5, [6, 7, 8])


def test_a_fork_command_reads_the_rows_once_for_its_checks_and_the_restore(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """The command every door runs checks it may write the target and read the source on
    their rows asked together, and hands them to the restore, which asks neither again (it
    asked the target's owner, the source's row, then both: three questions a fork). A new
    target's tombstone is asked with the rows on PostgreSQL (one question), after them
    elsewhere; a rewind's and a fork's answers are the same."""
    kit = make_kit()
    agent = seeded(kit, 12)
    postgres = kit.settings.engine == "postgres"
    together = calls_of(monkeypatch, kit.store.index, "agents_of")
    alone = calls_of(monkeypatch, kit.store.index, "agent")
    stones = calls_of(monkeypatch, kit.store.eraser, "tombstones")
    with_stones = (calls_of(monkeypatch, kit.store.index, "agents_tombstones_and_point")
                   if postgres else [])
    points = calls_of(monkeypatch, kit.store.index, "point_rows")
    fork = new_agent("fork")
    result = kit.services.commands.restore(LOCAL, Restore(source_agent_id=agent, version=7,
                                                          target_agent_id=fork))
    if postgres:  # with the point's rows, pipelined
        assert with_stones == [(LOCAL_TENANT, [fork, agent], (aggregate_id(agent), 7))]
        assert together == [] and stones == [] and alone == [] and points == []
    else:
        assert together == [([fork, agent],)] and alone == [(fork,), (agent,)]
        assert len(stones) == 1  # a new target: was it forgotten?
    assert result.content_hash == kit.hash(agent, 7) == kit.hash(fork)
    together.clear()
    alone.clear()
    with_stones.clear()
    result = kit.services.commands.restore(LOCAL, Restore(source_agent_id=agent, version=3))
    assert (with_stones if postgres else together) == (
        [(LOCAL_TENANT, [agent], (aggregate_id(agent), 3))] if postgres else [([agent],)])
    assert result.mode == "rewind" and kit.hash(agent) == kit.hash(agent, 3)


def test_a_fork_command_into_a_forgotten_agent_is_refused_by_the_rows_question(
        make_kit: Callable[..., Kit]) -> None:
    """The tombstone that comes with the rows (PostgreSQL) or after them refuses a forgotten
    target, as the separate question did; a forgotten source is not found; another tenant's
    tombstone of the same id stops nobody."""
    kit = make_kit()
    agent = seeded(kit, 12)
    gone = seeded(kit, 3)
    kit.services.commands.forget(LOCAL, Forget(agent_id=gone, by="test"))
    keys = [kit.store.key_for(LOCAL_TENANT, a) for a in (gone, agent, "never-written")]
    rows, stones = kit.store.rows_and_tombstones(LOCAL_TENANT, keys)
    assert rows[keys[0]] is None and rows[keys[2]] is None
    assert rows[keys[1]] is not None and rows[keys[1]].version == 12
    assert list(stones) == [keys[0]] and stones[keys[0]].forgotten_by == "test"
    assert kit.store.rows_and_tombstones("other-tenant", keys)[1] == {}
    with pytest.raises(AgentForgotten):
        kit.services.commands.restore(LOCAL, Restore(source_agent_id=agent, version=5,
                                                     target_agent_id=gone))
    with pytest.raises(AgentNotFound):
        kit.services.commands.restore(LOCAL, Restore(source_agent_id=gone, version=1,
                                                     target_agent_id=new_agent("fork")))
    other = Caller(tenant="other-tenant", keyed=True)
    mine = seeded_as(kit, other, 4)
    fork = kit.services.commands.restore(other, Restore(source_agent_id=mine, version=2,
                                                        target_agent_id=gone))
    assert fork.content_hash == kit.services.commands.read(
        other, ReadContext(agent_id=gone))["content_hash"]
    result = kit.services.commands.restore(LOCAL, Restore(source_agent_id=agent, version=5,
                                                          target_agent_id=new_agent("fork")))
    assert result.content_hash == kit.hash(agent, 5)


def seeded_as(kit: Kit, caller: Caller, n: int) -> str:
    agent = new_agent()
    outcomes = kit.services.commands.record_parsed(
        caller, [msg(agent, f"message {i}") for i in range(n)])
    assert all(o.status == "recorded" for o in outcomes)
    return agent


def test_a_capture_command_reads_the_agents_row_once(make_kit: Callable[..., Kit],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The command checks the caller may read the agent on its row and hands it to the
    capture, which asked for it again; one it may not read is still not found."""
    kit = make_kit()
    agent = seeded(kit, 12)
    alone = calls_of(monkeypatch, kit.store.index, "agent")
    checkpoint = kit.services.commands.capture(LOCAL, Capture(agent_id=agent, label="once"))
    assert alone == [(agent,)]
    assert checkpoint.version == 12 and checkpoint.agent_id == agent
    with pytest.raises(AgentNotFound):
        kit.services.commands.capture(LOCAL, Capture(agent_id=new_agent("none")))


def test_a_target_written_after_its_row_was_read_is_restored_on_the_retry(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """The row read says "no such agent"; another writer creates it before the append: the
    append fails as any write after another's, and the retry restores into the agent as it
    now is (its first event kept)."""
    kit = make_kit()
    agent = seeded(kit, 12)
    fork = new_agent("raced")
    real = kit.restore._target_row
    raced: list[Any] = []

    def read_then_race(target_id: str, rows: dict[str, Any]) -> Any:
        row = real(target_id, rows)
        if not raced:
            raced.append(row)
            kit.store.record([msg(fork, "written meanwhile")])
        return row

    monkeypatch.setattr(kit.restore, "_target_row", read_then_race)
    result = kit.restore.restore(agent, Point.of_version(7), fork)
    assert raced == [None]
    assert (result.mode, result.target_version) == ("into_existing", 2)
    assert kit.hash(fork) == kit.hash(agent, 7)
    first = kit.store.context(fork, version=1)
    assert [m["content"] for m in first["messages"]] == ["written meanwhile"]


def test_a_snapshot_near_the_point_spares_the_checkpoint_lookup(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    kit = make_kit()  # a snapshot every 5 events
    agent = seeded(kit, 8)
    checkpoint = kit.checkpoints.capture(agent)  # of version 8; its event is 9
    kit.store.record([msg(agent, f"later {i}") for i in range(6)])  # up to 15
    snapshots = snapshot_versions(kit, agent)
    assert snapshots == [5, 10, 15]
    asked = calls_of(monkeypatch, kit.checkpoints.packages, "select_packages")
    near = kit.restore.state_at(agent, Point.of_version(12))
    assert (near.base, near.base_version, near.events_replayed) == ("snapshot", 10, 2)
    assert asked == []
    assert near.content_hash == kit.hash(agent, 12)
    # Before the first snapshot: the checkpoint is looked for, and is the base.
    early = kit.restore.state_at(agent, Point.of_version(4))
    assert (early.base, len(asked)) == ("events", 1)
    # A snapshot further back than the interval (the nearer one gone: snapshots are derived
    # data): the checkpoint after it is looked for and used.
    kit.sql(f"DELETE FROM {kit.table('snapshots')} WHERE originator_id = ? "
            "AND originator_version = 10", (kit.uuid_param(aggregate_id(agent)),))
    far = kit.restore.state_at(agent, Point.of_version(14))
    assert (far.base, far.base_version, far.checkpoint_id) == ("checkpoint", 8,
                                                               checkpoint.package_id)
    assert far.events_replayed == 6 and len(asked) == 2
    assert far.content_hash == kit.hash(agent, 14)


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_keep_sends_its_part_rows_in_pipeline_mode(make_kit: Callable[..., Kit],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock, the reference rows, the question which parts are held and the parts go
    together, not a round trip each; the server still runs them in order."""
    kit = make_kit()
    agent = seeded(kit, 12)
    parts = kit.store.part_content.parts  # type: ignore[union-attr]
    statuses: list[PipelineStatus] = []
    real = parts.guard

    def guard(curs: Any, tenant: str) -> None:
        statuses.append(curs.connection.pgconn.pipeline_status)
        real(curs, tenant)

    monkeypatch.setattr(parts, "guard", guard)
    for version, target in [(7, new_agent("fork")), (12, new_agent("latest")), (3, agent)]:
        result = kit.restore.restore(agent, Point.of_version(version), target)
        assert kit.hash(target) == result.content_hash
    assert statuses and set(statuses) == {PipelineStatus.ON}
    assert kit.hash(agent) == kit.hash(agent, 3)


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_keep_is_its_guard_a_statement_a_level_and_one_for_its_parts(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork's keep sends the guard (which also lets its commit not wait for the disk), one
    statement a level for its reference rows and its question, and one for all its parts:
    each statement of the pipeline was ~50 µs of client CPU, and a keep sent 13. It waits on
    the server once a level (its answer) and once for the commit: BEGIN goes with the first
    level, COMMIT with the Sync (psycopg's transaction() in a pipeline waited three times
    more: a Sync after BEGIN and one at each of its nested pipelines' exits)."""
    kit = make_kit()  # a snapshot every 5 events
    agent = seeded(kit, 12)
    keeper = kit.store.part_content
    assert keeper is not None
    sent: list[tuple[str, str]] = []
    waits = count_round_trips(monkeypatch)

    def recorded(name: str) -> Callable[..., Any]:
        real = getattr(psycopg.Cursor, name)

        def recording(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            text = query if isinstance(query, str | bytes) else query.as_string(self)
            sent.append((name, text.decode() if isinstance(text, bytes) else text))
            return real(self, query, *args, **kwargs)
        return recording

    for name in ("execute", "executemany"):
        monkeypatch.setattr(psycopg.Cursor, name, recorded(name))
    keeps: list[list[tuple[str, str]]] = []
    keep = keeper.keep

    keep_waits: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        sent.clear()
        waits.clear()
        kept = keep(*args, **kwargs)
        assert kept.parts >= 3  # a root, a group node, a page: two levels and a put
        keeps.append(list(sent))
        keep_waits.append(len(waits))
        return kept

    monkeypatch.setattr(keeper, "keep", counted)
    fork = new_agent("fork")
    result = kit.restore.restore(agent, Point.of_version(7), fork)  # snapshot 5, 2 events
    assert kit.hash(fork) == result.content_hash == kit.hash(agent, 7)
    [statements] = keeps
    assert [name for name, _ in statements] == ["execute"] * 6, statements
    begin, guard, *levels, put, commit = (text for _, text in statements)
    assert (begin, commit) == ("BEGIN", "COMMIT")
    assert keep_waits == [len(levels) + 1], waits
    assert "pg_advisory_xact_lock_shared" in guard and "synchronous_commit" in guard
    assert all(t.startswith("WITH r AS (INSERT INTO") and "_part_refs" in t for t in levels)
    assert "INSERT INTO" in put and "unnest(" in put and "_parts" in put
    # An array is one value, bounded by PostgreSQL: parts past a statement's bytes go on in
    # the next statement.
    monkeypatch.setattr(part_table, "_PUT_BYTES", 1)  # each part alone
    written: list[int] = []
    counted_keep = keeper.keep

    def written_too(*args: Any, **kwargs: Any) -> Any:
        kept = counted_keep(*args, **kwargs)
        written.append(kept.parts)
        return kept

    monkeypatch.setattr(keeper, "keep", written_too)
    apart = new_agent("apart")
    result = kit.restore.restore(agent, Point.of_version(8), apart)
    assert kit.hash(apart) == result.content_hash == kit.hash(agent, 8)
    puts = [text for _, text in keeps[-1] if text.startswith("INSERT INTO") and "unnest(" in text
            and "_part_refs" not in text]
    assert written[0] >= 3 and len(puts) == written[0]


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_captures_part_references_go_in_one_statement(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint refers to each of its parts (~1,200 at 10k real-trace events, ~7,400 at
    100k): the rows go in one statement of three arrays, where they went a statement each,
    and are the parts the package names, each once."""
    kit = make_kit(compression_strategy="semantic")
    agent = new_agent()
    # Messages past MIN_PIECE_BYTES: each a piece of the package, a part of its own.
    kit.store.record([msg(agent, f"message {i} " + "long " * 120) for i in range(12)])
    recorder = kit.store.recorder
    rows = calls_of(monkeypatch, type(recorder), "_insert_rows")
    inserts: list[str] = []
    execute = psycopg.Cursor.execute

    def watched(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query if isinstance(query, str | bytes) else query.as_string(self)
        text = text.decode() if isinstance(text, bytes) else text
        if text.startswith("INSERT INTO") and "_part_refs" in text:
            inserts.append(text)
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", watched)
    many = calls_of(monkeypatch, psycopg.Cursor, "executemany")
    checkpoint = kit.services.checkpoints.capture(agent, label="refs")
    [(_, _, [row])] = [call for call in rows if call[2]]
    assert len(set(row.parts)) > 3, row.parts
    assert len(inserts) == 1 and "unnest(" in inserts[0] and not many, (inserts, many)
    assert recorder.package_parts(LOCAL_TENANT, [checkpoint.package_id]) == set(row.parts)


@pytest.mark.parametrize("backend", ["postgres"])
def test_an_operation_row_commits_without_waiting_for_the_disk(
        make_kit: Callable[..., Kit]) -> None:
    """The row's transaction commits asynchronously (persistence.async_commit: seen by a
    trigger as it runs) and the connection goes back committing synchronously. The row and
    the setting are one statement, prepared: parsed and planned once per connection."""
    kit = make_kit()
    datastore = kit.store.factory.datastore  # type: ignore[attr-defined]
    schema = datastore.schema
    with datastore.transaction(commit=True) as curs:
        curs.execute(f'CREATE TABLE "{schema}".seen (setting text)')
        curs.execute(f'CREATE FUNCTION "{schema}".seen() RETURNS trigger LANGUAGE plpgsql AS '
                     f'$$ BEGIN INSERT INTO "{schema}".seen '
                     "VALUES (current_setting('synchronous_commit')); RETURN NEW; END $$")
        curs.execute(f'CREATE TRIGGER seen AFTER INSERT ON "{schema}".ctxstore_operations '
                     f'FOR EACH ROW EXECUTE FUNCTION "{schema}".seen()')
    with kit.store.one_connection.scope():  # the row's connection, asked again after
        kit.store.operations.record_operation(OperationRecord(
            operation="restore", outcome="succeeded", tenant="local", agent_id="a",
            automatic=False, recorded_us=1, duration_ms=2.5))
        with datastore.transaction(commit=True) as curs:
            curs.execute("SELECT current_setting('synchronous_commit') AS s")
            after = curs.fetchone()["s"]
            curs.execute(f'SELECT setting FROM "{schema}".seen')
            seen = [r["setting"] for r in curs.fetchall()]
            curs.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [r["statement"] for r in curs.fetchall()]
    assert seen == ["off"] and after == "on"
    assert [p for p in prepared if "ctxstore_operations" in p and p.startswith("INSERT")]
    groups = kit.store.operations.operation_groups("local")
    assert [(g.operation, g.outcome, g.count, g.duration_ms) for g in groups] == [
        ("restore", "succeeded", 1, 2.5)]


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_read_and_a_restore_at_a_version_ask_one_question(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """The latest snapshot at the version, the chain's link at that snapshot and the events
    after it come in one statement (they were three), and give what a fold of every event
    gives."""
    kit = make_kit()  # a snapshot every 5 events
    agent = seeded(kit, 12)
    assert kit.store.snapshots is not None
    apart = [calls_of(monkeypatch, kit.store.snapshots.recorder, "select_events"),
             calls_of(monkeypatch, kit.store.index, "select_events"),
             calls_of(monkeypatch, kit.store.chain_index, "chain_links")]
    together = calls_of(monkeypatch, kit.store.index, "point_rows")
    with_rows = calls_of(monkeypatch, kit.store.index, "agents_with_point")
    read = kit.store.context(agent, version=7)
    fork = new_agent("fork")
    result = kit.restore.restore(agent, Point.of_version(8), fork)
    # The fork's, with its catalogue rows (on SQLite the port's default asks it after them).
    assert [args[1] for args in together] == ([7] if kit.settings.engine == "postgres"
                                              else [7, 8])
    assert [args[2] for args in with_rows] == [8] and apart == [[], [], []]
    assert (result.base, result.base_version, result.events_replayed) == ("snapshot", 5, 3)
    for version, content_hash in ((7, read["content_hash"]), (8, result.content_hash)):
        folded, _ = kit.store.replay(agent, None, upto=version)  # every event, asked apart
        assert folded is not None and folded.content_hash() == content_hash
    assert kit.hash(fork) == result.content_hash


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_statement_failing_in_a_keeps_pipeline_fails_it_and_the_next_keep_goes_through(
        make_kit: Callable[..., Kit]) -> None:
    """A pipeline reports a failed statement at the next result read: the keep raises there,
    its transaction is rolled back, and the connection serves the next command."""
    kit = make_kit()
    agent = seeded(kit, 12)
    keeper = kit.store.part_content
    assert keeper is not None
    parts = keeper.parts
    with kit.store.one_connection.scope():
        with pytest.raises(Exception, match="division by zero"), \
                parts.referring(LOCAL_TENANT):
            parts._referrer.curs.execute("SELECT 1/0")  # type: ignore[attr-defined]
            parts.refer_then_held(keeper.refs, LOCAL_TENANT, [], ["0" * 64])
        fork = new_agent("after")
        result = kit.restore.restore(agent, Point.of_version(7), fork)
    assert kit.hash(fork) == result.content_hash == kit.hash(agent, 7)


_SETTINGS = ("SELECT current_setting('synchronous_commit') AS s, "
             "current_setting('plan_cache_mode') AS p")


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_forks_keep_commits_without_waiting_for_the_disk_and_only_it(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """The keep's transaction sets synchronous_commit off for itself alone (what refers to
    its rows commits after it, synchronously: persistence.async_commit), and runs its
    prepared statements' generic plans (part_lock.GENERIC_PLANS); the connection goes back
    to the pool committing synchronously, as the fork's event does, and planning as before."""
    kit = make_kit()
    agent = seeded(kit, 12)
    keeper = kit.store.part_content
    assert keeper is not None
    parts = keeper.parts
    guard = parts.guard
    assert guard is not None
    inside: list[tuple[str, str]] = []

    def watching(curs: Any, tenant: str) -> None:
        curs.execute(_SETTINGS)
        inside.append(tuple(curs.fetchone().values()))
        guard(curs, tenant)  # says so in its statement
        curs.execute(_SETTINGS)
        inside.append(tuple(curs.fetchone().values()))

    monkeypatch.setattr(parts, "guard", watching)
    datastore = kit.store.factory.datastore  # type: ignore[attr-defined]
    with kit.store.one_connection.scope():  # the keep's connection, asked again after
        fork = new_agent("fork")
        result = kit.restore.restore(agent, Point.of_version(7), fork)
        with datastore.transaction(commit=True) as curs:
            curs.execute(_SETTINGS)
            after = tuple(curs.fetchone().values())
    assert inside == [("on", "auto"), ("off", "force_generic_plan")]
    assert after == ("on", "auto")
    assert kit.hash(fork) == result.content_hash == kit.hash(agent, 7)


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_questions_about_forgotten_agents_are_one_statement_outside_a_transaction(
        make_kit: Callable[..., Kit], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork command asks whether its new target was forgotten, a write of new agents
    whether they and their event ids were: one statement each, on a connection in no
    transaction (BEGIN and ROLLBACK around a single read were two round trips more)."""
    kit = make_kit()
    agent = seeded(kit, 12)
    asked: list[tuple[str, TransactionStatus]] = []
    real = psycopg.Cursor.execute

    def noting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query if isinstance(query, str | bytes) else query.as_string(self)
        text = text.decode() if isinstance(text, bytes) else text
        if "_tombstones" in text and text.lstrip().upper().startswith("SELECT"):
            asked.append((text, self.connection.info.transaction_status))
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", noting)
    fork = new_agent("fork")
    result = kit.services.commands.restore(LOCAL, Restore(source_agent_id=agent, version=7,
                                                          target_agent_id=fork))
    assert result.content_hash == kit.hash(agent, 7)
    kit.store.record([msg(new_agent("new"), "hello")])
    assert len(asked) == 2, asked  # the fork's target, then the new agent of the write
    assert {status for _, status in asked} == {TransactionStatus.IDLE}, asked
