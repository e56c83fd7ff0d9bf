"""Contents kept as parts of the part store (issue 16 items 1 and 2): snapshots that store what
changed, and restores (rewind, fork, merge) that refer to their content instead of copying it.

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
Each row commits before the store is asked whether the parts it leads to are held, and
before any part is put, so a concurrent release (a forget) never removes what this relies on
unseen; `ensure` after puts back what a release in flight removed, as package rows do. Where
the part store can keep releases out meanwhile (PostgreSQL's table: the tenant's part lock
held shared, PartStore.referring), rows, questions and parts go in one transaction instead,
and nothing needs ensuring: a release waits for it, then finds its rows.

There, a restore's new root and new group nodes refer to the root and group nodes of the
content it was read from (its snapshot's, its restore's: PartHashes.base) for what they share:
one (tenant, `base:<address>`, older address) row instead of a `part:` row for each of ~140
tops at 100k events and each of up to 63 pages, so a fork at any version writes the rows of
what changed (10-15 at 10k and at 100k events). A base row is written only once the new node
is known not held and its base held (base rows lead only to older nodes: no cycles), and a
release never lets one keep what no content holds any more (PartStore.bases).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from uuid import UUID

import orjson

from ctxstore.application.lru_map import LruMap
from ctxstore.application.package_port import PackageRecorder
from ctxstore.application.part_cache import PartCache
from ctxstore.application.part_port import (
    AGENT_OWNER,
    BASE_OWNER,
    PART_OWNER,
    PartMissing,
    PartStore,
    is_address,
    part_address,
)
from ctxstore.domain.aggregate import (
    CONTENT_REF,
    OPEN_CALLS,
    PART_HASHES,
    AgentContext,
    AgentSnapshot,
)
from ctxstore.domain.content_tree import (
    ContentParts,
    InPart,
    children_of,
    content_of_tree,
    content_parts,
    parts_base,
    tree_lists,
)
from ctxstore.domain.pages import TREE_PREFIX, PartHashes, PartsBase, remember_page
from ctxstore.domain.state import Content
from ctxstore.domain.window import OpenCalls

# Roots remembered as held (PartContent._held_roots).
HELD_ROOTS = 1024
# A reference's parts fetched with its root (`READ_WITH`), at most this many: a content kept
# whole for the first time (~140 tops at 100k events) lists them all, a later snapshot the
# few it wrote.
READ_WITH = "read_with"
READ_WITH_MAX = 256


def agent_owner(originator_id: UUID) -> str:
    """The owner name of an agent's reference rows (never a package id: those have no ':')."""
    return f"{AGENT_OWNER}{originator_id}"


@dataclass(frozen=True)
class Kept:
    """Where a content is kept, and what keeping it wrote."""

    # {"tenant", "root", READ_WITH}: what a snapshot or a restore event records
    ref: dict[str, Any]
    parts: int  # parts written
    stored_bytes: int  # their stored bytes
    rows: int  # reference rows asked for

    @property
    def content_hash(self) -> str:
        return TREE_PREFIX + self.ref["root"]


@contextmanager
def _set_within(local: threading.local, name: str, value: Any) -> Iterator[None]:
    """`local.name` is `value` within (for this thread), as it was after."""
    was = getattr(local, name, None)
    setattr(local, name, value)
    try:
        yield
    finally:
        setattr(local, name, was)


def read_with(cut: ContentParts, written: Collection[str]) -> list[str]:
    """Of the parts a keep wrote, those every reader of the content fetches after its root
    (the root's tops, each list's last page), to record beside the root: a reader that
    lacks them (a fork or rewind at a version whose snapshot nobody read yet, nearly every
    one at 100k events) then fetches them with the root, one round trip where the levels
    took three, and the rest (older tops it does not hold, earlier pages) level by level as
    before. None past READ_WITH_MAX (the pages of a whole content are not read in part)."""
    wanted = {*cut.tops, *cut.last_pages}
    listed = [a for a in written if a in wanted and a != cut.root]
    return listed if len(listed) <= READ_WITH_MAX else []


def _listed_with(ref: Mapping[str, Any]) -> list[str]:
    """The parts recorded beside a reference's root (READ_WITH): a hint, stored data that
    may be old or damaged, so anything but a short list is no hint at all and what is not
    an address is left out (a part not found makes the read fetch its root alone)."""
    listed = ref.get(READ_WITH)
    if type(listed) is not list or len(listed) > READ_WITH_MAX:
        return []
    return [a for a in listed if is_address(a)]


def with_open_calls(tail: InPart, known: OpenCalls | None) -> InPart | None:
    """How to read a content whose open calls are `known` (recorded beside its root, None:
    no record): `tail` and their pages when `tail` asks for them; None (read whole) when it
    needs them and they are not known."""
    if not tail.open_calls:
        return tail
    if known is None:
        return None if tail.needs_open_calls else tail
    return replace(tail, items=(*tail.items, ("tool_calls", known.positions)))


class PartContent:
    def __init__(self, parts: PartStore, refs: PackageRecorder,
                 encode: Callable[[bytes], bytes], decode: Callable[[bytes], bytes],
                 cache: PartCache | None = None):
        self.parts = parts
        self.refs = refs
        self._encode = encode
        self._decode = decode
        self._checking = threading.local()
        self._in_part = threading.local()  # restores_in_part
        # Decoded parts (application.part_cache); None: every read decodes what it reads.
        self.cache = cache
        # Roots this process last saw held (kept, or read back), LRU: a keep of one of them
        # (a fork of a held agent's latest version, again and again) first asks for the
        # root alone, not for it and its ~150-250 children with their rows. Only a guess: a
        # release may have removed it since, and then the keep asks for the rest.
        self._held_roots: LruMap[tuple[str, str], bool] = LruMap(HELD_ROOTS)
        # Whether a restore's new root may refer to the root its content was read from
        # (PartStore.bases); the store's release then reads roots' tops with this codec.
        self._bases = parts.bases(self._children_of)

    def _children_of(self, stored: bytes) -> set[str]:
        """What a stored root or group node refers to."""
        return children_of(orjson.loads(self._decode(stored)))

    # Keeping ---------------------------------------------------------------------------------
    def keep(self, tenant: str, originator_id: UUID, content: Content,
             hashes: PartHashes, *, remember: bool = False, based: bool = False) -> Kept:
        """Keep `content` as parts of `tenant`, referred to by the agent `originator_id`;
        `hashes`: its parts' addresses known so far (it learns the others, and that this root
        is held: its `base` from now on). `remember`: the parts written are also held decoded
        (the part cache), for a content read at once (a restore's target is folded as soon as
        it commits, application.store); a snapshot's are not, so a writer's memory does not
        fill with what it may never read. `based` (a restore): a new root refers to the root
        its content was read from (`hashes.base`) for what the two share, one row for ~140
        at 100k events, where the store allows (PartStore.bases); a snapshot's root refers
        to each of its tops, so an agent's own history never chains."""
        cut = content_parts(content, hashes)
        base = hashes.base if based and self._bases else None
        if base is not None and (base.tenant != tenant or base.root == cut.root):
            base = None
        kept = self._keep(tenant, originator_id, cut, whole=False, remember=remember,
                          base=base)
        if kept is None:
            # A release (a forget) removed a node this relied on before its rows committed:
            # its children may be gone too, so every part is asked for this time.
            kept = self._keep(tenant, originator_id, cut, whole=True, remember=remember)
            assert kept is not None
        hashes.base = parts_base(tenant, cut.root, cut.tree, cut.tops, cut.children)
        return kept

    def _keep(self, tenant: str, originator_id: UUID, cut: ContentParts, *, whole: bool,
              remember: bool, base: PartsBase | None = None) -> Kept | None:
        """One attempt; None when a node it found held was released meanwhile. Each level's
        reference rows go in before (or with) the question which of the parts they lead to
        are held (PartStore.refer_then_held), all in one transaction where the store can;
        where that transaction keeps releases out (PartStore.referring), the parts go in it
        too, else `ensure` puts back any part found held that a release in flight removed.
        `base`: a stored content whose root and group nodes to refer to for what they share,
        used only within such a transaction, once its root is found held (its whole tree is
        then held until this commits)."""
        root = cut.root
        tops = cut.tops
        rows = [(agent_owner(originator_id), root), *((PART_OWNER + root, t) for t in tops)]
        refer_then_held = partial(self.parts.refer_then_held, self.refs, tenant)
        relied: set[str] = {root}
        lacking: list[str] = []
        with self.parts.referring(tenant) as guarded:
            found: set[str] = set()
            # The root's rows that go in with the next level's (a base's).
            pending: list[tuple[str, str]] = []
            if not whole and (tenant, root) in self._held_roots:
                found = refer_then_held(rows[:1], [root])
                if root in found:
                    rows = rows[:1]
            if root not in found and base is not None and guarded:
                new_tops = [t for t in tops if t not in base.tops]
                # The base's row only once the root is known not held: a held root refers
                # to what it did (so base rows only ever lead to older parts: no cycles).
                found = refer_then_held(rows[:1], [root, base.root, *new_tops])
                if root in found:
                    rows = rows[:1]
                elif base.root in found:
                    # Held, and no release runs before this commits: its tree is held.
                    found |= base.tops.intersection(tops)
                    rows = [rows[0], (BASE_OWNER + root, base.root),
                            *((PART_OWNER + root, t) for t in new_tops)]
                    pending = rows[1:]
                else:
                    base = None
                    found = refer_then_held(rows[1:], tops)  # the base is gone: every row
            elif root not in found:
                base = None
                # The root's rows to what it refers to go in with the agent's to the root:
                # when the root is held they are too (written with it), so they change
                # nothing then, and otherwise the root's level costs no question of its own.
                found = refer_then_held(rows, [root, *tops])
            if whole or root not in found:
                held_tops = found - {root}
                groups = [g for g in tops if g in cut.children and (whole or g not in held_tops)]
                under, pages, held_pages = self._group_rows(cut, groups, base)
                held_pages |= (refer_then_held(pending + under, pages - held_pages)
                               if under or pending else set())
                relied |= held_tops | held_pages
                rows += under
                lacking = ([a for a in [root, *tops] if a not in held_tops]
                           + sorted(pages - held_pages))
            raws = {a: cut.raw(a) for a in lacking}
            encoded = {a: self._encode(r) for a, r in raws.items()}
            if guarded:
                # No release runs before this commits: what was found held stays (the rows
                # committing with the parts keep it), so nothing needs ensuring.
                self.parts.put_levels(tenant, self._levels(cut, encoded))
        if not guarded:
            missing: list[str] = []

            def again(address: str) -> bytes:
                if address in encoded:  # released between the put and the check
                    return encoded[address]
                missing.append(address)
                return self._encode(raws.get(address) or cut.raw(address))

            # Leaves first, group nodes next, the root last: a part is held only after what
            # it refers to is.
            self.parts.put_then_ensure(tenant, self._levels(cut, encoded), relied, again)
            if any(a in cut.children for a in missing):
                return None
        self._held_roots[(tenant, root)] = True
        if remember and self.cache is not None:
            for address, raw in raws.items():
                # Never the content's own containers: a cached value is shared by readers.
                self.cache.put(tenant, address, cut.value(address), len(raw))
        ref: dict[str, Any] = {"tenant": tenant, "root": root}
        listed = read_with(cut, encoded)
        if listed:
            ref[READ_WITH] = listed
        return Kept(ref, len(encoded),
                    sum(map(len, encoded.values())), len(rows))

    @staticmethod
    def _group_rows(cut: ContentParts, groups: list[str], base: PartsBase | None
                    ) -> tuple[list[tuple[str, str]], set[str], set[str]]:
        """The rows of these group nodes (not held) to their pages, every page they refer to,
        and those known held: a group node at the position a group node of `base` (held)
        holds in the same list refers to that one for the pages the two share (one row for
        up to 63: the last group of a list that grew)."""
        paired: dict[str, str] = {}
        if base is not None:
            wanted = set(groups)
            for key, nodes in tree_lists(cut.tree).items():
                for node, then in zip(nodes, base.lists.get(key, ()), strict=False):
                    if node in wanted and then != node and then in base.pages:
                        paired[node] = then
        rows: list[tuple[str, str]] = []
        pages: set[str] = set()
        held: set[str] = set()
        for group in groups:
            children = cut.children[group]
            pages.update(children)
            was = paired.get(group)
            if was is None or base is None:
                rows += ((PART_OWNER + group, page) for page in children)
                continue
            shared = set(base.pages[was])
            held.update(shared.intersection(children))
            rows.append((BASE_OWNER + group, was))
            rows += ((PART_OWNER + group, page) for page in children if page not in shared)
        return rows, pages, held

    @staticmethod
    def _levels(cut: ContentParts, encoded: Mapping[str, bytes]) -> Iterable[dict[str, bytes]]:
        groups = {a for a in encoded if a in cut.children and a != cut.root}
        yield {a: d for a, d in encoded.items() if a not in cut.children}
        yield {a: d for a, d in encoded.items() if a in groups}
        yield {a: d for a, d in encoded.items() if a == cut.root}

    # Reading ---------------------------------------------------------------------------------
    def content(self, ref: Mapping[str, Any], tail: InPart | None = None
                ) -> tuple[Content, PartHashes]:
        """The content a reference names, with its parts' addresses (`tail`: only each
        list's last pages read, domain.content_tree). Raises PartMissing."""
        tenant, root = ref["tenant"], ref["root"]
        with ExitStack() as stack:
            opened: list[bool] = []

            def read_parts() -> None:
                # One read transaction for the levels that miss the cache, opened by the
                # first of them (a content held decoded whole reads nothing).
                if not opened:
                    opened.append(True)
                    stack.enter_context(self.parts.reading())

            first = self._first(tenant, root, _listed_with(ref), read_parts)

            def fetch(addresses: Collection[str]) -> dict[str, Any]:
                ready = {a: first[a] for a in addresses if a in first}
                if not ready:
                    return self._fetch(tenant, addresses, read_parts)
                rest = [a for a in addresses if a not in ready]
                if rest:
                    ready.update(self._fetch(tenant, rest, read_parts))
                return ready

            tree = content_of_tree(first[root], fetch, tail, (tenant, root))
        self._held_roots[(tenant, root)] = True
        return tree

    def _first(self, tenant: str, root: str, listed: list[str],
               before_reading: Callable[[], None]) -> dict[str, Any]:
        """A root and the parts listed beside it, in one round trip; the root alone when one
        listed is not found (a hint only: the levels fetch what the content needs)."""
        if listed:
            with suppress(PartMissing):
                return self._fetch(tenant, [root, *listed], before_reading)
        return self._fetch(tenant, [root], before_reading)

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Within: every part read (by this thread) is checked against its address.

        Outside, reads trust the part store as they trust the events table: an encrypted part
        is authenticated by its AES-GCM tag (a changed byte fails to decrypt), a compressed
        one by its codec's checksum against damage, and neither the events nor the whole
        snapshots before parts (whose part addresses were kept unhashed) were ever checked
        on a read. Hashing every part cost a read ~9 ms per 10 MB, a quarter of it; what
        must be sure (`comprehensive` validation) reads inside this."""
        with _set_within(self._checking, "on", True):
            yield

    def _fetch(self, tenant: str, addresses: Collection[str],
               before_reading: Callable[[], None] | None = None) -> dict[str, Any]:
        if not addresses:
            return {}
        check = getattr(self._checking, "on", False)
        cache = self.cache
        # A checked read asks the part store for every part: what it checks is what is stored.
        found = cache.found(tenant, addresses) if cache is not None and not check else {}
        wanted = [a for a in addresses if a not in found] if found else addresses
        if not wanted:
            return found
        if before_reading is not None:
            before_reading()
        for address, stored in self.parts.get_many(tenant, wanted).items():
            raw = self._decode(stored)
            if check and part_address(raw) != address:
                raise PartMissing(f"part {address} does not hold the content of its address")
            value = found[address] = orjson.loads(raw)
            remember_page(address, raw, value)  # a last page, which a fold may grow
            if cache is not None:
                cache.put(tenant, address, value, len(raw))
        return found

    def released(self, tenant: str, addresses: Collection[str]) -> None:
        """These parts of the tenant left the part store: not served from memory either."""
        if self.cache is not None:
            self.cache.evict(tenant, addresses)
        for address in addresses:
            with suppress(KeyError):
                del self._held_roots[(tenant, address)]

    def resolved(self, event: Any) -> Any:
        """A decoded agent event with its content read back when it is kept by reference
        (anything else as it is): what the mapper gives every reader of events."""
        if type(event) is AgentContext.ContextRestored and event.content is None \
                and event.content_ref is not None:
            ref = event.content_ref
            tail = getattr(self._in_part, "tail", None)
            if tail is not None:
                # Where its open calls are, recorded beside its root by the restore itself;
                # without that record a reader that needs them reads it whole.
                tail = with_open_calls(tail, OpenCalls.from_json(ref.get("open")))
            content, hashes = self.content(ref, tail)
            return event.resolved(content, hashes)
        return event

    @contextmanager
    def restores_in_part(self, tail: InPart) -> Iterator[None]:
        """Within: the contents of restores this thread's events resolve are read in part
        (`content`), as a snapshot read so (`resolve_snapshot`): a fold from a fork's or a
        rewind's event, before the target's next snapshot, then costs what a fold from a
        snapshot does. Its reader must take NotRead as "read whole instead"."""
        with _set_within(self._in_part, "tail", tail):
            yield

    def resolve_snapshot(self, snapshot: Any, tail: InPart | None = None) -> Any:
        """A decoded snapshot with its content read back when it is kept by reference, ready
        to `mutate` (only readers that fold from it pay this: `verify` reads chain heads);
        `tail`: read in part (`content`)."""
        if type(snapshot) is AgentSnapshot and CONTENT_REF in snapshot.state:
            state = snapshot.state
            ref = state[CONTENT_REF]
            stored = state.pop(OPEN_CALLS, None)
            # Where the open calls were, trusted only as recorded beside this very root.
            known = (OpenCalls.from_json(stored.get("open")) if isinstance(stored, dict)
                     and isinstance(ref, dict) and stored.get("root") == ref.get("root")
                     else None)
            if tail is not None:
                tail = with_open_calls(tail, known)
            content, hashes = self.content(ref, tail)
            if known is not None:
                state[OPEN_CALLS] = known.to_json()
            del state[CONTENT_REF]
            state["content"] = content
            # The object itself, which AgentSnapshot.mutate takes (its JSON form would spell
            # out every page, 840 at 100k events, only to be dropped); the state's form, for
            # anything else that mutates the event, knows nothing, which is always right.
            state["_parts"] = PartHashes().to_json()
            object.__setattr__(snapshot, PART_HASHES, hashes)
        return snapshot
