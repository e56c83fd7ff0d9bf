"""Contents kept as parts of the part store (issue 16 items 1 and 2): snapshots that store what
changed, and restores (rewind, fork) that refer to their content instead of copying it.

A content is cut into the parts of its hash tree (domain.content_tree): pages, memory buckets,
the MCP part, group nodes and the root object, each kept once per tenant and data key under its
address, compressed (and encrypted when the store is) by the store's own codec. Keeping a
content writes only the parts the store does not hold, found top down: a held root holds its
whole tree, a held group node its pages, so the question costs the root's width (group nodes,
buckets), not the content's size.

References (the part-reference table, application.part_port) make parts live: one row
(tenant, `agent:<aggregate id>`, root) the first time an agent refers to a content (its
snapshot, its restore), and one row (tenant, `part:<address>`, child) from each root and group
node to what it refers to, written once with that part. So rows grow with what changed, and a
part lives while some agent's content reaches it: forgetting an agent deletes its own `agent:`
rows and releases what nothing refers to any more; its forks' roots keep their trees.
Rows are committed before the parts they lead from are put, and every part relied on is
`ensure`d after, as package rows do.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from ctxstore.application.package_port import PackageRecorder
from ctxstore.application.part_port import (
    AGENT_OWNER,
    PART_OWNER,
    PartMissing,
    PartStore,
    part_address,
)
from ctxstore.domain.aggregate import CONTENT_REF, AgentContext, AgentSnapshot
from ctxstore.domain.content_tree import ContentParts, content_of_tree, content_parts
from ctxstore.domain.pages import TREE_PREFIX, PartHashes
from ctxstore.domain.state import Content


def agent_owner(originator_id: UUID) -> str:
    """The owner name of an agent's reference rows (never a package id: those have no ':')."""
    return f"{AGENT_OWNER}{originator_id}"


@dataclass(frozen=True)
class Kept:
    """Where a content is kept, and what keeping it wrote."""

    ref: dict[str, Any]  # {"tenant", "root"}: what a snapshot or a restore event records
    parts: int  # parts written
    stored_bytes: int  # their stored bytes
    rows: int  # reference rows asked for

    @property
    def content_hash(self) -> str:
        return TREE_PREFIX + self.ref["root"]


class PartContent:
    def __init__(self, parts: PartStore, refs: PackageRecorder,
                 encode: Callable[[bytes], bytes], decode: Callable[[bytes], bytes]):
        self.parts = parts
        self.refs = refs
        self._encode = encode
        self._decode = decode

    # Keeping ---------------------------------------------------------------------------------
    def keep(self, tenant: str, originator_id: UUID, content: Content,
             hashes: PartHashes) -> Kept:
        """Keep `content` as parts of `tenant`, referred to by the agent `originator_id`;
        `hashes`: its parts' addresses known so far (it learns the others)."""
        cut = content_parts(content, hashes)
        root = cut.root
        rows: list[tuple[str, str]] = [(agent_owner(originator_id), root)]
        relied: set[str] = {root}
        new: dict[str, bytes] = {}
        if not self.parts.held(tenant, [root]):
            new, more = self._missing(tenant, cut)
            rows.extend(more)
            relied.update(cut.tops)
        raws = {**new}
        self.refs.insert_part_references(tenant, rows)
        encoded = {a: self._encode(r) for a, r in new.items()}
        # Leaves first, group nodes next, the root last: a part is held only after what it
        # refers to is.
        for level in self._levels(cut, encoded):
            self.parts.put_many(tenant, level)

        def again(address: str) -> bytes:
            return self._encode(raws.get(address) or cut.raw(address))

        self.parts.ensure(tenant, relied | set(new), again)
        return Kept({"tenant": tenant, "root": root}, len(encoded),
                    sum(map(len, encoded.values())), len(rows))

    def _missing(self, tenant: str, cut: ContentParts
                 ) -> tuple[dict[str, bytes], list[tuple[str, str]]]:
        """The raw bytes of the parts of `cut` the store lacks (its root is one), and the
        reference rows from the new root and group nodes."""
        tops = cut.tops
        held_tops = self.parts.held(tenant, tops)
        new_groups = [g for g in tops if g not in held_tops and g in cut.children]
        pages = {p for g in new_groups for p in cut.children[g]}
        held_pages = self.parts.held(tenant, pages) if pages else set()
        lacking = ([cut.root] + [a for a in tops if a not in held_tops]
                   + sorted(pages - held_pages))
        rows = [(PART_OWNER + parent, child) for parent in [cut.root, *new_groups]
                for child in cut.children[parent]]
        return {a: cut.raw(a) for a in lacking}, rows

    @staticmethod
    def _levels(cut: ContentParts, encoded: Mapping[str, bytes]) -> Iterable[dict[str, bytes]]:
        groups = {a for a in encoded if a in cut.children and a != cut.root}
        yield {a: d for a, d in encoded.items() if a not in cut.children}
        yield {a: d for a, d in encoded.items() if a in groups}
        yield {a: d for a, d in encoded.items() if a == cut.root}

    # Reading ---------------------------------------------------------------------------------
    def content(self, ref: Mapping[str, Any]) -> tuple[Content, PartHashes]:
        """The content a reference names, with its parts' addresses. Raises PartMissing."""
        tenant, root = ref["tenant"], ref["root"]
        tree = self._fetch(tenant, [root])[root]
        return content_of_tree(tree, lambda addresses: self._fetch(tenant, addresses))

    def _fetch(self, tenant: str, addresses: Collection[str]) -> dict[str, Any]:
        if not addresses:
            return {}
        found = {}
        for address, stored in self.parts.get_many(tenant, addresses).items():
            raw = self._decode(stored)
            if part_address(raw) != address:
                raise PartMissing(f"part {address} does not hold the content of its address")
            found[address] = orjson.loads(raw)
        return found

    def resolved(self, event: Any) -> Any:
        """A decoded agent event with its content read back when it is kept by reference
        (anything else as it is): what the mapper gives every reader of events."""
        if type(event) is AgentContext.ContextRestored and event.content is None \
                and event.content_ref is not None:
            content, hashes = self.content(event.content_ref)
            return event.resolved(content, hashes)
        return event

    def resolve_snapshot(self, snapshot: Any) -> Any:
        """A decoded snapshot with its content read back when it is kept by reference, ready
        to `mutate` (only readers that fold from it pay this: `verify` reads chain heads)."""
        if type(snapshot) is AgentSnapshot and CONTENT_REF in snapshot.state:
            content, hashes = self.content(snapshot.state[CONTENT_REF])
            state = snapshot.state
            del state[CONTENT_REF]
            state["content"] = content
            state["_parts"] = hashes.to_json()
        return snapshot
