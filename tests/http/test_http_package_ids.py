"""Reviewer finding 4: a tenant never sees two packages of one id. Importing an id the tenant
can already read (its own, another's public or shared one) is a 409, which reveals nothing it
could not see; an id it cannot read stays importable and stays hidden. Where two tenants still
hold one id, each tenant's list and lookups show one: its own, else the earliest created."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
from ctxpkg_craft import repacked, unpacked
from http_support import LiveServer
from test_http_api import env, new_agent

from ctxstore.domain.pages import hash_like
from ctxstore.domain.state import content_of

CTXPKG = "application/vnd.ctxstore.ctxpkg"


def captured(c: httpx.Client, access_level: str, **extra: Any) -> tuple[str, bytes]:
    """A new agent's checkpoint of that access level: its id and its exported file."""
    agent = new_agent()
    c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
    r = c.post(f"/api/v1/context/capture/{agent}",
               json={"access_level": access_level, **extra})
    assert r.status_code == 201, r.text
    package_id = r.json()["package_id"]
    exported = c.get(f"/api/v1/context/packages/{package_id}/export")
    exported.raise_for_status()
    return package_id, exported.content


def post_package(c: httpx.Client, data: bytes) -> httpx.Response:
    return c.post("/api/v1/context/packages/import", content=data,
                  headers={"content-type": CTXPKG})


def listed(c: httpx.Client, package_id: str) -> list[dict[str, Any]]:
    """The tenant's catalogue rows of that id (by the id filter, and in the full list)."""
    items = c.get("/api/v1/context/packages", params={"q": package_id, "limit": 1000}
                  ).json()["items"]
    every = c.get("/api/v1/context/packages", params={"limit": 1000}).json()["items"]
    assert ([p for p in every if p["package_id"] == package_id]
            == [p for p in items if p["package_id"] == package_id])
    return [p for p in items if p["package_id"] == package_id]


def relabelled(data: bytes, package_id: str, label: str, access_level: str, *,
               forget_messages: bool = False) -> bytes:
    """The same state (or without its messages) under another id, label and access level
    (hashes made right)."""
    manifest, state = unpacked(data)
    if forget_messages:
        state["messages"] = []
    manifest = copy.deepcopy(manifest)
    manifest["checkpoint"].update(label=label, access_level=access_level)
    return repacked(manifest, state, package_id)


def test_importing_an_id_the_tenant_can_read_is_409(keyed_server: LiveServer) -> None:
    with (keyed_server.client("key-a") as a, keyed_server.client("key-b") as b,
          keyed_server.client("key-c") as c):
        public_id, public_file = captured(a, "public")
        shared_id, shared_file = captured(a, "shared", shared_with=["tenant-b"])
        for data, package_id in ((public_file, public_id), (shared_file, shared_id)):
            r = post_package(b, data)
            assert r.status_code == 409, r.text
            assert [p["label"] for p in listed(b, package_id)] == [None]
            assert b.get(f"/api/v1/context/packages/{package_id}").status_code == 200
        # C cannot read A's shared one: importing it is fine, and C then sees its own only.
        r = post_package(c, shared_file)
        assert r.status_code == 201, r.text
        assert len(listed(c, shared_id)) == 1
        assert [p["origin"] for p in listed(c, shared_id)] == ["imported"]
        assert [p["origin"] for p in listed(a, shared_id)] == ["captured"]
        # Its own again, same content: the one it holds (idempotent); other content: 409.
        assert post_package(a, public_file).status_code == 201
        other = relabelled(public_file, public_id, "other", "public", forget_messages=True)
        r = post_package(a, other)
        assert r.status_code == 409, r.text
        assert len(listed(a, public_id)) == len(listed(c, public_id)) == 1
        assert post_package(c, other).status_code == 409


def test_an_id_the_tenant_cannot_read_stays_importable_and_hidden(keyed_server: LiveServer
                                                                  ) -> None:
    with keyed_server.client("key-a") as a, keyed_server.client("key-b") as b:
        private_id, private_file = captured(a, "private")
        r = post_package(b, private_file)
        assert r.status_code == 201, r.text
        assert [p["origin"] for p in listed(a, private_id)] == ["captured"]
        assert [p["origin"] for p in listed(b, private_id)] == ["imported"]


def test_a_later_collision_shows_each_tenant_one_package(keyed_server: LiveServer) -> None:
    """B imports X privately first; A (who cannot see it) imports X as public. B's list and
    lookups show its own X only; C's list shows A's X, once; A sees its own."""
    package_id = f"shared-id-{uuid.uuid4().hex[:8]}"
    with (keyed_server.client("key-a") as a, keyed_server.client("key-b") as b,
          keyed_server.client("key-c") as c):
        _, source = captured(a, "private")
        r = post_package(b, relabelled(source, package_id, "b's", "private",
                                       forget_messages=True))
        assert r.status_code == 201, r.text
        r = post_package(a, relabelled(source, package_id, "a's", "public"))
        assert r.status_code == 201, r.text
        for client, label in ((a, "a's"), (b, "b's"), (c, "a's")):
            assert [p["label"] for p in listed(client, package_id)] == [label]
            got = client.get(f"/api/v1/context/packages/{package_id}")
            assert got.status_code == 200 and got.json()["label"] == label
            exported = client.get(f"/api/v1/context/packages/{package_id}/export")
            assert unpacked(exported.content)[0]["checkpoint"]["label"] == label
        # B's restore from X restores its own X.
        mine = new_agent()
        r = b.post(f"/api/v1/agents/{mine}/restore", json={"package_id": package_id})
        assert r.status_code == 200, r.text
        assert r.json()["checkpoint_id"] == package_id
        own = listed(b, package_id)[0]
        restored = b.get(f"/api/v1/agents/{mine}/context").json()
        assert restored["messages"] == []
        # What was restored is B's X: its content hashes to X's integrity hash (in X's scheme).
        assert hash_like(content_of(restored), own["integrity_hash"]) == own["integrity_hash"]
        assert r.json()["source_content_hash"] == restored["content_hash"]
