"""Partition leases: at most one ingest worker consumes a partition, wherever workers run.

Two workers on one durable consumer would split a partition's messages between them (and each
start rewinds the consumer under the other), so an agent's events could be recorded out of
order. Before pulling, a worker takes a lease per partition: a key in a JetStream key-value
bucket whose messages expire after the bucket's TTL, created only if absent and renewed with
compare-and-set. A worker that stops deletes its keys; one that dies leaves them to expire. A
worker pulls each partition as soon as it holds its lease and waits, as a standby, for the
others (each partition on its own, so overlapping shares never stall one another). A
restarted worker of a supervisor presents the same holder name as its dead predecessor and
takes its leases back at once.

A lease is a timeout, not a lock: a worker frozen for longer than the TTL loses it. It notices at
its next renewal and stops pulling (``LeaseLost``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Iterable

import orjson
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """Another worker holds a partition this worker was consuming."""


def lease_key(partition: int) -> str:
    return f"partition-{partition}"


def _holder(entry: KeyValue.Entry) -> str | None:
    holder = orjson.loads(entry.value or b"{}").get("holder")
    return str(holder) if holder else None


async def lease_holders(js: JetStreamContext, bucket: str, partitions: int) -> dict[int, str]:
    """Partition to the name of the worker holding its lease, for the leases now held."""
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        return {}
    holders: dict[int, str] = {}
    for partition in range(partitions):
        try:
            holder = _holder(await kv.get(lease_key(partition)))
        except KeyNotFoundError:
            continue
        if holder:
            holders[partition] = holder
    return holders


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PartitionLeases:
    def __init__(self, js: JetStreamContext, bucket: str, partitions: Iterable[int], *,
                 holder: str | None = None, ttl: float = 10.0, poll: float = 0.5,
                 replicas: int = 1):
        self.js = js
        self.bucket = bucket
        self.keys = {p: lease_key(p) for p in partitions}
        self.holder = holder or default_holder()
        self.ttl = ttl
        self.poll = poll
        self.replicas = replicas  # as the streams': a cluster keeps its leases when a node dies
        self._revisions: dict[str, int] = {}
        self._kv: KeyValue | None = None
        self._opening = asyncio.Lock()

    async def _bucket(self) -> KeyValue:
        async with self._opening:  # partitions are claimed concurrently
            return await self._open()

    async def _open(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(self.bucket)
            except BucketNotFoundError:
                self._kv = await self.js.create_key_value(
                    bucket=self.bucket, ttl=self.ttl, history=1, replicas=self.replicas,
                    description="ctxstore ingest: which worker consumes which partition")
            status = await self._kv.status()
            if status.ttl and abs(status.ttl - self.ttl) > 0.001:
                # Made earlier with another TTL: every worker must renew by the same clock.
                log.warning("bucket %s keeps its lease TTL of %.0fs (not %.0fs); delete it "
                            "while no worker runs to change it", self.bucket, status.ttl,
                            self.ttl)
                self.ttl = status.ttl
        return self._kv

    def _value(self) -> bytes:
        return orjson.dumps({"holder": self.holder})

    async def acquire(self, partition: int) -> None:
        """Take the partition's lease, waiting (and saying so) while another worker holds it."""
        kv = await self._bucket()
        key = self.keys[partition]
        announced = False
        while True:
            try:
                self._revisions[key] = await kv.create(key, self._value())
                break
            except KeyWrongLastSequenceError:
                pass
            except KeyNotFoundError:
                continue  # create() saw the key, then it expired under it: try again
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                continue  # expired or released meanwhile
            holder = _holder(entry)
            if holder == self.holder and entry.revision is not None:
                # Our own, left by a predecessor of the same name that died.
                try:
                    self._revisions[key] = await kv.update(key, self._value(),
                                                           last=entry.revision)
                    break
                except KeyWrongLastSequenceError:
                    continue  # changed meanwhile: look again
            if not announced:
                announced = True
                log.warning("%s is consumed by %s; waiting until it stops or its lease "
                            "expires (%.0fs after its last renewal)", key, holder, self.ttl)
            await asyncio.sleep(self.poll)
        if announced:
            log.warning("%s taken over by %s", key, self.holder)

    async def renew(self) -> None:
        """Renew every lease; LeaseLost when one was taken meanwhile."""
        kv = await self._bucket()
        for key, revision in list(self._revisions.items()):
            try:
                self._revisions[key] = await kv.update(key, self._value(), last=revision)
                continue
            except KeyWrongLastSequenceError:
                pass
            try:  # expired: fine if nobody took it meanwhile
                self._revisions[key] = await kv.create(key, self._value())
                continue
            except KeyWrongLastSequenceError:
                pass
            except KeyNotFoundError:
                continue  # it expired under create(): the next renewal creates it
            try:  # or our own last renewal went through but its answer was lost
                entry = await kv.get(key)
            except KeyNotFoundError:
                continue  # gone again: the next renewal creates it
            if _holder(entry) == self.holder and entry.revision is not None:
                self._revisions[key] = entry.revision
                continue
            del self._revisions[key]
            raise LeaseLost(f"{key}: lease taken by another worker (this one did not renew "
                            f"it within {self.ttl:.0f}s)")

    async def keep(self) -> None:
        """Renew a few times per TTL until cancelled or a lease is lost."""
        while True:
            await asyncio.sleep(self.ttl / 4)
            try:
                await self.renew()
            except LeaseLost:
                raise
            except Exception as e:  # noqa: BLE001 - NATS away for a moment: try again
                log.warning("renewing partition leases failed (%s: %s); retrying",
                            type(e).__name__, e)

    async def release(self, *, connected: bool = True, timeout: float = 2.0) -> None:
        """Delete the leases, so a standby takes over at once; all together and bounded.

        Not `connected` (NATS away) or not done within `timeout`: they are left to expire,
        said in one line. One request after another, each waiting out nats-py's timeout, kept
        a stopping worker for seconds per partition, past a supervisor's patience.
        """
        held, self._revisions = self._revisions, {}
        if self._kv is None or not held:
            return
        kv = self._kv
        failed: list[str] = []

        async def delete(key: str, revision: int) -> None:
            try:
                await kv.delete(key, last=revision)
            except Exception as e:  # noqa: BLE001 - it expires anyway
                failed.append(f"{key} ({type(e).__name__})")

        if connected:
            deletes = [asyncio.create_task(delete(k, r)) for k, r in held.items()]
            _, pending = await asyncio.wait(deletes, timeout=timeout)
            for task in pending:
                task.cancel()
            failed += [f"{key} (no answer)" for key, task in zip(held, deletes, strict=True)
                       if task in pending]
            if not failed:
                return
            log.warning("leases not released: %s; they expire in %.0fs", ", ".join(failed),
                        self.ttl)
        else:
            log.warning("NATS is away: %d partition leases are not released; they expire in "
                        "%.0fs", len(held), self.ttl)
