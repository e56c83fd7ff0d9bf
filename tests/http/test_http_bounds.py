"""Issue 12 §3, finding by finding: what the store accepted and then could not read, or
answered with a 500, is now a 4xx naming the field, and nothing is written."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_support import LiveServer, serve
from support import make_settings
from test_http_api import env, new_agent
from websockets.sync.client import connect

from ctxstore.infrastructure.http.routes.packages import attachment

CTXPKG = "application/vnd.ctxstore.ctxpkg"


@pytest.fixture(scope="module")
def roomy(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Default body and event limits, so deep and odd bodies reach the parser."""
    tmp: Path = tmp_path_factory.mktemp("http-bounds")
    yield from serve(make_settings("postgres", tmp, postgres_dsn))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_envelope(agent: str, output_json: str, **extra: str) -> bytes:
    fields = "".join(f',"{k}":{v}' for k, v in extra.items())
    return (f'{{"event_id":"{new_agent()}","agent_id":"{agent}","type":"tool_result"'
            f'{fields},"data":{{"call_id":"c","output":{output_json}}}}}').encode()


def post_raw(c: httpx.Client, agent: str, body: bytes) -> httpx.Response:
    return c.post(f"/api/v1/agents/{agent}/events", content=body,
                  headers={"content-type": "application/json"})


def assert_refused(r: httpx.Response, field_start: str, status: int = 422) -> None:
    assert r.status_code == status, r.text
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f.startswith(field_start) for f in fields), fields


def assert_nothing_written(c: httpx.Client, agent: str) -> None:
    assert c.get(f"/api/v1/agents/{agent}/context").status_code == 404
    assert agent not in [a["agent_id"] for a in c.get("/api/v1/agents?limit=1000").json()["items"]]


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z",
                                  "9999-12-31T23:59:59Z"])
def test_occurred_at_out_of_range_is_refused_and_the_agents_list_still_reads(
        roomy: LiveServer, when: str) -> None:
    agent = new_agent()
    with roomy.client() as c:
        r = post_raw(c, agent, raw_envelope(agent, "1", occurred_at=json.dumps(when)))
        assert_refused(r, "occurred_at")
        assert c.get("/api/v1/agents").status_code == 200
        assert_nothing_written(c, agent)


def test_occurred_at_at_the_epoch_and_now_is_fine(roomy: LiveServer) -> None:
    agent = new_agent()
    with roomy.client() as c:
        r = post_raw(c, agent, raw_envelope(agent, "1", occurred_at='"1970-01-01T00:00:00Z"'))
        assert r.status_code == 201, r.text
        assert c.get("/api/v1/agents").status_code == 200


@pytest.mark.parametrize("depth", [65, 254, 255, 990, 1100, 100_000])
def test_deep_json_is_refused_never_a_500(roomy: LiveServer, depth: int) -> None:
    agent = new_agent()
    with roomy.client() as c:
        r = post_raw(c, agent, raw_envelope(agent, nested(depth)))
        assert r.status_code == 422, r.text
        assert "nested more than 64" in r.text
        assert_nothing_written(c, agent)


def test_depth_within_the_bound_reads_everywhere(roomy: LiveServer) -> None:
    """62 levels inside `data.output` is an envelope 64 deep: accepted, and readable."""
    agent = new_agent()
    with roomy.client() as c:
        r = post_raw(c, agent, raw_envelope(agent, nested(62)))
        assert r.status_code == 201, r.text
        assert c.get(f"/api/v1/agents/{agent}/context").status_code == 200
        assert c.get(f"/api/v1/agents/{agent}/diff", params={"from": 0}).status_code == 200
        assert c.post(f"/api/v1/agents/fork-{agent}/restore",
                      json={"source_agent_id": agent}).status_code == 200


@pytest.mark.parametrize("output", ['"\\ud800"', '"a\\udfffb"', '{"\\udc00":1}',
                                    '{"k":{"x\\ud83d":1}}', '["\\ud800\\ud800"]'])
def test_lone_surrogates_in_values_and_keys_are_refused(roomy: LiveServer, output: str) -> None:
    agent = new_agent()
    with roomy.client() as c:
        r = post_raw(c, agent, raw_envelope(agent, output))
        assert_refused(r, "data.output")
        assert "surrogate" in r.text
        assert_nothing_written(c, agent)


def test_a_surrogate_pair_is_an_ordinary_character(roomy: LiveServer) -> None:
    agent = new_agent()
    with roomy.client() as c:
        r = post_raw(c, agent, raw_envelope(agent, '{"\\ud83d\\ude00":"\\ud83d\\ude00"}'))
        assert r.status_code == 201, r.text
        ctx = c.get(f"/api/v1/agents/{agent}/context")
        assert ctx.status_code == 200 and '{"😀":"😀"}' in ctx.text


@pytest.mark.parametrize("number", [str(2**63), str(-(2**63) - 1), str(2**64), "1" + "0" * 40])
def test_integers_beyond_64_bits_are_refused(roomy: LiveServer, number: str) -> None:
    agent = new_agent()
    with roomy.client() as c:
        assert_refused(post_raw(c, agent, raw_envelope(agent, number)), "data.output")
        assert_nothing_written(c, agent)
        ok = post_raw(c, agent, raw_envelope(agent, f"[{2**63 - 1},{-(2**63)}]"))
        assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(("path", "param"), [("context", "version"),
                                             ("events", "after_version")])
def test_version_query_params_beyond_64_bits_are_422(roomy: LiveServer, path: str,
                                                     param: str) -> None:
    agent = new_agent()
    with roomy.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
        for value in (2**63, 10**30):
            r = c.get(f"/api/v1/agents/{agent}/{path}", params={param: value})
            assert_refused(r, f"query.{param}")
        assert c.get(f"/api/v1/agents/{agent}/{path}",
                     params={param: 2**63 - 1}).status_code in (200, 404)


def test_capture_label_and_session_are_bounded(roomy: LiveServer) -> None:
    agent = new_agent()
    with roomy.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
        r = c.post(f"/api/v1/context/capture/{agent}", json={"label": "x" * 200_000})
        assert_refused(r, "body.label")
        r = c.post(f"/api/v1/context/capture/{agent}", content=b'{"label":"\\ud800"}',
                   headers={"content-type": "application/json"})
        assert_refused(r, "body.label")
        assert c.get("/api/v1/context/packages", params={"agent_id": agent}).json()["total"] == 0
        ok = c.post(f"/api/v1/context/capture/{agent}",
                    json={"label": "before deploy: v1.2 (prod)", "session_id": "s 1:a.b"})
        assert ok.status_code == 201, ok.text


# .ctxpkg -------------------------------------------------------------------------------------

_HEADER = struct.Struct(">8sIQ")


def exported(c: httpx.Client) -> bytes:
    agent = new_agent()
    c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
    package_id = c.post(f"/api/v1/context/capture/{agent}").json()["package_id"]
    r = c.get(f"/api/v1/context/packages/{package_id}/export")
    r.raise_for_status()
    return r.content


def reframed(data: bytes, manifest_bytes: bytes) -> bytes:
    """The same package with another manifest, framed and checksummed as a real one."""
    magic, manifest_n, body_n = _HEADER.unpack_from(data)
    body = data[_HEADER.size + manifest_n:_HEADER.size + manifest_n + body_n]
    head = _HEADER.pack(magic, len(manifest_bytes), len(body)) + manifest_bytes + body
    return head + hashlib.sha256(head).digest()


def with_checkpoint(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        _, manifest_n, _ = _HEADER.unpack_from(data)
        manifest = json.loads(data[_HEADER.size:_HEADER.size + manifest_n])
        change(manifest["checkpoint"])
        return reframed(data, json.dumps(manifest).encode())
    return edit


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda checkpoint: checkpoint.__setitem__(key, value)


def _raw_version(data: bytes) -> bytes:
    _, manifest_n, _ = _HEADER.unpack_from(data)
    text = data[_HEADER.size:_HEADER.size + manifest_n]
    version = json.loads(text)["checkpoint"]["version"]
    return reframed(data, text.replace(f'"version":{version}'.encode(), b'"version":1e20', 1))


BAD_PACKAGES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "deep manifest": (lambda d: reframed(d, ('{"x":' + nested(100_000) + "}").encode()),
                      "manifest"),
    "deep manifest 200": (lambda d: reframed(d, ('{"x":' + nested(200) + "}").encode()),
                          "manifest"),
    "bad created_at": (with_checkpoint(_set("created_at", "yesterday")),
                       "manifest.checkpoint.created_at"),
    "created_at year 1": (with_checkpoint(_set("created_at", "0001-01-01T00:00:00+14:00")),
                          "manifest.checkpoint.created_at"),
    "version 1e20": (_raw_version, "manifest.checkpoint.version"),
    "version 2**63": (with_checkpoint(_set("version", 2**63)), "manifest.checkpoint.version"),
    "crlf id": (with_checkpoint(_set("package_id", "ckpt-a\r\nSet-Cookie: x=1")),
                "manifest.checkpoint.package_id"),
    "quote id": (with_checkpoint(_set("package_id", 'ckpt-"a')),
                 "manifest.checkpoint.package_id"),
    "slash id": (with_checkpoint(_set("package_id", "ckpt/a")), "manifest.checkpoint.package_id"),
    "dotdot id": (with_checkpoint(_set("package_id", "../../etc")),
                  "manifest.checkpoint.package_id"),
    "200 KB label": (with_checkpoint(_set("label", "x" * 200_000)), "manifest.checkpoint.label"),
    "surrogate label": (with_checkpoint(_set("label", "\ud800")), "manifest"),
}


@pytest.mark.parametrize("case", list(BAD_PACKAGES))
def test_ctxpkg_out_of_bounds_is_refused_and_nothing_is_written(roomy: LiveServer,
                                                                case: str) -> None:
    make, field = BAD_PACKAGES[case]
    with roomy.client() as c:
        data = exported(c)
        before = c.get("/api/v1/context/packages").json()["total"]
        r = c.post("/api/v1/context/packages/import", content=make(data),
                   headers={"content-type": CTXPKG})
        assert_refused(r, field)
        assert c.get("/api/v1/context/packages").json()["total"] == before


def test_an_untouched_reframed_package_still_imports(roomy: LiveServer) -> None:
    """The tampering helper itself keeps a package valid: the refusals above are the bounds."""
    with roomy.client() as c:
        data = exported(c)
        edited = with_checkpoint(_set("package_id", "ckpt-elsewhere_1"))(data)
        r = c.post("/api/v1/context/packages/import", content=edited,
                   headers={"content-type": CTXPKG})
        assert r.status_code == 201, r.text
        r = c.get("/api/v1/context/packages/ckpt-elsewhere_1/export")
        assert r.status_code == 200
        assert r.headers["content-disposition"] == 'attachment; filename="ckpt-elsewhere_1.ctxpkg"'


@pytest.mark.parametrize("package_id", ['a"b', "a\r\nX: y", "../../x", "a/b", "", "é;x=1"])
def test_content_disposition_is_safe_for_any_stored_id(package_id: str) -> None:
    header = attachment(package_id)
    name = header.removeprefix('attachment; filename="').removesuffix('.ctxpkg"')
    assert name and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in name), header


# WebSocket -------------------------------------------------------------------------------------


@pytest.mark.parametrize("frame", [
    json.dumps({"action": "unfollow", "agent_ids": 5}),
    '{"action":"follow","agent_ids":' + nested(100_000) + "}",
    nested(100_000),
    b"\x00\xffbinary",
    "not json",
])
def test_ws_bad_frames_get_an_error_and_the_socket_stays_open(roomy: LiveServer,
                                                             frame: str | bytes) -> None:
    with connect(roomy.ws_url, max_size=None) as ws:
        ws.send(frame)
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error" and reply["data"]["status"] == 422, reply
        ws.send(json.dumps({"action": "ping", "request_id": "p"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong", "data": {},
                                                   "request_id": "p"}


@pytest.mark.parametrize(("query", "field"), [
    ("label=%ED%A0%80", "query.label"),  # an encoded lone surrogate
    ("session_id=%FF", "query.session_id"),
    ("label=ok&session_id=a%C3", "query.session_id"),  # a truncated sequence
    ("lab%FFel=x", "query.lab\\xffel"),  # the name itself
])
def test_query_strings_that_are_not_utf8_are_422_never_replaced(
        roomy: LiveServer, query: str, field: str) -> None:
    """Starlette decodes the query with errors="replace": the raw bytes are checked first, on
    every route, so nothing is written with U+FFFD in place of what was sent."""
    agent = new_agent()
    with roomy.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=env(agent)).raise_for_status()
        r = c.post(f"/api/v1/context/capture/{agent}?{query}")
        assert_refused(r, field)
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert c.get(f"/api/v1/context/packages?agent_id={agent}").json()["total"] == 0
        for path in (f"/api/v1/agents/{agent}/events", f"/api/v1/agents/{agent}/context",
                     "/api/v1/agents", "/api/v1/context/packages", "/healthz"):
            assert_refused(c.get(f"{path}?{query}"), field)
        good = c.post(f"/api/v1/context/capture/{agent}?label=caf%C3%A9%20%F0%9F%8D%B5")
        assert good.status_code == 201 and good.json()["label"] == "café 🍵", good.text


def test_a_path_that_is_not_utf8_is_422(roomy: LiveServer) -> None:
    with roomy.client() as c:
        assert_refused(c.get("/api/v1/context/packages/ab%FFcd"), "path")
        assert_refused(c.post("/api/v1/context/restore/ab%ED%A0%80?target_agent_id=x"), "path")


def test_a_websocket_query_that_is_not_utf8_is_refused(roomy: LiveServer) -> None:
    with pytest.raises(Exception, match="422"), connect(f"{roomy.ws_url}?x=%FF"):
        pass


def test_an_event_id_holding_a_nul_is_refused_by_name(roomy: LiveServer) -> None:
    """PostgreSQL text cannot hold U+0000; the event id is looked up as text (idempotency), so
    it is refused at the door, not failed by the database (a 500). A NUL in the data is kept."""
    agent = new_agent()
    with roomy.client() as c:
        bad = {"event_id": "e\x00", "agent_id": agent, "type": "message",
               "data": {"role": "user", "content": "hi"}}
        r = c.post(f"/api/v1/agents/{agent}/events", json=bad)
        assert_refused(r, "event_id")
        assert "NUL" in r.text
        assert_nothing_written(c, agent)
        fine = {**bad, "event_id": "e1", "data": {"role": "user", "content": "a\x00b"}}
        assert c.post(f"/api/v1/agents/{agent}/events", json=fine).status_code == 201
        ctx = c.get(f"/api/v1/agents/{agent}/context").json()
        assert ctx["messages"][0]["content"] == "a\x00b"
        assert c.get("/api/v1/search", params={"q": "a\x00b"}).status_code == 200
