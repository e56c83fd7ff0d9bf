"""A database that stops answering (PostgreSQL behind a TCP proxy that goes silent) is a 503
with `Retry-After` at every door, never a 500 with the driver's text; the same write retried
once the database is back is recorded once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from http_support import serve
from support import make_settings

from ctxstore.infrastructure.bootstrap import build_store
from ctxstore.infrastructure.http.errors import error_of
from ctxstore.infrastructure.http.ws import _error as ws_error
from ctxstore.infrastructure.messaging.rpc import error_reply
from ctxstore.infrastructure.persistence.availability import RETRY_AFTER_SECONDS
from devtools.tcp_proxy import TcpProxy

ENVELOPE = {"agent_id": "outage", "event_id": "outage-1", "type": "message",
            "data": {"role": "user", "content": "said while the database was away"}}


@pytest.mark.timeout(300)
async def test_a_write_while_the_database_is_silent_is_a_503_and_its_retry_counts_once(
        tmp_path: Path, postgres_dsn: str) -> None:
    direct = make_settings("postgres", tmp_path, postgres_dsn, checkpoint_interval_minutes=0)
    await asyncio.to_thread(lambda: build_store(direct).close())  # its tables, past the proxy
    server = urlsplit(direct.database_url)
    proxy = await TcpProxy(server.hostname or "127.0.0.1", server.port or 5432).start()
    settings = direct.model_copy(update={"database_url": direct.database_url.replace(
        f":{server.port}/", f":{proxy.port}/")})
    served = serve(settings)
    live = await asyncio.to_thread(next, served)
    path = "/api/v1/agents/outage/events"
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=120) as c:
            first = {**ENVELOPE, "event_id": "outage-0"}
            assert (await c.post(path, json=[first])).status_code == 201
            proxy.blackhole()
            proxy.cut()  # its connections go, and new ones reach nothing
            refused = await c.post(path, json=[ENVELOPE])
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
            detail = refused.json()["detail"]
            assert "database is not answering" in detail and "retry" in detail
            assert str(proxy.port) not in detail and "127.0.0.1" not in detail
            proxy.heal()
            deadline = time.monotonic() + 120
            while (again := await c.post(path, json=[ENVELOPE])).status_code == 503:
                assert time.monotonic() < deadline, again.text
                await asyncio.sleep(0.2)
            assert again.status_code in (200, 201), again.text
            history = (await c.get("/api/v1/agents/outage/events")).json()["items"]
            assert [h["event_id"] for h in history] == ["outage-0", "outage-1"]
    finally:
        await asyncio.to_thread(served.close)
        await proxy.stop()


def test_every_door_says_the_same_of_an_unavailable_database() -> None:
    from eventsourcing.persistence import OperationalError

    cause = OperationalError("couldn't get a connection to db.internal:5432 as admin")
    status, detail, errors = error_of(cause) or (0, "", [])
    assert status == 503 and errors == [] and "db.internal" not in detail
    ws_status, ws_body = ws_error(cause)
    assert ws_status == 503 and ws_body.detail == detail
    reply = error_reply(cause)["error"]
    assert reply["type"] == "DatabaseUnavailable" and reply["message"] == detail
