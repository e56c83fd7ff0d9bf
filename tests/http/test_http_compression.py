"""GET context's large answers go zstd-compressed to clients that accept it (http.compression):
a real server, a real trace agent, the bytes on the wire read raw and decompressed; ETags and
304s across both forms; small answers, refusing clients and the setting off get plain bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard
from http_support import LiveServer, serve_two
from support import make_settings

from ctxstore.infrastructure.http.cache import StateCache
from ctxstore.infrastructure.http.compression import accepts_zstd
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES

TAU = TRACES / "tau-bench" / "gpt-4o-airline.first-5-runs.json"
FLOOR = 16 * 1024
ZSTD = {"Accept-Encoding": "zstd"}
PLAIN = {"Accept-Encoding": "identity"}


@pytest.mark.parametrize(("header", "accepted"), [
    ("zstd", True), ("gzip, deflate, zstd", True), ("ZSTD;q=0.5", True), ("*", True),
    ("gzip, *;q=0.1", True), (" zstd ; q=1 ", True),
    (None, False), ("", False), ("gzip, deflate", False), ("identity", False),
    ("zstd;q=0", False), ("*;q=0", False), ("*, zstd;q=0", False), ("zstd;q=0, *", False),
    ("zstd;q=abc", False), ("zstd;q=2", False), ("zstd;q=-1", False), ("xzstd", False),
])
def test_accept_encoding_is_read_as_rfc_9110_says(header: str | None, accepted: bool) -> None:
    assert accepts_zstd(header) is accepted


@pytest.fixture(scope="module")
def servers(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[LiveServer, LiveServer]]:
    """(compressing, with compression off) over one store."""
    settings = make_settings("postgres", tmp_path_factory.mktemp("compression"), postgres_dsn,
                             checkpoint_interval_minutes=0)
    yield from serve_two(settings, settings.model_copy(update={"http_compression": False}))


@pytest.fixture(scope="module")
def agent(servers: tuple[LiveServer, LiveServer]) -> str:
    trace = load_trace(TAU)[0]
    body = [e.model_dump(mode="json", exclude_none=True) for e in trace.envelopes]
    with servers[0].client() as c:
        r = c.post(f"/api/v1/agents/{trace.agent_id}/events", json=body)
    assert r.status_code == 201, r.text
    return trace.agent_id


def raw_get(server: LiveServer, path: str, headers: dict[str, str],
            params: dict[str, Any] | None = None) -> tuple[httpx.Response, bytes]:
    """The answer and its body as sent (not decoded)."""
    with server.client() as c, c.stream("GET", path, headers=headers, params=params) as r:
        return r, b"".join(r.iter_raw())


def test_a_large_answer_goes_compressed_to_a_client_that_accepts_zstd(
        servers: tuple[LiveServer, LiveServer], agent: str) -> None:
    on = servers[0]
    url = f"/api/v1/agents/{agent}/context"
    plain, plain_bytes = raw_get(on, url, PLAIN)
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert len(plain_bytes) >= FLOOR  # the trace agent is large enough to be compressed
    packed, packed_bytes = raw_get(on, url, ZSTD)
    assert packed.status_code == 200 and packed.headers["content-encoding"] == "zstd"
    assert packed.headers["content-type"] == "application/json"
    assert int(packed.headers["content-length"]) == len(packed_bytes) < len(plain_bytes) // 2
    assert zstandard.ZstdDecompressor().decompress(packed_bytes) == plain_bytes
    # Its own strong tag; both forms tell caches they vary by Accept-Encoding.
    tag, packed_tag = plain.headers["etag"], packed.headers["etag"]
    assert packed_tag == tag[:-1] + '-zstd"' and not packed_tag.startswith("W/")
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    # Compressed once per version and window: the cache holds it, and serves it again.
    states: StateCache = on.app.state.api.states
    made = states.made
    assert raw_get(on, url, ZSTD)[1] == packed_bytes and states.made == made
    assert any(k[2].endswith("\0zstd") for k in states._items)
    # httpx asks for zstd by default and decodes it: a client sees the same JSON.
    with on.client() as c:
        assert c.get(url).json() == json.loads(plain_bytes)


@pytest.mark.parametrize("header", ["identity", "gzip, deflate", "zstd;q=0", "*;q=0", "br"])
def test_a_client_that_does_not_accept_zstd_gets_plain_bytes(
        servers: tuple[LiveServer, LiveServer], agent: str, header: str) -> None:
    r, body = raw_get(servers[0], f"/api/v1/agents/{agent}/context",
                      {"Accept-Encoding": header})
    assert r.status_code == 200 and "content-encoding" not in r.headers
    assert r.headers["vary"] == "Accept-Encoding" and not r.headers["etag"].endswith('-zstd"')
    assert json.loads(body)["agent_id"] == agent and len(body) >= FLOOR


def test_either_tag_answers_304_with_the_tag_it_named(
        servers: tuple[LiveServer, LiveServer], agent: str) -> None:
    on = servers[0]
    url = f"/api/v1/agents/{agent}/context"
    tag = raw_get(on, url, PLAIN)[0].headers["etag"]
    packed_tag = raw_get(on, url, ZSTD)[0].headers["etag"]
    for named, accept in ((tag, ZSTD), (packed_tag, ZSTD), (packed_tag, PLAIN),
                          (f"W/{packed_tag}", ZSTD)):
        r, body = raw_get(on, url, {**accept, "If-None-Match": named})
        assert r.status_code == 304 and body == b"", (named, accept)
        assert r.headers["etag"] == named.removeprefix("W/")
        assert r.headers["vary"] == "Accept-Encoding"
    # Another version's tags, plain or compressed, are not this one's.
    old = raw_get(on, url, ZSTD, {"version": 2})[0].headers["etag"]
    assert raw_get(on, url, {**ZSTD, "If-None-Match": old})[0].status_code == 200


def test_a_small_answer_goes_plain_whatever_the_client_accepts(
        servers: tuple[LiveServer, LiveServer], agent: str) -> None:
    r, body = raw_get(servers[0], f"/api/v1/agents/{agent}/context", ZSTD, {"version": 1})
    assert r.status_code == 200 and "content-encoding" not in r.headers
    assert len(body) < FLOOR and json.loads(body)["version"] == 1


def test_a_checkpoints_state_goes_compressed_too(
        servers: tuple[LiveServer, LiveServer], agent: str) -> None:
    on = servers[0]
    with on.client() as c:
        taken = c.post(f"/api/v1/context/capture/{agent}", json={"label": "compressed"})
    assert taken.status_code == 201, taken.text
    url = f"/api/v1/agents/{agent}/context"
    params = {"package_id": taken.json()["package_id"]}
    plain, plain_bytes = raw_get(on, url, PLAIN, params)
    packed, packed_bytes = raw_get(on, url, ZSTD, params)
    assert packed.headers["content-encoding"] == "zstd"
    assert zstandard.ZstdDecompressor().decompress(packed_bytes) == plain_bytes


def test_with_compression_off_every_answer_is_plain(
        servers: tuple[LiveServer, LiveServer], agent: str) -> None:
    off = servers[1]
    r, body = raw_get(off, f"/api/v1/agents/{agent}/context", ZSTD)
    assert r.status_code == 200 and "content-encoding" not in r.headers
    assert "vary" not in r.headers and len(body) >= FLOOR
    assert raw_get(off, f"/api/v1/agents/{agent}/context",
                   {**ZSTD, "If-None-Match": r.headers["etag"]})[0].status_code == 304


def test_the_fast_path_and_the_route_send_the_same_bytes(
        servers: tuple[LiveServer, LiveServer], agent: str, postgres_dsn: str,
        tmp_path: Path) -> None:
    """Taken by the fast path (one Accept-Encoding) and passed on to FastAPI's route (two
    Accept-Encoding headers, which the fast path leaves to it): the same answer."""
    on = servers[0]
    url = f"{on.url}/api/v1/agents/{agent}/context"
    fast_path: Any = on.app.middleware_stack
    while type(fast_path).__name__ != "FastContextReads":
        fast_path = fast_path.app
    answered = fast_path.answered
    with httpx.Client(timeout=30) as c:
        taken = c.get(url, headers={"Accept-Encoding": "zstd, gzip"})
        assert fast_path.answered == answered + 1
        passed = c.get(url, headers=[("Accept-Encoding", "zstd"), ("Accept-Encoding", "gzip")])
        assert fast_path.answered == answered + 1
    assert taken.status_code == passed.status_code == 200
    assert taken.headers["content-encoding"] == "zstd" and taken.content == passed.content
    for name in ("content-encoding", "etag", "vary", "content-length"):
        assert taken.headers.get(name) == passed.headers.get(name), name
