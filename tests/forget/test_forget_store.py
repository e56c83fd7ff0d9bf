"""Forgetting an agent in the store: every row goes (the raw files hold no canary afterwards,
encryption on or off), forks keep their content and the parts they share, and a writer whose
cache still held the agent cannot bring it back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from support import make_settings

from ctxstore.application.commands import LOCAL, Forget
from ctxstore.application.errors import AgentForgotten
from ctxstore.domain.events import AnyEnvelope, make_envelope
from ctxstore.domain.pages import GROWING_PAGES, RECENT_PARTS, remember_page
from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import bootstrap, build_views, memory_services
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.infrastructure.settings import Settings
from ctxstore.projections.search import BlindIndex
from devtools.services import ensure_postgres, free_port


def envelope(agent: str, type_: str, data: dict[str, object]) -> AnyEnvelope:
    return make_envelope(agent, type_, data, event_id=str(uuid.uuid4()))


def plant(services: Services, agent: str, canary: str) -> None:
    """The canary in a message, a memory and a tool's output; checkpointed and indexed."""
    services.store.record([
        envelope(agent, "message", {"role": "system", "content": "You are a helpful agent."}),
        envelope(agent, "message", {"role": "user", "content": f"my password is {canary}"}),
        envelope(agent, "memory_stored", {"memory_id": "m1", "kind": "semantic",
                                          "content": f"the user's password: {canary}"}),
        envelope(agent, "tool_call", {"call_id": "c1", "tool": "vault",
                                      "arguments": {"q": "password"}}),
        envelope(agent, "tool_result", {"call_id": "c1", "output": {"secret": canary}}),
    ])
    services.checkpoints.capture(agent, label="with the canary")


def project(settings: Settings, services: Services) -> None:
    views = build_views(settings)
    try:
        ProjectionWorker(services.store, views).run_once()
    finally:
        views.factory.close()  # type: ignore[attr-defined]


def raw_bytes(settings: Settings) -> bytes:
    """Every file under CONTEXT_STORAGE_PATH (the SQLite file, its WAL, part files), and for
    PostgreSQL every row of every table of the store's schema as text."""
    found = b"".join(p.read_bytes() for p in sorted(settings.storage_path.rglob("*"))
                     if p.is_file())
    if settings.engine == "postgres":
        with psycopg.connect(settings.database_url) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (settings.database_schema,))]
            for t in tables:
                rows = conn.execute(f'SELECT t::text FROM "{settings.database_schema}"."{t}" t'
                                    ).fetchall()
                found += str(rows).encode()
    return found.lower()


def traces(settings: Settings, canary: str) -> list[bytes]:
    """What of the canary a store may hold: the word, and its blind search token."""
    marks = [canary.lower().encode()]
    if settings.encryption_key is not None:
        key = settings.encryption_key.get_secret_value().encode()
        marks.append(BlindIndex(key).token(canary).lower().encode())
    return marks


SCENARIOS = [("sqlite", False), ("sqlite", True), ("hybrid", False), ("hybrid", True)]


@pytest.fixture(params=SCENARIOS, ids=[f"{b}-{'encrypted' if e else 'plain'}"
                                       for b, e in SCENARIOS])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    backend, encrypted = request.param
    dsn = request.getfixturevalue("postgres_dsn") if backend == "hybrid" else None
    extra = {"encryption_enabled": True, "encryption_key": AESCipher.create_key(32)
             } if encrypted else {}
    return make_settings(backend, tmp_path, dsn, nats_url="nats://127.0.0.1:1", **extra)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = bootstrap(settings)
    yield services
    services.close()


def test_no_canary_is_left_anywhere(settings: Settings, services: Services) -> None:
    canary = f"canary{uuid.uuid4().hex[:12]}"
    plant(services, "leaky", canary)
    plant(services, "keeper", "nothing-to-hide")  # shares pages, parts and files with it
    project(settings, services)
    before = raw_bytes(settings)
    marks = traces(settings, canary)
    # The scan can see it: in plain text (the search index) or as its blind token.
    assert any(m in before for m in marks), "the canary is not where the scan looks"
    services.store.context("leaky")  # hashed: its parts' bytes held a while (RECENT_PARTS)
    assert len(RECENT_PARTS) > 0
    # And its last pages', which appends grow (GROWING_PAGES).
    remember_page("0" * 64, b'[{"c":"' + canary.encode() + b'"}]', [{"c": canary}])
    assert len(GROWING_PAGES) > 0
    result = services.commands.forget(LOCAL, Forget(agent_id="leaky", by="test"))
    assert len(RECENT_PARTS) == len(GROWING_PAGES) == 0  # nor in this process's memory
    assert (result.events, result.checkpoints) == (6, 1) and result.view_rows > 0
    assert result.stream_messages is None and result.purge_error  # no NATS there
    services.close()
    after = raw_bytes(settings)
    for mark in marks:
        assert mark not in after, f"{mark!r} is still stored"
    assert b"nothing-to-hide" in after or settings.encryption_key is not None


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "hybrid"])
def test_a_fork_keeps_its_content_and_shared_parts(backend: str, tmp_path: Path,
                                                    request: pytest.FixtureRequest) -> None:
    dsn = request.getfixturevalue("postgres_dsn") if backend != "sqlite" else None
    # `semantic` keeps repeated pieces (the system prompt, tool output) as shared parts.
    services = bootstrap(make_settings(backend, tmp_path, dsn, compression_strategy="semantic"))
    try:
        plant(services, "source", "shared secret")
        services.restore.restore("source", Point.latest(), "fork")
        fork_checkpoint = services.checkpoints.capture("fork", label="fork's own")
        before = services.store.context("fork")["content_hash"]
        services.commands.forget(LOCAL, Forget(agent_id="source", by="test"))
        assert services.store.context("fork")["content_hash"] == before
        services.restore.restore("fork", Point.of_checkpoint(fork_checkpoint.package_id),
                                 "from-fork")
        assert services.store.context("from-fork")["content_hash"] == before
        with pytest.raises(AgentForgotten):
            services.restore.restore("fork", Point.latest(), "source")
    finally:
        services.close()


def test_a_writer_holding_the_forgotten_agent_cannot_bring_it_back(
        tmp_path: Path, postgres_dsn: str) -> None:
    settings = make_settings("postgres", tmp_path, postgres_dsn)
    writer, forgetter = bootstrap(settings), bootstrap(settings)
    try:
        writer.store.record([envelope("bot", "message", {"role": "user", "content": "hi"})])
        assert writer.store.context("bot")["version"] == 1  # cached there
        forgetter.commands.forget(LOCAL, Forget(agent_id="bot", by="test"))
        late = writer.store.record([envelope("bot", "message",
                                             {"role": "user", "content": "again"})])
        (outcome,) = late.outcomes
        assert outcome.status == "rejected" and outcome.forgotten and "forgotten" in str(
            outcome.reason)
        assert forgetter.store.summary("bot") is None and writer.store.summary("bot") is None
    finally:
        writer.close()
        forgetter.close()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_no_canary_is_left_in_postgresql_files(tmp_path: Path, encrypted: bool) -> None:
    """A PostgreSQL of the test's own, so its data directory can be read: after the forget
    (its VACUUM and search index rebuild) and a CHECKPOINT, no file holds the canary. The WAL
    holds it until its segment goes: without recycling (`wal_recycle = off`, as the README
    tells an operator) it goes at the checkpoint after a segment switch."""
    # In a temporary directory of its own: the server's user cannot enter pytest's tmp_path.
    pg = ensure_postgres(f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    try:
        assert pg.data_dir is not None
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET wal_recycle = off")
            conn.execute("SELECT pg_reload_conf()")
        extra = {"encryption_enabled": True, "encryption_key": AESCipher.create_key(32)
                 } if encrypted else {}
        settings = make_settings("postgres", tmp_path, pg.dsn, nats_url="nats://127.0.0.1:1",
                                 **extra)
        services = bootstrap(settings)
        canary = f"canary{uuid.uuid4().hex[:12]}"
        try:
            plant(services, "leaky", canary)
            plant(services, "keeper", "nothing-to-hide")
            project(settings, services)
            with psycopg.connect(pg.dsn, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
            marks = traces(settings, canary)
            assert any(_in_files(pg.data_dir, m) for m in marks), "the scan cannot see it"
            result = services.commands.forget(LOCAL, Forget(agent_id="leaky", by="test"))
            # The vacuum and the search index rebuild ran (a failure there is reported, and
            # the forget goes on: the files below would keep the canary).
            assert result.reclaim_error is None, result.reclaim_error
        finally:
            services.close()
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            for _ in range(2):
                conn.execute("SELECT pg_switch_wal()")
                conn.execute("CHECKPOINT")
        for mark in marks:
            assert not _in_files(pg.data_dir, mark), f"{mark!r}: {_in_files(pg.data_dir, mark)}"
    finally:
        pg.stop()


def _in_files(folder: Path, needle: bytes) -> list[str]:
    """The files under `folder` that hold `needle` (case-insensitively: the search index
    keeps lower-cased words)."""
    return [str(p.relative_to(folder)) for p in sorted(folder.rglob("*"))
            if p.is_file() and needle in p.read_bytes().lower()]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_projection_batch_read_before_the_forget_leaves_no_rows(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The projection read the agent's events, the forget ran, then the batch commits: the
    batch drops the forgotten agent's rows in its own transaction."""
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    settings = make_settings(backend, tmp_path, dsn, nats_url="nats://127.0.0.1:1")
    services = bootstrap(settings)
    views = build_views(settings)
    try:
        canary = f"canary{uuid.uuid4().hex[:12]}"
        plant(services, "leaky", canary)
        plant(services, "keeper", "nothing-to-hide")
        commit = views.commit

        def forget_then_commit(*args: object) -> None:
            services.commands.forget(LOCAL, Forget(agent_id="leaky", by="test"))
            commit(*args)  # type: ignore[arg-type]

        views.commit = forget_then_commit  # type: ignore[method-assign]
        ProjectionWorker(services.store, views).run_once()
        rows = views.dump()
        assert rows["agents"] and all(r[0] == "keeper" for table in rows.values()
                                      for r in table if table is not rows["checkpoints"])
        assert canary not in str(rows) and "keeper" in str(rows["search"])
    finally:
        views.factory.close()  # type: ignore[attr-defined]
        services.close()


def test_forget_in_memory(tmp_path: Path) -> None:
    """The in-memory recorder (the application's tests' store) forgets as the SQL ones do."""
    services = memory_services(make_settings("sqlite", tmp_path, nats_url="nats://127.0.0.1:1"))
    try:
        plant(services, "leaky", "in memory")
        plant(services, "keeper", "kept")
        first = services.store.record([envelope("keeper", "message",
                                                {"role": "user", "content": "x"})])
        result = services.commands.forget(LOCAL, Forget(agent_id="leaky", by="test"))
        assert (result.events, result.checkpoints, result.event_ids) == (6, 1, 6)
        assert services.store.summary("leaky") is None
        assert [c.agent_id for c in services.checkpoints.list("keeper")] == ["keeper"]
        with pytest.raises(AgentForgotten):
            services.commands.forget(LOCAL, Forget(agent_id="leaky", by="again"))
        (refused,) = services.store.record([envelope("leaky", "message", {
            "role": "user", "content": "back?"})]).outcomes
        assert refused.status == "rejected" and refused.forgotten
        assert services.store.context("keeper")["version"] == first.versions["keeper"]
    finally:
        services.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_forgets_at_once_keep_one_tombstone(backend: str, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    """Both passed the existence check; the second erases nothing and raises nothing."""
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    services = bootstrap(make_settings(backend, tmp_path, dsn, nats_url="nats://127.0.0.1:1"))
    try:
        plant(services, "twice", "x")
        forget = services.commands.use_cases.forget
        key = services.store.key_for(LOCAL.tenant, "twice")
        first = forget.forget(key, LOCAL.tenant, "first")
        second = forget.forget(key, LOCAL.tenant, "second")
        assert (first.events, second.events) == (6, 0)
        stone = services.store.tombstone(LOCAL.tenant, key)
        assert stone is not None and stone.forgotten_by == "first"
    finally:
        services.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_forgotten_agents_event_ids_and_name_are_refused_in_bulk(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """More event ids and agents than SQLite takes parameters in one statement (the lookups
    go in chunks there, and as one array on PostgreSQL): each reused id of the forgotten agent
    is refused naming `event_id`, the forgotten agent's name naming `agent_id`, and the rest
    of the batch is recorded."""
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    services = bootstrap(make_settings(backend, tmp_path, dsn, nats_url="nats://127.0.0.1:1"))
    try:
        store = services.store
        gone = [make_envelope("gone", "message", {"role": "user", "content": str(i)},
                              event_id=f"gone-{i}") for i in range(1100)]
        store.record(gone)
        services.commands.forget(LOCAL, Forget(agent_id="gone", by="test"))
        reused = [make_envelope(f"new-{i}", "message", {"role": "user", "content": "again"},
                                event_id=e.event_id) for i, e in enumerate(gone)]
        fresh = [make_envelope(f"new-{i}", "message", {"role": "user", "content": "fresh"},
                               event_id=f"fresh-{i}") for i in range(1100)]
        back = make_envelope("gone", "message", {"role": "user", "content": "back?"},
                             event_id="back")
        outcomes = {o.event_id: o for o in store.record([*reused, *fresh, back]).outcomes}
        for e in reused:
            o = outcomes[e.event_id]
            assert (o.status, o.field, o.forgotten) == ("rejected", "event_id", True), o
        assert (outcomes["back"].status, outcomes["back"].field) == ("rejected", "agent_id")
        assert all(outcomes[e.event_id].status == "recorded" for e in fresh)
        assert store.context("new-1099")["version"] == 1
    finally:
        services.close()


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_event_ids_are_digested_only_for_a_tenant_that_forgot_some(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A write of new agents asks for tombstones and whether the tenant keeps any forgotten
    event id in one question; the ids are digested and looked up only when it does. Another
    tenant's forget changes nothing of that for this one (its ids are recorded, unlooked-up),
    and the forgetting tenant's reused id is still refused."""
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    settings = make_settings("sqlite" if backend == "memory" else backend, tmp_path, dsn,
                             nats_url="nats://127.0.0.1:1")
    services = memory_services(settings) if backend == "memory" else bootstrap(settings)
    try:
        store = services.store
        eraser = store.eraser
        looked_up: list[str] = []
        real = eraser.forgotten_event_ids

        def counted(tenant: str, digests: object) -> set[bytes]:
            looked_up.append(tenant)
            return real(tenant, digests)  # type: ignore[arg-type]

        eraser.forgotten_event_ids = counted  # type: ignore[method-assign]
        store.record([make_envelope("gone", "message", {"role": "user", "content": "x"},
                                    event_id="shared-id")], tenant="acme")
        store.record([make_envelope("other", "message", {"role": "user", "content": "y"},
                                    event_id="first")], tenant="acme")
        assert looked_up == []  # no forget yet: nothing digested
        gone = store.key_for("acme", "gone")
        services.commands.use_cases.forget.forget(gone, "acme", "test")

        acme = eraser.forgotten("acme", [gone, store.key_for("acme", "new")])
        assert acme.event_ids and set(acme.tombstones) == {gone}
        beta = eraser.forgotten("beta", [store.key_for("beta", "gone")])
        assert (beta.event_ids, beta.tombstones) == (False, {})

        (theirs,) = store.record([make_envelope("new", "message", {"role": "user", "content": "z"},
                                                event_id="shared-id")], tenant="beta").outcomes
        assert theirs.status == "recorded" and looked_up == []
        (ours,) = store.record([make_envelope("new", "message", {"role": "user", "content": "z"},
                                              event_id="shared-id")], tenant="acme").outcomes
        assert (ours.status, ours.field, ours.forgotten) == ("rejected", "event_id", True)
        assert looked_up == ["acme"]
    finally:
        services.close()
