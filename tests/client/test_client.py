"""`ctxstore.client` through both doors, with API keys: a real `ctxstore serve` process on
PostgreSQL (the HTTP clients), and the store in this process (`EmbeddedApi.client()`, what an
adapter uses when it embeds the store). Every call the client offers, its typed results, and
the server's errors raised with their fields, the same through either."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ctxstore.client import AsyncCalls, AsyncClient, Client, CtxstoreError, NotFound, SyncCalls
from ctxstore.infrastructure.bootstrap import EmbeddedApi
from ctxstore.infrastructure.client.embedded import EmbeddedClient
from ctxstore.infrastructure.http.schemas import ContextState, RecordResponse
from ctxstore.infrastructure.settings import Settings
from tests.served import CTXSTORE, running, serve_env
from tests.support import fresh_schema

KEYS = "key-a:tenant-a,key-b:tenant-b"


def message(i: int, text: str, role: str = "user") -> dict[str, Any]:
    # Event ids are idempotency keys per tenant: the same text at the same step is the same event.
    digest = hashlib.sha256(f"{role}:{text}".encode()).hexdigest()[:12]
    return {"event_id": f"m{i}-{digest}", "type": "message",
            "data": {"role": role, "content": text}}


@dataclass(frozen=True)
class Door:
    """How a test reaches the store: a client for an API key, sync or async, and the
    environment of a `ctxstore` command on the same store."""

    open: Callable[[str], SyncCalls]
    open_async: Callable[[str], AsyncCalls]
    env: dict[str, str]


@pytest.fixture(scope="module", params=["served", "embedded"])
def door(request: pytest.FixtureRequest, postgres_dsn: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    tmp = tmp_path_factory.mktemp("client")
    schema = fresh_schema(postgres_dsn)
    env = serve_env(tmp, CONTEXT_STORAGE_BACKEND="postgres", CONTEXT_DATABASE_URL=postgres_dsn,
                    CONTEXT_DATABASE_SCHEMA=schema, CONTEXT_API_KEYS=KEYS)
    if request.param == "served":
        with running([], env, tmp / "serve.log") as url:
            yield Door(lambda key: Client(url, api_key=key),
                       lambda key: AsyncClient(url, api_key=key), env)
        return
    embedded = EmbeddedApi(Settings(storage_backend="postgres", database_url=postgres_dsn,
                                    database_schema=schema, api_keys=KEYS,
                                    checkpoint_interval_minutes=0))
    try:
        yield Door(lambda key: EmbeddedClient(embedded.app, key),
                   lambda key: embedded.client(key), env)
    finally:
        embedded.close()


@pytest.fixture
def client(door: Door) -> Iterator[SyncCalls]:
    with door.open("key-a") as c:
        yield c


def test_record_read_page_and_window(client: SyncCalls) -> None:
    done = client.record("cl-read", [message(i, f"turn {i}") for i in range(1, 6)])
    assert isinstance(done, RecordResponse)
    assert (done.recorded, done.version) == (5, 5)
    again = client.record("cl-read", [message(5, "turn 5"), message(6, "turn 6")])
    assert [o.status for o in again.outcomes] == ["duplicate", "recorded"]

    state = client.context("cl-read")
    assert isinstance(state, ContextState)
    assert state.version == 6 and len(state.messages) == 6
    earlier = client.context("cl-read", version=2)
    assert [m["content"] for m in earlier.messages] == ["turn 1", "turn 2"]
    window = client.context("cl-read", tail=2)
    assert [m["content"] for m in window.messages] == ["turn 5", "turn 6"]
    assert window.content_hash == state.content_hash and window.window is not None

    page = client.events("cl-read", after_version=4, limit=10)
    assert [item.version for item in page.items] == [5, 6]
    assert "cl-read" in {a.agent_id for a in client.agents().items}


def test_a_partly_rejected_batch_returns_what_was_recorded(client: SyncCalls) -> None:
    done = client.record("cl-partial", [
        message(1, "fine"),
        {"event_id": "bad", "type": "message", "data": {"role": "nobody", "content": "x"}},
    ])
    assert (done.recorded, done.rejected) == (1, 1)
    rejected = done.outcomes[1]
    assert rejected.status == "rejected" and rejected.field and "role" in rejected.field
    assert client.context("cl-partial").version == 1


def test_checkpoint_fork_rewind_diff_export(client: SyncCalls) -> None:
    client.record("cl-src", [message(i, f"step {i}") for i in range(1, 4)])
    checkpoint = client.checkpoint("cl-src", label="three steps")
    assert checkpoint.agent_id == "cl-src" and checkpoint.version == 3
    listed = client.checkpoints(agent_id="cl-src")
    assert [c.package_id for c in listed.items] == [checkpoint.package_id]

    client.record("cl-src", [message(4, "a wrong turn", role="assistant")])
    fork = client.fork("cl-src", "cl-fork", version=3)
    assert (fork.mode, fork.target_agent_id, fork.source_version) == ("fork", "cl-fork", 3)
    assert client.context("cl-fork").content_hash == fork.content_hash
    assert fork.content_hash == checkpoint.integrity_hash

    from_checkpoint = client.restore("cl-fork-2", checkpoint=checkpoint.package_id)
    assert from_checkpoint.content_hash == checkpoint.integrity_hash

    # Taking the checkpoint is an event (v4); the wrong turn is v5; the rewind v6.
    rewound = client.rewind("cl-src", version=3)
    assert rewound.mode == "rewind" and rewound.target_version == 6
    assert client.context("cl-src").content_hash == checkpoint.integrity_hash

    diff = client.diff("cl-src", "v5", "latest")
    assert [m["content"] for m in diff.messages_removed] == ["a wrong turn"]
    assert client.diff("cl-src", "v3", "latest").identical

    data = client.export(checkpoint.package_id)
    assert isinstance(data, bytes) and len(data) > 0


def test_search_finds_what_an_agent_said(door: Door, client: SyncCalls) -> None:
    client.record("cl-search", [message(1, "the quartz lighthouse keeps its lamp lit")])
    subprocess.run([CTXSTORE, "project", "--once", "--quiet"], env=door.env, check=True,
                   timeout=300, capture_output=True)
    found = client.search("quartz lighthouse")
    assert [(h.agent_id, h.version) for h in found.hits] == [("cl-search", 1)]


def test_errors_carry_status_detail_and_field(door: Door, client: SyncCalls) -> None:
    with pytest.raises(NotFound) as missing:
        client.context("cl-nobody")
    assert missing.value.status == 404 and "cl-nobody" in missing.value.detail
    with pytest.raises(CtxstoreError) as bad:
        client.context("cl-read", tail=-1)
    assert bad.value.status == 422 and bad.value.field is not None
    assert "tail" in bad.value.field
    with pytest.raises(CtxstoreError) as both:
        client.fork("cl-read", "cl-x", version=1, checkpoint="ckpt-nope")
    assert both.value.status == 422
    with door.open("wrong") as stranger, pytest.raises(CtxstoreError) as denied:
        stranger.context("cl-read")
    assert denied.value.status == 401


def test_tenants_keep_their_own_agents(door: Door, client: SyncCalls) -> None:
    client.record("cl-mine", [message(1, "tenant a's")])
    with door.open("key-b") as other:
        with pytest.raises(NotFound):
            other.context("cl-mine")
        other.record("cl-mine", [message(1, "tenant b's")])
        assert other.context("cl-mine").messages[0]["content"] == "tenant b's"
    assert client.context("cl-mine").messages[0]["content"] == "tenant a's"


async def test_the_async_client_does_the_same(door: Door) -> None:
    async with door.open_async("key-a") as client:
        done = await client.record("cl-async", [message(i, f"async {i}") for i in (1, 2)])
        assert done.version == 2
        fork = await client.fork("cl-async", "cl-async-fork", version=1)
        state = await client.context("cl-async-fork")
        assert [m["content"] for m in state.messages] == ["async 1"]
        assert state.content_hash == fork.content_hash
        with pytest.raises(NotFound):
            await client.context("cl-async-nobody")


def test_the_client_module_is_the_public_name() -> None:
    import ctxstore.client
    assert Path(ctxstore.client.__file__).parent.name == "ctxstore"
