"""Who is asking, and what they may touch: the one access policy every command applies.

Every door names a `Caller`: HTTP and the WebSocket the tenant of the API key (the local tenant
without keys), the CLI the local tenant unless told `--tenant`, NATS RPC and ingest the tenant
their subject names (`ctx.t.<tenant>....`, the local tenant on the contract's own subjects).
Requests name agents by agent id; the store knows them by key (domain.agent_id), which the
policy resolves. Another tenant's agent or checkpoint is simply not found (404, never 403:
nothing about it is revealed). Which checkpoints a tenant may read is the checkpoint's access
level (`Checkpoint.readable_by`: private, shared with it, public).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.errors import AgentNotFound
from ctxstore.application.forget_port import Tombstone
from ctxstore.application.ports import AgentSummary, PointRows
from ctxstore.application.store import UNREAD, ContextStore, Unread
from ctxstore.domain.agent_id import LOCAL_TENANT, check_agent_id, plain_agent_id


@dataclass(frozen=True)
class Caller:
    """The tenant a request acts for; `keyed` when the door authenticated it by an API key
    (then an import may create the tenant's agent, see ImportPackage)."""

    tenant: str = LOCAL_TENANT
    keyed: bool = False


LOCAL = Caller()


class AccessPolicy:
    def __init__(self, store: ContextStore, checkpoints: CheckpointService):
        self.store = store
        self.checkpoints = checkpoints

    def key(self, caller: Caller, agent_id: str) -> str:
        """The store's key of the caller's agent of that id (whether or not it exists)."""
        return self.store.key_for(caller.tenant, agent_id)

    def visible(self, caller: Caller, agent_id: str) -> AgentSummary:
        return visible_agent(self.store, caller, agent_id)

    def writable(self, caller: Caller, agent_id: str) -> str:
        return writable_agent(self.store, caller, agent_id)

    def restorable(self, caller: Caller, target_id: str, source_id: str,
                   version: int | None = None
                   ) -> tuple[str, AgentSummary, dict[str, AgentSummary | None],
                              PointRows | None]:
        """A restore's checks, `writable` on the target then `visible` on the source, on both
        catalogue rows read in one question: the target's key, the source's row, the rows
        read by key (None: no row), which the restore then does not ask again, and (with a
        `version`) the rows of a read of the source there, read with them (one round trip
        where the store pipelines them), which only a caller who may read it gets."""
        check_agent_id(target_id)
        check_agent_id(source_id)
        keys = (self.store.key_for(caller.tenant, target_id),
                self.store.key_for(caller.tenant, source_id))
        rows, stones, point = self.store.rows_tombstones_and_point(
            caller.tenant, list(dict.fromkeys(keys)),
            (keys[1], version) if version is not None and version > 0 else None)
        target = rows[keys[0]]
        writable_agent(self.store, caller, target_id,
                       owner=target.tenant if target is not None else None,
                       stone=stones.get(keys[0]))
        source = visible_agent(self.store, caller, source_id, rows[keys[1]])
        return keys[0], source, rows, point

    def checkpoint(self, caller: Caller, package_id: str) -> Checkpoint:
        """The checkpoint if the caller may read it, with its agent as the caller sees it;
        CheckpointNotFound otherwise."""
        return shown(self.checkpoints.get(package_id, caller.tenant))


def visible_agent(store: ContextStore, caller: Caller, agent_id: str,
                  summary: AgentSummary | None | Unread = UNREAD) -> AgentSummary:
    """The caller's agent of that id, else AgentNotFound. Its `agent_id` is the store's key:
    pass that to the store, show the agent id. `summary`: its catalogue row as just read."""
    check_agent_id(agent_id)
    if isinstance(summary, Unread):
        summary = store.summary(store.key_for(caller.tenant, agent_id))
    if summary is None or summary.tenant != caller.tenant:
        raise AgentNotFound(agent_id)
    return summary


def writable_agent(store: ContextStore, caller: Caller, agent_id: str,
                   owner: str | None | Unread = UNREAD,
                   stone: Tombstone | None | Unread = UNREAD) -> str:
    """The key of the caller's agent of that id (existing or new) if it may write it, else
    AgentNotFound (only the local tenant can meet an agent id it may not write: one kept by
    another tenant before agents had namespaces), or AgentForgotten (one it forgot).
    `owner`: its tenant as its catalogue row just read says (None: it has none); `stone`:
    its tombstone as read with that row (None: none)."""
    check_agent_id(agent_id)
    key = store.key_for(caller.tenant, agent_id)
    if isinstance(owner, Unread):
        owner = store.owner(key)
    if owner is not None and owner != caller.tenant:
        raise AgentNotFound(agent_id)
    if owner is None:  # new, or forgotten: a forgotten agent's id is refused for ever
        if isinstance(stone, Unread):
            stone = store.tombstone(caller.tenant, key)
        if stone is not None:
            raise stone.error()
    return key


def shown(checkpoint: Checkpoint) -> Checkpoint:
    """The checkpoint as a tenant sees it: its agent by agent id, not by the store's key."""
    return dataclasses.replace(checkpoint, agent_id=plain_agent_id(checkpoint.agent_id))
