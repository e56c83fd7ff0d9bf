"""Purge a forgotten agent's messages from the JetStream streams (application.forget's Purge).

CTX_EVENTS keeps the envelopes agents published (as stored: partitioned subjects for the local
tenant, published ones for the others) and CTX_DLQ the ones the store refused, in plain text:
a forget erases every message on the agent's subjects from both (secure delete, message by
message). The streams' other agents are untouched. Copies on other clusters (mirrors, sources,
a leaf node's stream) are beyond reach: the README says so.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.messaging.probe import connect_once
from ctxstore.infrastructure.messaging.subjects import TENANTS_TOKEN, Subjects

STREAM_NOT_FOUND = 10059  # JetStream's error codes: a stream that does not exist,
NO_MESSAGE_FOUND = 10037  # and no (more) message on the subject


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
    """Erase the agent's messages over a connected client; how many were erased.

    Message by message, with JetStream's secure delete (the stored bytes are overwritten): a
    subject-filtered purge only marks messages deleted, and the file store keeps their bytes
    in its block files while other messages share the block. A stream that does not exist
    holds none."""
    erased = 0

    async def call(verb: str, stream: str, request: dict[str, Any]) -> dict[str, Any]:
        reply = await nc.request(f"{api_prefix}.STREAM.{verb}.{stream}",
                                 json.dumps(request).encode(), timeout=timeout)
        answer: dict[str, Any] = json.loads(reply.data)
        return answer

    for stream, subject in agent_filters(subjects, tenant, agent_id):
        seq = 1
        while True:
            found = await call("MSG.GET", stream, {"seq": seq, "next_by_subj": subject})
            error = found.get("error")
            if error:
                if error.get("err_code") in (STREAM_NOT_FOUND, NO_MESSAGE_FOUND):
                    break
                raise RuntimeError(f"reading {subject} of {stream}: {error.get('description')}")
            seq = int(found["message"]["seq"])
            done = await call("MSG.DELETE", stream, {"seq": seq})  # erased: no_erase unset
            if done.get("error") and done["error"].get("err_code") != NO_MESSAGE_FOUND:
                raise RuntimeError(f"erasing message {seq} of {stream}: "
                                   f"{done['error'].get('description')}")
            erased += 1 if done.get("success") else 0
            seq += 1
    return erased


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
        nc = await connect_once(self.servers, timeout=5)
        try:
            return await purge_agent(nc, self.subjects, tenant, agent_id)
        finally:
            await nc.close()
