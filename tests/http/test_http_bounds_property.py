"""The property of issue 12 §3: whatever envelope is POSTed, either it is refused (4xx, nothing
written) or every reader of that agent answers 200 afterwards: the context now and at each
version, the history, the diff, the evolution, a checkpoint and its export, the agents list,
the web page's own calls, and (once, at the end) the CLI's `agents` and `search --all`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_support import LiveServer, serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_settings

from ctxstore.domain.bounds import INT64_MAX, INT64_MIN

EXAMPLES = 60
ODD_TEXT = ["\ud800", "\udfff", "\ud83d", "\ud83d\ude00", "😀", "\x00", "\u2028", "\ufeff",
            "\u0301", "e\u0301", "\uffff", "a:b.c d", "", "_type_", "../", "\r\n", '"']


@pytest.fixture(scope="module")
def roomy(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp: Path = tmp_path_factory.mktemp("http-bounds-property")
    yield from serve(make_settings("postgres", tmp, postgres_dsn,
                                   max_event_bytes=256 * 1024))


texts = st.one_of(
    st.text(max_size=20),
    st.lists(st.sampled_from(ODD_TEXT) | st.text(max_size=3), max_size=4).map("".join),
)
numbers = st.one_of(
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
    st.sampled_from([INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 2**64, 10**40]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -0.0, 5e-324, 1.5e-300, 0.1234567890123456789]),
)
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)


def _nest(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


deep_values = st.builds(_nest, json_values, st.integers(0, 80), st.booleans())
big_text = st.integers(0, 300 * 1024).map(lambda n: "x" * n)
outputs = st.one_of(json_values, deep_values, big_text)

offsets = st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m)))
times = st.one_of(
    st.none(),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
                     "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                     "1970-01-01T00:00:00+14:00", "2024-02-29T12:00:00-12:00",
                     "not a time", "2024-13-01T00:00:00Z"]),
    st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(),
              st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
              offsets),
    st.integers(-3600, 3600).map(
        lambda s: (datetime.now(UTC) + timedelta(seconds=s)).isoformat()),
)


@st.composite
def envelopes(draw: st.DrawFn, agent: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["tool_result", "message", "memory_stored", "mcp_state",
                                 "tool_call"]))
    data: dict[str, Any]
    if kind == "tool_result":
        data = {"call_id": draw(texts | st.just("c")), "output": draw(outputs)}
    elif kind == "message":
        data = {"role": "user", "content": draw(texts | big_text)}
    elif kind == "memory_stored":
        data = {"memory_id": draw(texts | st.just("m")), "kind": "semantic",
                "content": draw(texts), "metadata": draw(st.dictionaries(texts, outputs,
                                                                         max_size=2))}
    elif kind == "mcp_state":
        data = {"server": draw(texts | st.just("s")),
                "state": draw(st.dictionaries(texts, outputs, max_size=2))}
    else:
        data = {"call_id": "c", "tool": draw(texts | st.just("t")),
                "arguments": draw(st.dictionaries(texts, outputs, max_size=2))}
    envelope: dict[str, Any] = {"event_id": draw(st.just(str(uuid.uuid4())) | texts),
                                "agent_id": agent, "type": kind, "data": data}
    occurred = draw(times)
    if occurred is not None:
        envelope["occurred_at"] = occurred
    session = draw(st.none() | texts | st.just("s" * 300) | st.just("session 1: a.b"))
    if session is not None:
        envelope["session_id"] = session
    return envelope


def version_of(c: httpx.Client, agent: str) -> int:
    r = c.get(f"/api/v1/agents/{agent}/context")
    if r.status_code == 404:
        return 0
    assert r.status_code == 200, r.text
    version: int = r.json()["version"]
    return version


def every_reader_answers(c: httpx.Client, agent: str, version: int) -> None:
    base = f"/api/v1/agents/{agent}"
    reads = [f"{base}/context", f"{base}/events", f"{base}/events?after_version=0&limit=1000",
             f"{base}/diff?from=0", f"{base}/diff?from=0&to=latest",
             f"{base}/evolution?bucket=hour", f"{base}/evolution?bucket=minute",
             "/api/v1/agents?limit=1000", "/api/v1/context/packages?limit=200"]
    reads += [f"{base}/context?version={v}" for v in range(version + 1)]
    for path in reads:
        r = c.get(path)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:500]}"
    assert agent in [a["agent_id"] for a in c.get("/api/v1/agents?limit=1000").json()["items"]]
    captured = c.post(f"/api/v1/context/capture/{agent}", json={"label": "p"})
    assert captured.status_code == 201, captured.text[:500]
    package_id = captured.json()["package_id"]
    exported = c.get(f"/api/v1/context/packages/{package_id}/export")
    assert exported.status_code == 200, exported.text[:500]
    fork = c.post(f"/api/v1/agents/fork-{agent}/restore", json={"source_agent_id": agent})
    assert fork.status_code == 200, fork.text[:500]


def test_every_accepted_envelope_leaves_every_reader_answering(roomy: LiveServer) -> None:
    outcomes: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        agent = f"prop-{uuid.uuid4().hex[:12]}"
        with roomy.client() as c:
            for envelope in data.draw(st.lists(envelopes(agent), min_size=1, max_size=3)):
                before = version_of(c, agent)
                body = json.dumps(envelope).encode()
                r = c.post(f"/api/v1/agents/{agent}/events", content=body,
                           headers={"content-type": "application/json"})
                outcomes[r.status_code] = outcomes.get(r.status_code, 0) + 1
                assert r.status_code < 500, r.text[:500]
                if r.status_code >= 400:
                    assert r.json()["errors"], r.text[:500]  # the field is named
                    assert version_of(c, agent) == before, "a refused envelope was written"
                else:
                    assert r.status_code in (200, 201), r.text[:500]
            version = version_of(c, agent)
            if version:
                every_reader_answers(c, agent, version)

    run()
    print("outcomes:", outcomes)
    # Both sides of the property were exercised.
    assert any(s in outcomes for s in (200, 201)), outcomes
    assert any(400 <= s < 500 for s in outcomes), outcomes
    cli_readers_answer(roomy)


def cli_readers_answer(server: LiveServer) -> None:
    """`ctxstore agents` and `ctxstore search --all` over the whole tenant still work."""
    s = server.settings
    env = {**os.environ, "CONTEXT_STORAGE_BACKEND": "postgres",
           "CONTEXT_DATABASE_URL": s.database_url, "CONTEXT_DATABASE_SCHEMA": s.database_schema,
           "CONTEXT_STORAGE_PATH": str(s.storage_path)}
    ctxstore = Path(sys.executable).with_name("ctxstore")
    for args in (["agents", "--json"], ["search", "--all", "x", "--json"]):
        done = subprocess.run([str(ctxstore), *args], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
        json.loads(done.stdout)
