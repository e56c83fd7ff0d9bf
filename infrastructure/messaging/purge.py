"""Purge a forgotten agent's messages from the JetStream streams (application.forget's Purge).

CTX_EVENTS keeps the envelopes agents published (as stored: partitioned subjects for the local
tenant, published ones for the others) and CTX_DLQ the ones the store refused, in plain text:
a forget removes every message on the agent's subjects from both, with a subject-filtered
stream purge. The streams' other agents are untouched.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.messaging.subjects import TENANTS_TOKEN, Subjects

STREAM_NOT_FOUND = 10059  # JetStream's error code for a stream that does not exist


def agent_filters(subjects: Subjects, tenant: str, agent_id: str) -> list[tuple[str, str]]:
    """(stream, subject filter) pairs covering every subject the agent's messages are stored
    on: published and partitioned events, stray subjects under its token, dead letters."""
    if tenant == LOCAL_TENANT:
        events = [f"{subjects.prefix}.events.{agent_id}",
                  f"{subjects.prefix}.events.{agent_id}.>",
                  f"{subjects.prefix}.part.*.{agent_id}"]
    else:
        scope = f"{subjects.prefix}.{TENANTS_TOKEN}.{tenant}"
        events = [f"{scope}.events.{agent_id}", f"{scope}.events.{agent_id}.>"]
    return ([(subjects.events_stream, f) for f in events]
            + [(subjects.dlq_stream, subjects.dlq(agent_id, tenant))])


async def purge_agent(nc: Any, subjects: Subjects, tenant: str, agent_id: str,
                      api_prefix: str = "$JS.API", timeout: float = 10.0) -> int:
    """Purge the agent's messages over a connected client; how many were removed. A stream
    that does not exist holds none."""
    purged = 0
    for stream, subject in agent_filters(subjects, tenant, agent_id):
        reply = await nc.request(f"{api_prefix}.STREAM.PURGE.{stream}",
                                 json.dumps({"filter": subject}).encode(), timeout=timeout)
        answer = json.loads(reply.data)
        error = answer.get("error")
        if error:
            if error.get("err_code") == STREAM_NOT_FOUND:
                continue
            raise RuntimeError(f"purging {subject} from {stream}: {error.get('description')}")
        purged += int(answer.get("purged", 0))
    return purged


class NatsPurge:
    """The purge a forget runs when NATS is configured: one short-lived connection per forget
    (forgets are rare; a worker thread of the HTTP server or the CLI calls it)."""

    def __init__(self, servers: list[str], subjects: Subjects):
        self.servers = servers
        self.subjects = subjects

    def __call__(self, tenant: str, agent_id: str) -> int:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: a worker thread, or the CLI
            return asyncio.run(self._purge(tenant, agent_id))
        # Called (blocking) on an event loop's thread: its own loop, on a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self._purge(tenant, agent_id)).result()

    async def _purge(self, tenant: str, agent_id: str) -> int:
        import nats  # nats-py: only a forget pays its import

        async def quiet(_error: Exception) -> None:
            """Failed attempts end in one error the forget reports, not a logged traceback."""

        nc = await nats.connect(self.servers, connect_timeout=5, max_reconnect_attempts=1,
                                allow_reconnect=False, error_cb=quiet)
        try:
            return await purge_agent(nc, self.subjects, tenant, agent_id)
        finally:
            await nc.close()
