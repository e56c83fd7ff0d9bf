"""Encoded answers of GET context, made once per (agent key, version, variant) and served as
bytes: concurrent misses make an entry once, the latest is keyed by its version (a new event is
a new entry, never a stale answer), one tenant's entry never answers another, and the cache
stays within its bytes."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from http_support import LiveServer

from ctxstore.infrastructure.http.cache import StateCache, encode_json

KEY_A = {"X-API-Key": "key-a"}
KEY_B = {"X-API-Key": "key-b"}


def test_concurrent_misses_make_an_entry_once() -> None:
    cache = StateCache()
    release = threading.Event()
    calls: list[int] = []

    def make() -> bytes:
        calls.append(1)
        release.wait(30)
        return b'{"made":1}'

    with ThreadPoolExecutor(11) as pool:
        leader = pool.submit(cache.get_or_make, "agent", 3, "", make)
        while ("agent", 3, "") not in cache._making:  # the leader is making it
            threading.Event().wait(0.001)
        waiters = [pool.submit(cache.get_or_make, "agent", 3, "", make) for _ in range(10)]
        release.set()
        results = [leader.result(30)] + [w.result(30) for w in waiters]
    assert results == [b'{"made":1}'] * 11
    assert len(calls) == 1 and cache.made == 1
    assert cache.get("agent", 3) == b'{"made":1}'
    # Another variant or version is another entry.
    assert cache.get_or_make("agent", 3, "tail=5", lambda: b"[]") == b"[]"
    assert cache.get_or_make("agent", 4, "", lambda: b"{}") == b"{}" and cache.made == 3


def test_a_failed_make_is_not_cached_and_each_waiter_makes_its_own() -> None:
    cache = StateCache()
    release = threading.Event()

    def fail() -> bytes:
        release.wait(30)
        raise LookupError("no such version")

    with ThreadPoolExecutor(2) as pool:
        leader = pool.submit(cache.get_or_make, "agent", 1, "", fail)
        while ("agent", 1, "") not in cache._making:
            threading.Event().wait(0.001)
        waiter = pool.submit(cache.get_or_make, "agent", 1, "", lambda: b"mine")
        release.set()
        with pytest.raises(LookupError):
            leader.result(30)
        assert waiter.result(30) == b"mine"
    assert cache._making == {}


def test_the_cache_stays_within_its_bytes_least_recently_used_out() -> None:
    cache = StateCache(max_bytes=400)
    for v in range(5):
        cache.put("agent", v, bytes(100))
    assert cache.get("agent", 0) is None and cache.get("agent", 1) is not None
    cache.put("agent", 5, bytes(100))  # 1 was used last: 2 goes
    assert cache.get("agent", 1) is not None and cache.get("agent", 2) is None
    cache.put("agent", 6, bytes(101))  # over a quarter of the cache: never kept
    assert cache.get("agent", 6) is None and cache._bytes <= 400


def test_encode_json_falls_back_where_orjson_refuses() -> None:
    assert encode_json({"a": [1, "é", None]}) == b'{"a":[1,"\xc3\xa9",null]}'
    assert encode_json({1: "x"}) == b'{"1":"x"}'  # orjson refuses a non-string key


def _events(agent: str, n: int) -> list[dict[str, Any]]:
    return [{"event_id": str(uuid.uuid4()), "agent_id": agent, "type": "message",
             "data": {"role": "user", "content": f"message {i}"}} for i in range(n)]


def test_a_version_is_encoded_once_and_the_latest_moves_with_each_event(
        server: LiveServer) -> None:
    agent = f"cache-{uuid.uuid4().hex[:8]}"
    states: StateCache = server.app.state.api.states
    url = f"/api/v1/agents/{agent}/context"
    with server.client() as c:
        c.post(f"{url.removesuffix('/context')}/events", json=_events(agent, 3)
               ).raise_for_status()
        made = states.made
        first = c.get(url, params={"version": 2})
        again = c.get(url, params={"version": 2})
        assert first.status_code == again.status_code == 200
        assert first.content == again.content and states.made == made + 1
        assert first.json()["version"] == 2 and len(first.json()["messages"]) == 2
        latest = c.get(url)
        assert latest.json()["version"] == 3 and states.made == made + 2
        # A new event: the latest is another version, so another entry and another ETag.
        c.post(f"{url.removesuffix('/context')}/events", json=_events(agent, 1)
               ).raise_for_status()
        newer = c.get(url)
        assert newer.json()["version"] == 4 and len(newer.json()["messages"]) == 4
        assert newer.headers["etag"] != latest.headers["etag"] and states.made == made + 3
        # If-None-Match with the old latest's tag is not "not modified" any more.
        r = c.get(url, headers={"If-None-Match": latest.headers["etag"]})
        assert r.status_code == 200 and r.json()["version"] == 4
        r = c.get(url, headers={"If-None-Match": newer.headers["etag"]})
        assert r.status_code == 304 and r.content == b"" and states.made == made + 3


def test_concurrent_gets_of_a_new_version_encode_it_once(server: LiveServer) -> None:
    agent = f"herd-{uuid.uuid4().hex[:8]}"
    states: StateCache = server.app.state.api.states
    url = f"{server.url}/api/v1/agents/{agent}/context"
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=_events(agent, 20)).raise_for_status()
    made = states.made

    def get(_: int) -> bytes:
        r = httpx.get(url, params={"tail": 5}, timeout=30)
        r.raise_for_status()
        return r.content

    with ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(get, range(32)))
    assert len(set(bodies)) == 1
    # Not necessarily 1: a request that arrives after the entry is made and evicted would
    # make it again, but this cache (64 MiB) evicts nothing here.
    assert states.made == made + 1


def test_one_tenants_entry_never_answers_another(keyed_server: LiveServer) -> None:
    agent = f"shared-name-{uuid.uuid4().hex[:8]}"
    with keyed_server.client() as c:
        for key, n in ((KEY_A, 2), (KEY_B, 2)):  # the same id, the same version, per tenant
            events = _events(agent, n)
            for i, e in enumerate(events):
                e["data"]["content"] = f"{key['X-API-Key']} says {i}"
            c.post(f"/api/v1/agents/{agent}/events", json=events, headers=key
                   ).raise_for_status()
        a = c.get(f"/api/v1/agents/{agent}/context", headers=KEY_A)
        b = c.get(f"/api/v1/agents/{agent}/context", headers=KEY_B)
        assert a.status_code == b.status_code == 200
        assert [m["content"] for m in a.json()["messages"]] == ["key-a says 0", "key-a says 1"]
        assert [m["content"] for m in b.json()["messages"]] == ["key-b says 0", "key-b says 1"]
        assert a.headers["etag"] != b.headers["etag"]
        # B's tag does not make A's read "not modified", nor the other way round.
        r = c.get(f"/api/v1/agents/{agent}/context", headers={**KEY_A,
                                                                "If-None-Match": b.headers["etag"]})
        assert r.status_code == 200
        # A tenant without the agent sees nothing, cached or not.
        assert c.get(f"/api/v1/agents/{agent}/context",
                     headers={"X-API-Key": "key-c"}).status_code == 404


def test_the_websocket_and_get_share_one_encoded_answer(server: LiveServer) -> None:
    import json

    from websockets.sync.client import connect

    agent = f"ws-cache-{uuid.uuid4().hex[:8]}"
    states: StateCache = server.app.state.api.states
    with server.client() as c:
        events = _events(agent, 4)
        events[0]["data"]["content"] = "é \u2028 \"quoted\""  # spliced as is, still JSON
        c.post(f"/api/v1/agents/{agent}/events", json=events).raise_for_status()
        made = states.made
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "context", "agent_id": agent, "tail": 2,
                                "request_id": "r\u00e9"}))
            reply = json.loads(ws.recv(timeout=30))
        assert reply["type"] == "context" and reply["request_id"] == "r\u00e9"
        over_http = c.get(f"/api/v1/agents/{agent}/context", params={"tail": 2})
        assert reply["data"] == over_http.json() and states.made == made + 1
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "context", "agent_id": agent}))
            whole = json.loads(ws.recv(timeout=30))
        assert "request_id" not in whole and whole["data"]["messages"][0]["content"] == (
            "é \u2028 \"quoted\"")
