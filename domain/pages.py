"""The paging rule and the tree content hash (scheme `sha256-tree1`, issue 16 items 2 and 4).

An agent's content is cut into immutable parts so that a hash, a snapshot or a fork costs what
changed, not the size of the whole content. The rule, on the content alone (a client can
recompute it; `PAGE`, `GROUP` and `BUCKETS` are part of the scheme and never change within it):

1. **Parts.** Each part's bytes are the canonical JSON (domain.state.canonical_json) of a piece
   of the content; its address is the lowercase hex SHA-256 of those bytes.
   - `messages`, `tool_calls`, `memory_links`: pages of `PAGE` (64) items by index: page k is
     the JSON list of items [64k, 64k+64). An empty list has no pages.
   - `reasoning`: for each thread, its steps in pages of 64 the same way.
   - `memories`: `BUCKETS` (64) buckets; memory id m is in bucket
     `int.from_bytes(sha256(utf8(m))[:4], "big") % 64`. A bucket's part is the JSON object
     {memory_id: memory} of its memories. Empty buckets have no part.
   - `mcp_servers`: one part, the whole JSON object (also when empty: `{}`).
   - `channels` (only when non-empty): one part per name, its value.
2. **Groups.** A list of page addresses is cut into groups of `GROUP` (64) consecutive
   addresses; a group's node is the hex SHA-256 of the canonical JSON list of its addresses.
3. **Root.** The hex SHA-256 of the canonical JSON object
   `{"memories": {"<bucket>": address}, "mcp_servers": address,
     "memory_links": [nodes], "messages": [nodes], "reasoning": {thread_id: [nodes]},
     "tool_calls": [nodes]}`, plus `"channels": {name: address}` only when the content has
   channels (so every content without them keeps its hash); the hash is
   `"sha256-tree1:" + root`.

Two levels (pages, then groups) keep the root's input small for huge agents (100k messages:
1,563 pages, 25 group nodes). The old scheme (DESIGN §2 before: `"sha256:"` + SHA-256 of the
canonical JSON of the whole content) stays verifiable: `hash_like` computes a content's hash in
the scheme of a given hash, so old checkpoints and packages keep verifying.

`PartHashes` is the aggregate's cache of part addresses: each fold step drops only the parts its
event touched, so the hash of a read costs the dirty parts plus the root.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ctxstore.domain.state import CHANNELS, Content, canonical_json_of_content

TREE_PREFIX = "sha256-tree1:"
LEGACY_PREFIX = "sha256:"
PAGE = 64
GROUP = 64
BUCKETS = 64
# The list fields paged by index, and the one-letter prefix of their parts' cache keys.
LIST_FIELDS: tuple[tuple[str, str], ...] = (
    ("messages", "m"), ("tool_calls", "t"), ("memory_links", "l"))
MCP_KEY = "s"
CHANNEL_KEY = "c|"
_LIST_OF_CODE = {code: field for field, code in LIST_FIELDS}
# The first letters of the keys of list pages (a reasoning thread's: `r|<thread>|<k>`).
_PAGE_CODES = frozenset({*_LIST_OF_CODE, "r"})
_CODE_OF_LIST = dict(LIST_FIELDS)
# A content hash of either scheme, as a stored or imported checkpoint may carry it.
HASH_PATTERN = r"^(sha256|sha256-tree1):[0-9a-f]{64}$"


def address(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class RecentParts:
    """The canonical bytes of the parts hashed last, by address, up to `max_bytes`: a keep
    that follows a hash (a restore keeps the pages the hash of its source just encoded, a
    snapshot those of the agent's own) takes their bytes here instead of encoding them again
    (at a random version: 60-80 kB a fork, 0.35-0.45 ms). An entry is taken once; those never
    taken (a read's hash) go first when the budget is full. Keyed by their own hash, so an
    entry is right whatever changed since."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, address: str, raw: bytes) -> None:
        if len(raw) > self.max_bytes // 4:
            return  # one huge part would push every other out
        with self._lock:
            old = self._items.pop(address, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[address] = raw
            self._bytes += len(raw)
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def take(self, address: str) -> bytes | None:
        with self._lock:
            raw = self._items.pop(address, None)
            if raw is not None:
                self._bytes -= len(raw)
            return raw

    def get(self, address: str) -> bytes | None:
        """An entry's bytes, kept (as the newest)."""
        with self._lock:
            raw = self._items.get(address)
            if raw is not None:
                self._items.move_to_end(address)
            return raw

    def clear(self) -> None:
        """Nothing held (a forget: the bytes may be the forgotten agent's)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


RECENT_PARTS = RecentParts(4 * 1024 * 1024)
# The canonical bytes of pages not full, by address, as hashed or read back (`remember_page`):
# appends grow such a page, and its new bytes are the old ones with the new items' after
# them (canonical JSON is compact: a list's bytes are its items' joined by commas), so
# hashing it encodes only what was appended. A fork at a random version of the real traces'
# agents hashes one or two pages of ~76 kB its replay grew, each encoded whole before
# (0.12 ms) and now joined from its snapshot's bytes (0.03 ms; hashing the bytes, 0.04 ms,
# either way); a live agent's snapshot the pages that grew since its last one. Cleared with
# RECENT_PARTS (a forget).
GROWING_PAGES = RecentParts(8 * 1024 * 1024)


def remember_page(address: str, raw: bytes, value: Any) -> None:
    """Hold the bytes of a part read back when it is a page that may grow (a list of fewer
    than PAGE items that are not addresses: not a group node)."""
    if type(value) is list and 0 < len(value) < PAGE and type(value[0]) is not str:
        GROWING_PAGES.put(address, raw)


def forget_recent() -> None:
    """Nothing held of any part's bytes (a forget: they may be the forgotten agent's)."""
    RECENT_PARTS.clear()
    GROWING_PAGES.clear()


@lru_cache(maxsize=1 << 16)  # every hash of a content read back asks it of each memory
def _memory_number(memory_id: str) -> int:
    return int.from_bytes(hashlib.sha256(memory_id.encode("utf-8")).digest()[:4], "big")


def bucket_of(memory_id: str) -> int:
    return _memory_number(memory_id) % BUCKETS


def page_count(items: int) -> int:
    return -(-items // PAGE)


class GroupNodes:
    """Group nodes' addresses by their pages' addresses, the `max_items` used last.

    A full group never changes, so each hash of a content finds it here. A content read back
    from its parts brings its group nodes with it (`remember_all`, domain.content_tree):
    their addresses are those of the parts read, as much as the pages' are. Without that, the
    first hash of a content read in a new process encoded and hashed every group node again
    (a 100k-event agent's snapshot: 1.2-1.4 ms, now 0.19-0.31), and a fork at a random
    version the snapshot's last groups (0.20 against 0.15 ms)."""

    def __init__(self, max_items: int):
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._nodes: set[str] = set()  # the addresses held: a known node costs no tuple
        self._lock = threading.Lock()

    def address(self, pages: tuple[str, ...]) -> str:
        with self._lock:
            found = self._items.get(pages)
            if found is not None:
                self._items.move_to_end(pages)
                return found
        found = address(canonical_json_of_content(list(pages)))
        self.remember_all([(found, pages)])
        return found

    def remember_all(self, known: Iterable[tuple[str, Sequence[str]]]) -> None:
        """Group nodes and their pages, as read: those held already are passed over (a read
        of a content whose groups are known costs a set lookup each, not a tuple)."""
        with self._lock:
            items, nodes = self._items, self._nodes
            for node, pages in known:
                if node in nodes:
                    continue
                items[tuple(pages)] = node
                nodes.add(node)
            while len(items) > self.max_items:
                nodes.discard(items.popitem(last=False)[1])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._nodes.clear()


GROUP_NODES = GroupNodes(1 << 13)


def groups(addresses: list[str]) -> list[str]:
    node = GROUP_NODES.address
    return [node(tuple(addresses[i:i + GROUP])) for i in range(0, len(addresses), GROUP)]


@dataclass(frozen=True)
class PartsBase:
    """A stored content a content was read from (or kept as), whatever changed since: its
    root, what the root refers to, each paged list's group nodes in order (by list field, or
    `<field>|<key>`) and each group node's pages. A restore keeping the content refers to that
    root and those group nodes for what they share, one row each instead of one per part
    (application.part_port, PartStore.bases)."""

    tenant: str
    root: str
    tops: frozenset[str]
    lists: Mapping[str, Sequence[str]]
    pages: Mapping[str, Sequence[str]]


class PartHashes:
    """The addresses of an agent's parts known for its current content (key -> address).

    Keys: `m<k>`, `t<k>`, `l<k>` (page k of a list field), `r|<thread>|<k>`, `b<n>` (memory
    bucket n), `s` (MCP state). Appends cost the fold nothing here: the lengths each list had
    when the addresses were last brought up to date (`seen`) say which pages grew since. Only
    what changes in place is dropped as it happens: a tool result's call page, a memory's
    bucket, the MCP state. Not thread-safe: it lives in one aggregate, changed by its fold.
    """

    __slots__ = ("leaves", "seen", "_members", "_moved", "_lists", "base", "_groups", "_root",
                 "_before")

    def __init__(self, leaves: dict[str, str] | None = None,
                 seen: dict[str, int] | None = None) -> None:
        self.leaves: dict[str, str] = dict(leaves or {})
        # List field or `r|<thread>` -> its length when its pages' addresses were last known.
        self.seen: dict[str, int] = dict(seen or {})
        self._members: dict[int, set[str]] | None = None
        self._moved: set[str] = set()
        # List field or `r|<thread>` -> its pages' addresses as last given, while its length
        # is `seen`'s and none of them was dropped: a hash of a held agent then walks no page
        # (7,000 at 100k events: ~4 ms a fork of the latest version).
        self._lists: dict[str, list[str]] = {}
        # The stored content this one was read from or kept as. Not in the JSON form: only
        # the part store's reads and keeps know it.
        self.base: PartsBase | None = None
        # List field or `r|<thread>` -> (its pages as last given, their group nodes); and the
        # last root object made, with its canonical bytes and address (see `tree`).
        self._groups: dict[str, tuple[list[str], list[str]]] = {}
        self._root: tuple[dict[str, Any], bytes, str] | None = None
        # Page key -> its address when the addresses were last brought up to date, for a
        # page dropped since only for items appended after that (a new call given its
        # result): its first items are still those bytes' (`_leaf`'s `grown`).
        self._before: dict[str, str] = {}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (what a snapshot keeps), for `from_json`."""
        for seen_key in self._lists:
            self._as_leaves(seen_key)
        return {"leaves": dict(self.leaves), "seen": dict(self.seen)}

    def copy(self) -> PartHashes:
        """The addresses known, for another holder of the same content (its own to change):
        with each list's pages as last given (shared: never changed in place) and the memory
        buckets' members, so its first hash walks neither every page nor every memory (at
        100k events ~4,700 pages: a fork at an earlier version hashed them twice more)."""
        copied = PartHashes(self.leaves, self.seen)
        copied._lists = dict(self._lists)
        copied._groups = dict(self._groups)
        copied._root = self._root
        copied._before = dict(self._before)
        copied.base = self.base
        if self._members is not None:
            copied._members = {n: set(ids) for n, ids in self._members.items()}
            copied._moved = set(self._moved)
        return copied

    @classmethod
    def from_json(cls, value: Any) -> PartHashes:
        """From `to_json`'s form; anything else (an older snapshot's) knows nothing."""
        if isinstance(value, dict) and isinstance(value.get("leaves"), dict) \
                and isinstance(value.get("seen"), dict):
            return cls(value["leaves"], value["seen"])
        return cls()

    # What the fold calls -----------------------------------------------------------------------
    def drop(self, key: str, at: int | None = None) -> None:
        """`at`: the index of the item changed in the page (a call given its result)."""
        if key != MCP_KEY and not key.startswith(CHANNEL_KEY):
            # A page changed in place (a tool result's call): its list's addresses as given,
            # each as a leaf first (a list read back keeps them in `_lists` alone).
            field = _LIST_OF_CODE.get(key.rstrip("0123456789"))
            for seen_key in ([*self._lists] if field is None else [field]):
                self._as_leaves(seen_key)
                self._lists.pop(seen_key, None)
            was = self.leaves.get(key)
            if at is not None and field is not None and at >= self.seen.get(field, 0):
                if was is not None:
                    self._before.setdefault(key, was)  # an item appended since changed
            else:
                self._before.pop(key, None)  # one it held then: its bytes are not its start
        self.leaves.pop(key, None)

    def _as_leaves(self, seen_key: str) -> None:
        """The pages `_lists` holds for this list as leaves too (a list read back holds them
        there alone, see of_manifest)."""
        pages = self._lists.get(seen_key)
        if pages is not None:
            code = _CODE_OF_LIST.get(seen_key) or f"{seen_key}|"  # reasoning: r|<thread>|
            self.leaves.update((f"{code}{k}", a) for k, a in enumerate(pages))

    def memory(self, memory_id: str) -> None:
        self._moved.add(memory_id)
        self.leaves.pop(f"b{bucket_of(memory_id)}", None)

    def clear(self) -> None:
        self.base = None
        self._before.clear()
        self.leaves.clear()
        self.seen.clear()
        self._lists.clear()
        self._groups.clear()
        self._root = None
        self._members = None
        self._moved.clear()

    # Reading -----------------------------------------------------------------------------------
    def _leaf(self, key: str, value: Any, grown: tuple[str, int] | None = None) -> str:
        """`grown`: (the address, the length) of what this page was before items were
        appended to it, whose bytes GROWING_PAGES may hold."""
        found = self.leaves.get(key)
        if found is None:
            was = GROWING_PAGES.get(grown[0]) if grown is not None else None
            if was is not None and grown is not None and 0 < grown[1] < len(value):
                # The page's first items are those it held then (appends only; a change in
                # place drops its address, and then there is no `grown`).
                raw = was[:-1] + b"," + canonical_json_of_content(value[grown[1]:])[1:]
            else:
                raw = canonical_json_of_content(value)
            found = self.leaves[key] = address(raw)
            RECENT_PARTS.put(found, raw)
            if type(value) is list and len(value) < PAGE and key[0] in _PAGE_CODES:
                GROWING_PAGES.put(found, raw)
        return found

    def _pages(self, seen_key: str, code: str, items: list[Any]) -> list[str]:
        """The addresses of a list's pages (shared: not to be changed); those from the page
        that held its end when last seen onwards are computed again (appends change only
        those)."""
        seen = self.seen.get(seen_key, 0)
        known = self._lists.get(seen_key)
        grown: tuple[str, int] | None = None
        was = self._before.pop(f"{code}{seen // PAGE}", None) if self._before else None
        if len(items) == seen:
            if known is not None:
                return known
            start = 0
        else:
            # Lists only grow between restores (which forget everything); were one shorter,
            # every page of it is computed again.
            start = seen // PAGE if len(items) > seen else 0
            if len(items) > seen and seen % PAGE:
                # The page that held the end, not full: what it was, when its items then are
                # unchanged (not dropped, or dropped for an item appended since alone).
                if known is not None and start < len(known):
                    was = known[start]
                was = self.leaves.get(f"{code}{start}", was)
                grown = (was, seen % PAGE) if was is not None else None
            for k in range(start, page_count(max(len(items), seen))):
                self.leaves.pop(f"{code}{k}", None)
            self.seen[seen_key] = len(items)
        # The pages before the one that held the end are as given last time (7,000 of them
        # at 100k events: a fork at an earlier version folds a few events onto a content
        # read back, then hashes it).
        out: list[str] = known[:start] if known is not None else []
        leaves = self.leaves
        for k in range(len(out), page_count(len(items))):
            key = f"{code}{k}"
            found = leaves.get(key)
            if found is None:  # the page is sliced only when its address is not known
                found = self._leaf(key, items[k * PAGE:(k + 1) * PAGE],
                                   grown if k == start else None)
            out.append(found)
        self._lists[seen_key] = out
        return out

    def _buckets(self, memories: dict[str, Any]) -> dict[int, set[str]]:
        members = self._members
        if members is None:
            members = {}
            for memory_id in memories:
                members.setdefault(bucket_of(memory_id), set()).add(memory_id)
            self._members = members
        else:
            for memory_id in self._moved:
                bucket = members.setdefault(bucket_of(memory_id), set())
                if memory_id in memories:
                    bucket.add(memory_id)
                else:
                    bucket.discard(memory_id)
        self._moved.clear()
        return members

    def buckets(self, memories: dict[str, Any]) -> Mapping[int, set[str]]:
        """The ids of `memories` in each bucket (shared: not to be changed)."""
        return self._buckets(memories)

    def manifest(self, content: Content) -> dict[str, Any]:
        """The address of every part, in the rule's layout (pages, not yet groups): what a
        snapshot's manifest holds and the root is built from."""
        out: dict[str, Any] = {}
        for field, code in LIST_FIELDS:
            out[field] = self._pages(field, code, content[field])
        out["reasoning"] = {thread: self._pages(f"r|{thread}", f"r|{thread}|", steps)
                            for thread, steps in content["reasoning"].items()}
        memories = content["memories"]
        leaves = self.leaves
        out["memories"] = {
            str(n): leaves.get(f"b{n}") or self._leaf(f"b{n}", {m: memories[m] for m in ids})
            for n, ids in sorted(self._buckets(memories).items()) if ids}
        out["mcp_servers"] = self._leaf(MCP_KEY, content["mcp_servers"])
        channels = content.get(CHANNELS)
        if channels:
            out[CHANNELS] = {name: self._leaf(f"{CHANNEL_KEY}{name}", value)
                             for name, value in channels.items()}
        return out

    def content_hash(self, content: Content) -> str:
        return TREE_PREFIX + self.tree(self.manifest(content))[2]

    def tree(self, manifest: dict[str, Any]) -> tuple[dict[str, Any], bytes, str]:
        """The root object of the content whose `manifest` this just gave, its canonical
        bytes and their address. A list whose pages are the very list given last time keeps
        its group nodes, and a root object equal to the last one its bytes and address: a
        fork at an earlier version hashes its content three times (its snapshot's, the
        point's, then the keep's), each mostly or wholly as the one before."""
        memo = self._groups

        def nodes(key: str, pages: list[str]) -> list[str]:
            known = memo.get(key)
            if known is not None and known[0] is pages:  # never changed in place (`_pages`)
                return known[1]
            found = groups(pages)
            memo[key] = (pages, found)
            return found

        tree = tree_of(manifest, nodes)
        last = self._root
        if last is not None and last[0] == tree:
            return last
        raw = canonical_json_of_content(tree)
        self._root = made = (tree, raw, address(raw))
        return made

    @classmethod
    def of_manifest(cls, manifest: dict[str, Any], content: Content,
                    members: Mapping[int, Iterable[str]] | None = None,
                    tree: Mapping[str, Any] | None = None) -> PartHashes:
        """The addresses of a content read back from its parts (`manifest`, in `manifest`'s
        layout): nothing is hashed again. A field this does not know is hashed when asked.
        `members`: each memory bucket's ids, as the bucket parts the memories were read from
        hold them, so the first hash does not place every memory again (236 memories at 100k
        events: 0.05 ms a fork, now 0.005). `tree`: the root object the pages were read
        from, whose group nodes its lists keep (`tree` finds none again: 30 lists at the
        real traces' events, a fork checking the snapshot it read)."""
        leaves: dict[str, str] = {}
        seen: dict[str, int] = {}
        lists: dict[str, list[str]] = {}
        # A list whose pages match its length is held in `lists` alone, its pages not made
        # leaves one by one (840 at 100k events: 0.19 ms a read back, which every fork and
        # read at a version pays); `_as_leaves` makes them when one is dropped.
        for key, code, pages, items in [
                *((f, c, list(manifest.get(f, ())), content[f]) for f, c in LIST_FIELDS),
                *((f"r|{t}", f"r|{t}|", list(p), content["reasoning"][t])
                  for t, p in manifest.get("reasoning", {}).items())]:
            seen[key] = len(items)
            if len(pages) == page_count(seen[key]):
                lists[key] = pages
            else:
                leaves.update((f"{code}{k}", a) for k, a in enumerate(pages))
        leaves.update((f"b{n}", a) for n, a in manifest.get("memories", {}).items())
        if "mcp_servers" in manifest:
            leaves[MCP_KEY] = manifest["mcp_servers"]
        leaves.update((f"{CHANNEL_KEY}{name}", a)
                      for name, a in manifest.get(CHANNELS, {}).items())
        hashes = cls(leaves, seen)
        hashes._lists = lists
        if tree is not None:
            nodes_of = {**{f: tree.get(f) for f, _ in LIST_FIELDS},
                        **{f"r|{t}": n for t, n in tree.get("reasoning", {}).items()}}
            hashes._groups = {key: (pages, nodes) for key, pages in lists.items()
                              if isinstance(nodes := nodes_of.get(key), list)}
        if members is not None:
            hashes._members = {n: set(ids) for n, ids in members.items()}
        return hashes


def tree_of(manifest: dict[str, Any],
            nodes: Callable[[str, list[str]], list[str]] | None = None) -> dict[str, Any]:
    """The root object of a content (see the module's rule), from its parts' addresses;
    `nodes(key, pages)`: a list's group nodes, by its `PartHashes.seen` key (default:
    `groups(pages)`)."""
    group = nodes if nodes is not None else (lambda _key, pages: groups(pages))
    tree = {
        "memories": manifest["memories"],
        "mcp_servers": manifest["mcp_servers"],
        "reasoning": {t: group(f"r|{t}", pages) for t, pages in manifest["reasoning"].items()},
        **{field: group(field, manifest[field]) for field, _ in LIST_FIELDS},
    }
    if manifest.get(CHANNELS):  # only when non-empty: every hash without channels stays
        tree[CHANNELS] = manifest[CHANNELS]
    return tree


def tree_hash(content: Content) -> str:
    """The `sha256-tree1` hash of a content, computed from nothing cached."""
    return PartHashes().content_hash(content)


def legacy_hash(content: Content) -> str:
    """The `sha256:` hash of DESIGN §2 before the tree: SHA-256 of the whole canonical JSON."""
    from ctxstore.domain.state import content_of

    return LEGACY_PREFIX + address(canonical_json_of_content(content_of(content)))


SCHEMES: dict[str, Callable[[Content], str]] = {TREE_PREFIX: tree_hash,
                                                LEGACY_PREFIX: legacy_hash}


def hash_like(content: Content, like: str) -> str:
    """`content`'s hash in the scheme of the hash `like` (a checkpoint's, a package's), so a
    stored hash of either scheme is verified by comparing strings; ValueError for a hash of no
    known scheme."""
    for prefix, compute in SCHEMES.items():
        if like.startswith(prefix):
            return compute(content)
    raise ValueError(f"hash {like[:40]!r} is of no known scheme "
                     f"({', '.join(p.rstrip(':') for p in SCHEMES)})")


# What each event type's fold changes in place (called after the fold, with its data); the
# other types only append, which PartHashes.seen covers.
def _tool_result(parts: PartHashes, content: Content, data: dict[str, Any]) -> None:
    # The fold gave the result to the latest entry with this call id (or appended one).
    calls = content["tool_calls"]
    call_id = data["call_id"]
    for n in range(len(calls) - 1, -1, -1):
        if calls[n]["call_id"] == call_id:
            touch_call(parts, n)
            return


def touch_call(parts: PartHashes, at: int) -> None:
    """The tool call at `at` was changed in place (given its result)."""
    parts.drop(f"t{at // PAGE}", at)


def _memory(parts: PartHashes, content: Content, data: dict[str, Any]) -> None:
    parts.memory(data["memory_id"])


def _mcp(parts: PartHashes, content: Content, data: dict[str, Any]) -> None:
    parts.drop(MCP_KEY)


def _channels(parts: PartHashes, content: Content, data: dict[str, Any]) -> None:
    for name in data["values"]:
        parts.drop(f"{CHANNEL_KEY}{name}")


TOUCH: dict[str, Callable[[PartHashes, Content, dict[str, Any]], None]] = {
    "tool_result": _tool_result,
    "memory_stored": _memory,
    "memory_updated": _memory,
    "memory_forgotten": _memory,
    "mcp_state": _mcp,
    "channels": _channels,
}
