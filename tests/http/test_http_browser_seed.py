"""The page does what the seed plan's UI does, in real headless Chromium against a live server
over a real agent trace (a SWE-agent trajectory): capture with a session, the package list with
each package's sizes and compression ratio (compressed ÷ original), restore into a new target
with comprehensive validation and a merge strategy, a notification of success or failure
(role=status); keyword search over the packages, full-text search, and the analysis of an agent
over a time period. Everything waits on page state, never on time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_support import LiveServer, serve
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright
from support import make_settings
from test_http_api import new_agent
from test_http_browser import ARGS, ARTIFACTS, CHROMIUM
from test_http_browser_security import watch
from test_http_metrics_summary import corrupt_package_body

from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.infrastructure.samples import TRACES

TRACE = TRACES / "swe-agent" / "networking_1.traj"
WAIT_MS = 45_000
BATCH = 5  # the test server takes bodies of at most 64 KiB


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def record_trace(server: LiveServer, key: str | None = None
                 ) -> tuple[str, list[dict[str, Any]]]:
    """The trace's events under a fresh agent id (and fresh event ids: they are idempotency
    keys), through the events route, then read by the projections; the id and the events."""
    agent = new_agent()
    events = []
    for n, envelope in enumerate(load_trace(TRACE)[0].envelopes):
        event = envelope.model_dump(mode="json", exclude_none=True)
        events.append({**event, "agent_id": agent, "event_id": f"{agent}-{n}"})
    with server.client(key) as c:
        for start in range(0, len(events), BATCH):
            c.post(f"/api/v1/agents/{agent}/events",
                   json=events[start:start + BATCH]).raise_for_status()
    api = server.app.state.api
    ProjectionWorker(api.store, api.services.views).run_once()
    return agent, events


def open_agent(browser: Browser, server: LiveServer, agent: str, versions: int
               ) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    problems = watch(page)
    page.goto(server.url + "/")
    page.locator(f'#agents li[data-agent="{agent}"]').click()
    expect(page.locator("#state-version")).to_have_text(str(versions))
    return page, problems


def capture(page: Page, label: str, session: str) -> dict[str, Any]:
    """Capture the slider's version with a label and session; the JSON body the page sent."""
    page.locator("#capture-label").fill(label)
    page.locator("#capture-session").fill(session)
    with page.expect_request(lambda r: "/api/v1/context/capture/" in r.url) as sent:
        page.locator("#capture-btn").click()
    notice = page.get_by_role("status")
    expect(notice).to_have_attribute("data-outcome", "success")
    expect(notice).to_contain_text(f"session {session}")
    body: dict[str, Any] = sent.value.post_data_json
    return body


def packages_of(server: LiveServer, agent: str) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get("/api/v1/context/packages", params={"agent_id": agent})
        r.raise_for_status()
        body = r.json()
    found: list[dict[str, Any]] = body.get("packages", body["items"])
    return found


def restore_from(page: Page, label: str, target: str, validation: str, strategy: str
                 ) -> Request:
    """Choose the listed package and restore it into `target`; the request the page sent."""
    page.locator("#checkpoints li", has_text=label).get_by_text("restore from…").click()
    page.locator("#restore-target").fill(target)
    page.locator("#restore-validation").select_option(validation)
    page.locator("#restore-strategy").select_option(strategy)
    with page.expect_request(lambda r: "/api/v1/context/restore/" in r.url) as sent:
        page.locator("#restore-btn").click()
    return sent.value


def test_capture_with_session_list_sizes_and_restore_comprehensively(
        browser: Browser, server: LiveServer) -> None:
    agent, events = record_trace(server)
    fork = new_agent()
    session = f"sess-{uuid.uuid4().hex[:12]}"
    page, problems = open_agent(browser, server, agent, len(events))
    assert capture(page, "seed page capture", session) == {
        "label": "seed page capture", "session_id": session, "version": len(events),
        "access_level": "private", "include_memory": True, "include_mcp_state": True,
        "include_conversation": True}
    # The capture is an event: the slider's end moved past the trace.
    expect(page.locator("#slider-max")).to_have_text(str(len(events) + 1))
    [package] = packages_of(server, agent)
    assert package["session_id"] == session and package["version"] == len(events)
    original, compressed = package["original_size_bytes"], package["compressed_size_bytes"]
    ratio = compressed / original
    assert ratio < 0.8  # the seed plan's own assertion, on a real trace
    item = page.locator("#checkpoints li", has_text="seed page capture")
    expect(item).to_contain_text(f"session {session}")
    expect(item.locator(".size")).to_have_attribute("data-original", str(original))
    expect(item.locator(".size")).to_have_attribute("data-compressed", str(compressed))
    expect(item.locator(".ratio")).to_have_text(
        f"ratio {ratio:.3f} ({round((1 - ratio) * 100)} % saved)")
    assert float(item.locator(".ratio").get_attribute("data-ratio") or "nan") == pytest.approx(
        ratio, abs=1e-4)

    sent = restore_from(page, "seed page capture", fork, "comprehensive", "replace")
    assert sent.post_data_json == {"target_agent_id": fork, "validation_level": "comprehensive",
                                   "merge_strategy": "replace"}
    assert sent.url.endswith(f"/api/v1/context/restore/{package['package_id']}")
    notice = page.get_by_role("status")
    expect(notice).to_have_attribute("data-outcome", "success")
    expect(notice).to_contain_text(f"Restored {fork} (fork)")
    expect(notice).to_contain_text("comprehensive validation")
    expect(page.locator(f'#agents li[data-agent="{fork}"]')).to_be_visible()
    expect(page.locator("#agent-title")).to_have_text(fork)
    expect(page.locator("#state-hash")).to_have_text(package["integrity_hash"])
    page.screenshot(path=str(ARTIFACTS / "web-page-seed.png"), full_page=True)
    page.close()
    assert not problems, problems
    with server.client() as c:
        restored = c.get(f"/api/v1/agents/{fork}/events").json()["items"][-1]
        assert restored["type"] == "context_restored"
        assert c.get(f"/api/v1/agents/{fork}/context").json()["content_hash"] == package[
            "integrity_hash"]


@pytest.fixture
def own_server(postgres_dsn: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own, for a test that damages a package (every keyword search of the
    tenant reads package bodies, and a damaged one makes it fail)."""
    yield from serve(make_settings("postgres", tmp_path, postgres_dsn,
                                   http_max_body_bytes=64 * 1024))


def test_a_failing_restore_says_so_and_writes_nothing(browser: Browser,
                                                      own_server: LiveServer) -> None:
    server = own_server
    agent, events = record_trace(server)
    fork, session = new_agent(), f"sess-{uuid.uuid4().hex[:12]}"
    page, problems = open_agent(browser, server, agent, len(events))
    capture(page, "to be damaged", session)
    [package] = packages_of(server, agent)
    notice = page.get_by_role("status")
    # A target that is no agent id: the client's mistake, named.
    restore_from(page, "to be damaged", "not an id!", "basic", "merge")
    expect(notice).to_have_attribute("data-outcome", "failure")
    expect(notice).to_contain_text("422")
    expect(notice).to_contain_text("target_agent_id")
    # A damaged package body: the integrity check refuses it.
    corrupt_package_body(server.settings, package["package_id"])
    page.locator("#notice-close").click()
    expect(notice).not_to_have_attribute("data-outcome", "failure")
    restore_from(page, "to be damaged", fork, "comprehensive", "replace")
    expect(notice).to_have_attribute("data-outcome", "failure")
    expect(notice).to_contain_text(f"Restore of {package['package_id']} into {fork} failed")
    expect(notice).to_contain_text("409")
    expect(page.locator("#agent-title")).to_have_text(agent)  # stayed on the source
    page.close()
    assert not problems, problems
    with server.client() as c:
        assert c.get(f"/api/v1/agents/{fork}/context").status_code == 404


def test_keyword_search_narrows_the_list_and_full_text_finds_the_trace(
        browser: Browser, server: LiveServer) -> None:
    agent, events = record_trace(server)
    tag = uuid.uuid4().hex[:10]
    with server.client() as c:
        for name in ("alpha", "beta"):
            c.post(f"/api/v1/context/capture/{agent}", json={
                "label": f"{name} {tag}", "session_id": f"{name}-{tag}"}).raise_for_status()
    page, problems = open_agent(browser, server, agent, len(events) + 2)
    page.locator("#package-keywords").fill(tag)
    page.locator("#package-keywords").press("Enter")
    expect(page.locator("#checkpoints li.ckpt")).to_have_count(2)
    expect(page.locator("#packages-total")).to_have_text("2 matching")
    # All keywords must match: the tag and one session's name leave that one package.
    page.locator("#package-keywords").fill(f"{tag}, beta")
    page.locator("#package-keywords").press("Enter")
    expect(page.locator("#checkpoints li.ckpt")).to_have_count(1)
    expect(page.locator("#checkpoints li.ckpt")).to_contain_text(f"beta {tag}")
    expect(page.locator("#packages-total")).to_have_text("1 matching")
    page.locator("#package-keywords").fill(f"{tag}, gamma")
    page.locator("#package-keywords").press("Enter")
    expect(page.locator("#checkpoints li.ckpt")).to_have_count(0)
    expect(page.locator("#checkpoints")).to_contain_text("no checkpoint holds all")
    # Full-text search over what the agent saw: its first message, found at its version.
    first = next(e for e in events if e["type"] == "message")
    words = " ".join(str(first["data"]["content"]).split()[:3])
    page.locator("#text-q").fill(words)
    page.locator("#text-q").press("Enter")
    hit = page.locator(f'#text-hits li[data-agent="{agent}"]').first
    expect(hit).to_be_visible()
    version = int(hit.get_attribute("data-version") or "-1")
    assert 1 <= version <= len(events)
    hit.click()
    expect(page.locator("#state-version")).to_have_text(str(version))
    page.close()
    assert not problems, problems


def test_the_analysis_shows_the_agents_figures(browser: Browser, server: LiveServer) -> None:
    agent, events = record_trace(server)
    page, problems = open_agent(browser, server, agent, len(events))
    capture(page, "analysed", f"sess-{uuid.uuid4().hex[:12]}")
    with page.expect_request(lambda r: f"/agents/{agent}/analysis?time_period=P30D" in r.url):
        page.locator("#analysis-period").select_option("P30D")
    figures = page.locator("#analysis")
    expect(figures.locator('[data-figure="total_packages"] dd')).to_have_text("1")
    with server.client() as c:
        a = c.get(f"/api/v1/agents/{agent}/analysis", params={"time_period": "P30D"}).json()
    eff, content = a["compression_efficiency"], a["content_evolution"]
    messages = sum(1 for e in events if e["type"] == "message")
    tools = sum(1 for e in events if e["type"] == "tool_call")
    assert (content["messages_in_period"], content["tool_calls_in_period"]) == (messages, tools)
    expect(figures.locator('[data-figure="messages_in_period"] dd')).to_have_text(str(messages))
    expect(figures.locator('[data-figure="tool_calls_in_period"] dd')).to_have_text(str(tools))
    expect(figures.locator('[data-figure="average_compression_ratio"] dd')).to_have_text(
        f"{eff['average_compression_ratio']:.3f}")
    expect(figures.locator('[data-figure="bytes_saved"]')).to_have_attribute(
        "data-value", str(eff["bytes_saved"]))
    expect(figures.locator('[data-figure="space_saving"] dd')).to_have_text(
        f"{round(eff['space_saving'] * 100)} %")
    page.close()
    assert not problems, problems


def test_with_keys_every_operation_sends_the_key_in_a_header_only(
        browser: Browser, keyed_server: LiveServer) -> None:
    server = keyed_server
    agent, events = record_trace(server, "key-b")
    fork, session = new_agent(), f"sess-{uuid.uuid4().hex[:12]}"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    problems = watch(page)
    page.goto(server.url + "/")
    page.locator("#api-key").fill("key-b")
    page.locator("#api-key").dispatch_event("change")  # kept in localStorage
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r))
    page.reload()
    page.locator(f'#agents li[data-agent="{agent}"]').click()
    expect(page.locator("#state-version")).to_have_text(str(len(events)))
    capture(page, "keyed", session)
    expect(page.locator("#analysis [data-figure=total_packages] dd")).to_have_text("1")
    page.locator("#package-keywords").fill(session)
    page.locator("#package-keywords").press("Enter")
    expect(page.locator("#packages-total")).to_have_text("1 matching")
    restore_from(page, "keyed", fork, "comprehensive", "merge")
    expect(page.get_by_role("status")).to_have_attribute("data-outcome", "success")
    expect(page.locator(f'#agents li[data-agent="{fork}"]')).to_be_visible()
    page.close()
    assert not problems, problems
    api_calls = [r for r in sent if "/api/v1/" in r.url]
    for part in ("/context/capture/", "/context/restore/", "/analysis?", "keywords="):
        assert any(part in r.url for r in api_calls), part
    assert all(r.headers.get("x-api-key") == "key-b" for r in api_calls
               if "/export" not in r.url), [r.url for r in api_calls]
    assert not [r.url for r in sent if "key-b" in r.url or "api_key" in r.url]
    with server.client("key-a") as c:  # another tenant sees neither agent
        assert c.get(f"/api/v1/agents/{fork}/context").status_code == 404


def test_automatic_checkpoints_start_and_stop_from_the_page(browser: Browser,
                                                            server: LiveServer) -> None:
    """The seed's start/stop_automatic_checkpointing for the agent shown: its own interval
    and maximum reach the store (the API answers the same), and stopping removes them."""
    agent, events = record_trace(server)
    page, problems = open_agent(browser, server, agent, len(events))
    schedule = page.locator("#schedule")
    expect(schedule).to_have_attribute("data-state", "default")
    page.locator("#schedule-interval").fill("0.5")
    page.locator("#schedule-max").fill("3")
    page.locator("#schedule-start").click()
    expect(page.locator("#notice")).to_have_attribute("data-outcome", "success")
    expect(schedule).to_have_attribute("data-state", "running")
    expect(schedule).to_contain_text("every 0.5 min, keeping 3")
    with server.client() as c:
        (own,) = c.get(f"/api/v1/agents/{agent}/auto-checkpoints").json()["schedules"]
    assert (own["agent_id"], own["interval_minutes"], own["max_checkpoints"]) == (agent, 0.5, 3)

    page.locator("#schedule-max").fill("0")  # refused by the API, said on the page
    page.locator("#schedule-start").click()
    expect(page.locator("#notice")).to_have_attribute("data-outcome", "failure")
    expect(page.locator("#notice-text")).to_contain_text("max_checkpoints")

    page.locator("#schedule-stop").click()
    expect(schedule).to_have_attribute("data-state", "default")
    with server.client() as c:
        assert c.get(f"/api/v1/agents/{agent}/auto-checkpoints").json()["schedules"] == []
    page.close()
    assert not problems, problems
