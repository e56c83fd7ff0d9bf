"""A content as the parts of its tree (domain.pages), and back: what a snapshot or a restore
by reference stores instead of a copy of the content (issue 16 items 1 and 2).

The parts are those of the hash rule: pages, memory buckets, the MCP part, group nodes (the
canonical JSON list of their pages' addresses) and the root object (whose address is the
content hash without its prefix). Each is kept under its address, so one stored part serves
every content holding it: every version, every fork. Parts refer to parts: the root to its
group nodes and single parts, a group node to its pages; so a content is one address, and two
contents share everything but what differs.

Generic over the fields of the rule, by the shape of each value of the root object:
- a list (of group nodes): a list field, paged by index;
- an object of lists: a field of paged lists (reasoning: one per thread);
- an object of addresses: a field of buckets (memories), whose parts are objects merged;
- one address: a field kept whole (the MCP state);
- an object of addresses under `channels`: named values, each kept whole.
A content field the root object does not name is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ctxstore.domain.pages import (
    GROUP,
    GROUP_NODES,
    LIST_FIELDS,
    PAGE,
    RECENT_PARTS,
    PartHashes,
    PartsBase,
)
from ctxstore.domain.state import CHANNELS, Content, canonical_json_of_content, empty_content


class NotRead(Exception):
    """An item of a content read in part (`content_of_tree` with `tail`) that was not read
    was needed: the content must be read whole."""


class _Unread:
    """Stands for each item of a page not read: any look at it raises NotRead (and JSON
    encoding one raises TypeError), so nothing is ever computed from it."""

    __slots__ = ()

    def _refuse(self, *_: Any) -> Any:
        raise NotRead("an item of a page that was not read")

    __getitem__ = __eq__ = __ne__ = __contains__ = __iter__ = __len__ = get = _refuse
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<unread>"


UNREAD: Any = _Unread()


@dataclass(frozen=True)
class InPart:
    """How `content_of_tree` reads a content in part: each list's last `pages` pages, when its
    lists hold at least `from_items` items (fewer: it is read whole); the list fields named in
    `whole` are read whole all the same."""

    pages: int
    from_items: int = 0
    whole: frozenset[str] = frozenset()
    # Items to read besides, by list field and position: each is read with its page.
    items: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # Read besides the pages of the open tool calls its record knows of (a snapshot's, a
    # restore's: domain.window.OpenCalls). Without a record: the content whole when
    # `needs_open_calls` (a window needs every open call), else in part all the same.
    open_calls: bool = False
    needs_open_calls: bool = False


def unread_in(items: Iterable[Any]) -> bool:
    """Whether any of these items stands unread."""
    return any(item is UNREAD for item in items)


def read_in_part(content: Content) -> bool:
    """Whether items of `content` stand unread (a page is read or not as a whole)."""
    lists = [content[field] for field, _ in LIST_FIELDS] + list(content["reasoning"].values())
    return any(items[at] is UNREAD for items in lists for at in range(0, len(items), PAGE))


@dataclass(frozen=True)
class ContentParts:
    """A content cut into its parts (nothing encoded yet: `raw` makes a part's bytes)."""

    root: str  # the root object's address: the content hash without its scheme's prefix
    tree: dict[str, Any]  # the root object
    root_raw: bytes  # its canonical JSON
    # A part's address -> the parts it refers to: the root's, and each group node's.
    children: dict[str, tuple[str, ...]]
    _values: dict[str, Callable[[], Any]]  # the parts kept whole and the buckets
    # Each paged list with its pages' addresses: a page's value is found when asked (a keep
    # asks for the few the store lacks), not made ready for each of thousands.
    _paged: list[tuple[list[Any], list[str]]]

    @property
    def tops(self) -> tuple[str, ...]:
        """What the root refers to: group nodes and single parts (buckets, MCP)."""
        return self.children[self.root]

    @property
    def last_pages(self) -> list[str]:
        """Each paged list's last page (what a read in part reads of it)."""
        return [pages[-1] for _, pages in self._paged if pages]

    def _value(self, address: str) -> Any:
        found = self._values.get(address)
        if found is not None:
            return found()
        # A scan per list (in C; a keep asks for a few pages): an index of every page was
        # slower, 1.2 against 0.3 ms for five pages of 7,000.
        for items, pages in self._paged:
            try:
                k = pages.index(address)
            except ValueError:
                continue
            page = items[k * PAGE:(k + 1) * PAGE]
            if any(item is UNREAD for item in page):
                raise NotRead(f"page {address} was not read")
            return page
        raise KeyError(address)

    def raw(self, address: str) -> bytes:
        """The canonical JSON of one of its parts (the bytes its address hashes)."""
        if address == self.root:
            return self.root_raw
        found = self.children.get(address)
        if found is not None:
            return canonical_json_of_content(list(found))
        # A leaf the hash of this content (or its source's) has just encoded.
        return RECENT_PARTS.take(address) or canonical_json_of_content(self._value(address))

    def value(self, address: str) -> Any:
        """One of its parts as `raw`'s bytes parse, for a cache of decoded parts: containers
        of its own (a page, a bucket, a node are made here; a whole value's top level is
        copied), sharing the content's items, which the fold never changes in place."""
        if address == self.root:
            return self.tree
        found = self.children.get(address)
        if found is not None:
            return list(found)
        value = self._value(address)
        return dict(value) if isinstance(value, dict) else (
            list(value) if isinstance(value, list) else value)


def _whole(value: Any) -> Any:
    return value


def _bucket(items: dict[str, Any], ids: tuple[str, ...]) -> dict[str, Any]:
    return {i: items[i] for i in ids}


def content_parts(content: Content, hashes: PartHashes) -> ContentParts:
    """`content` cut into parts; `hashes` knows its parts' addresses (it learns those it did
    not know, as a hash of the content would)."""
    manifest = hashes.manifest(content)
    tree, root_raw, root = hashes.tree(manifest)
    children: dict[str, tuple[str, ...]] = {}
    values: dict[str, Callable[[], Any]] = {}
    lists: list[tuple[list[Any], list[str]]] = []
    tops: list[str] = []

    def paged(items: list[Any], pages: list[str], nodes: list[str]) -> None:
        """A list, its pages and its group nodes: the root object's (the tree made them
        from these very pages), not each group's address found again."""
        lists.append((items, pages))
        for node, at in zip(nodes, range(0, len(pages), GROUP), strict=True):
            children[node] = tuple(pages[at:at + GROUP])
        tops.extend(nodes)

    for field, kept in manifest.items():
        value = content[field]
        if isinstance(kept, str):
            values.setdefault(kept, partial(_whole, value))
            tops.append(kept)
        elif isinstance(kept, list):
            paged(value, kept, tree[field])
        elif all(isinstance(v, list) for v in kept.values()):
            for key, pages in kept.items():
                paged(value[key], pages, tree[field][key])
        elif field == CHANNELS:
            for name, part in kept.items():
                values.setdefault(part, partial(_whole, value[name]))
                tops.append(part)
        else:
            # The buckets (memories): their members as the manifest just brought them up to
            # date, not every id's bucket again.
            members = hashes.buckets(value)
            for bucket, part in kept.items():
                ids = tuple(members.get(int(bucket), ()))
                values.setdefault(part, partial(_bucket, value, ids))
                tops.append(part)
    children[root] = tuple(dict.fromkeys(tops))
    return ContentParts(root, tree, root_raw, children, values, lists)


Fetch = Callable[[Collection[str]], Mapping[str, Any]]
"""Parts' parsed JSON by address (raising when one is missing); one call per level."""


def _paged_lists(tree: Mapping[str, Any]) -> Iterator[tuple[str, str | None, list[str]]]:
    """Each paged list of a root object: its field, its key (None: the field is the list)
    and its group nodes."""
    for field, value in tree.items():
        if isinstance(value, list):
            yield field, None, value
        elif isinstance(value, dict):
            yield from ((field, key, nodes) for key, nodes in value.items()
                        if isinstance(nodes, list))


def _lists_in(value: Any) -> Iterable[list[str]]:
    if isinstance(value, list):
        yield value
    elif isinstance(value, dict):
        yield from (v for v in value.values() if isinstance(v, list))


def _singles_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        yield from (v for v in value.values() if isinstance(v, str))


def tree_lists(tree: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each paged list's group nodes in a root object, by list field or `<field>|<key>`."""
    out: dict[str, list[str]] = {}
    for field, value in tree.items():
        if isinstance(value, list):
            out[field] = value
        elif isinstance(value, dict):
            out.update((f"{field}|{key}", nodes) for key, nodes in value.items()
                       if isinstance(nodes, list))
    return out


def parts_base(tenant: str, root: str, tree: Mapping[str, Any], tops: Iterable[str],
               nodes: Mapping[str, Sequence[str]]) -> PartsBase:
    """The base a content stored under `root` gives: `tree` is its root object, `tops` what
    that refers to (`tree_tops`, known to each caller), `nodes` each group node's pages."""
    lists = tree_lists(tree)
    return PartsBase(tenant, root, frozenset(tops), lists,
                     {g: nodes[g] for groups_ in lists.values() for g in groups_})


def children_of(node: Any) -> set[str]:
    """What a stored node refers to: a root object its tops, a group node its pages; nothing
    for a leaf."""
    if isinstance(node, list):
        return set(node)
    return tree_tops(node)


def tree_tops(tree: Any) -> set[str]:
    """What a root object refers to (`ContentParts.tops`): its group nodes and single parts;
    nothing for what is not a root object."""
    if not isinstance(tree, dict):
        return set()
    return {a for v in tree.values()
            for a in (*(g for nodes in _lists_in(v) for g in nodes), *_singles_in(v))}


def content_of_tree(tree: dict[str, Any], fetch: Fetch, tail: InPart | None = None,
                    stored: tuple[str, str] | None = None) -> tuple[Content, PartHashes]:
    """The content a root object describes, its parts fetched level by level (group nodes and
    single parts, then pages); with the addresses of its parts, so hashing it costs nothing.

    The fetched values may be shared with other contents (a cache of decoded parts): the
    content gets containers of its own (lists, the memories and MCP objects) and shares only
    their items, which the fold never changes in place (domain.state).

    `tail`: read only each list's last pages (what appends and the results of recent calls
    touch), every item before them being UNREAD: the lists have their true lengths and every
    part its address, so events folded onto it and its hash cost what they change; an event
    that looks at an unread item raises NotRead. A content whose lists hold fewer than
    `tail.from_items` items (their pages tell, before any is read) is read whole.

    `stored`: (tenant, root) where this tree is stored: the addresses' base (PartsBase)."""
    tops = fetch(tree_tops(tree))
    # Each paged list once, by (field, key: None for a list field): its group nodes and its
    # pages' addresses, from the group nodes read.
    paged = {(field, key): (nodes, [p for g in nodes for p in tops[g]])
             for field, key, nodes in _paged_lists(tree)}
    # Its group nodes' addresses, as read: a hash of it then hashes none of them again.
    GROUP_NODES.remember_all((node, tops[node]) for nodes, _ in paged.values()
                             for node in nodes)

    keep = tail.pages if tail is not None and PAGE * sum(
        len(addresses) for _, addresses in paged.values()) >= tail.from_items else None

    read_whole = tail.whole if tail is not None else frozenset()
    besides = dict(tail.items) if tail is not None else {}

    def read(count: int, field: str) -> range | set[int]:
        """Which of a list's `count` pages are read."""
        if keep is None or count <= keep or field in read_whole:
            return range(count)
        chosen = set(range(count - keep, count))
        chosen.update(k for k in (at // PAGE for at in besides.get(field, ())) if k < count)
        return chosen

    chosen = {at: read(len(addresses), at[0]) for at, (_, addresses) in paged.items()}
    pages = fetch({paged[at][1][k] for at, ks in chosen.items() for k in ks})

    def run_by_run(addresses: list[str], read_: Collection[int]) -> list[Any]:
        items: list[Any] = []
        done = 0  # pages placed so far
        for k in sorted(read_):
            # The pages not read before it in one piece (every page but the last is full):
            # 900 pages at 100k events, most of them not read by a fork.
            items += [UNREAD] * (PAGE * (k - done))
            items += pages[addresses[k]]
            done = k + 1
        items += [UNREAD] * (PAGE * (len(addresses) - done))
        return items

    def unpaged(field: str, key: str | None) -> tuple[list[Any], list[str]]:
        addresses = paged[(field, key)][1]
        read_ = chosen[(field, key)]
        last = len(addresses) - 1
        if len(read_) == len(addresses) or last not in read_:
            return run_by_run(addresses, read_), addresses
        # Read in part, its last page among those read: the list made at its length at
        # once, the pages read put in place. Extending a list by the unread run copied it
        # again item by item: 0.33 ms for the 57,000 items of 900 pages, 0.03 made at once.
        items = [UNREAD] * (PAGE * last + len(pages[addresses[last]]))
        for k in read_:
            page = pages[addresses[k]]
            if k != last and len(page) != PAGE:  # not the layout of the rule: as it is read
                return run_by_run(addresses, read_), addresses
            items[k * PAGE:k * PAGE + len(page)] = page
        return items, addresses

    content = empty_content()
    manifest: dict[str, Any] = {}
    members: dict[int, Iterable[str]] | None = None  # the memory buckets' ids, as stored
    for field, value in tree.items():
        if isinstance(value, str):
            # Its own container: a fetched part may be shared (application.part_cache).
            content[field], manifest[field] = dict(tops[value]), value
        elif isinstance(value, list):
            content[field], manifest[field] = unpaged(field, None)
        else:
            whole: dict[str, Any] = {}
            kept: dict[str, Any] = {}
            for key, nodes in value.items():
                if isinstance(nodes, list):
                    whole[key], kept[key] = unpaged(field, key)
                elif field == CHANNELS:
                    whole[key], kept[key] = tops[nodes], nodes
                else:
                    whole.update(tops[nodes])
                    kept[key] = nodes
            content[field], manifest[field] = whole, kept
            if field == "memories" and all(key.isdecimal() for key in value):
                members = {int(key): tops[nodes].keys() for key, nodes in value.items()}
    hashes = PartHashes.of_manifest(manifest, content, members, tree)
    if stored is not None:
        hashes.base = parts_base(*stored, tree, tops, tops)
    return content, hashes
