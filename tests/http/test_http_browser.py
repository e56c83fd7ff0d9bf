"""The web page in real headless Chromium: pick an agent, move the version slider, capture a
checkpoint, fork from it, see the evolution chart. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

from pathlib import Path

from http_support import LiveServer
from playwright.sync_api import expect, sync_playwright
from test_http_api import env, new_agent

from ctxstore.infrastructure.projection_worker import ProjectionWorker

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def seed(server: LiveServer, agent: str) -> None:
    batch = []
    for i in range(8):
        e = env(agent, content=f"message number {i}", role="user" if i % 2 == 0 else "assistant")
        e["occurred_at"] = f"2025-03-01T{8 + i // 2:02d}:{10 * (i % 2):02d}:00Z"
        batch.append(e)
    batch.insert(3, dict(env(agent, "tool_call", call_id="c1", tool="search",
                             arguments={"q": "weather"}), occurred_at="2025-03-01T09:05:00Z"))
    batch.insert(6, dict(env(agent, "memory_stored", memory_id="pref", kind="long_term",
                             content="likes short answers"), occurred_at="2025-03-01T10:05:00Z"))
    with server.client() as c:
        c.post(f"/api/v1/agents/{agent}/events", json=batch).raise_for_status()
    api = server.app.state.api
    ProjectionWorker(api.store, api.services.views).run_once()


def test_web_page_capture_fork_and_slider(server: LiveServer) -> None:
    agent, fork = new_agent(), new_agent()
    seed(server, agent)
    with server.client() as c:
        hash_at_4 = c.get(f"/api/v1/agents/{agent}/context", params={"version": 4}).json()[
            "content_hash"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        expect(page.locator("#live")).to_have_text("live")
        page.locator(f'#agents li[data-agent="{agent}"]').click()
        expect(page.locator("#state-version")).to_have_text("10")
        expect(page.locator("#evolution svg rect").first).to_be_visible()
        # The slider: the state at version 4.
        page.locator("#version-slider").fill("4")
        expect(page.locator("#state-version")).to_have_text("4")
        expect(page.locator("#state-hash")).to_have_text(hash_at_4)
        expect(page.locator("#state-message-list li")).to_have_count(3)
        expect(page.locator("#state-tools")).to_have_text("1")
        # Capture a checkpoint of version 4.
        page.locator("#capture-label").fill("browser checkpoint")
        page.locator("#capture-btn").click()
        expect(page.locator("#activity")).to_contain_text("captured")
        item = page.locator("#checkpoints li", has_text="browser checkpoint")
        expect(item).to_contain_text(f"{agent} v4")
        # The capture is a new event: the slider's end moved to 11.
        expect(page.locator("#slider-max")).to_have_text("11")
        # Fork from the checkpoint into a new agent.
        item.get_by_text("restore from…").click()
        page.locator("#restore-target").fill(fork)
        page.locator("#restore-btn").click()
        expect(page.locator("#agent-title")).to_have_text(fork)
        expect(page.locator("#state-hash")).to_have_text(hash_at_4)
        expect(page.locator(f'#agents li[data-agent="{fork}"]')).to_be_visible()
        # Rewind the original agent with the slider.
        page.locator(f'#agents li[data-agent="{agent}"]').click()
        expect(page.locator("#state-version")).to_have_text("11")
        expect(page.locator("#restore-target")).to_have_value("")
        page.locator("#version-slider").fill("2")
        expect(page.locator("#state-version")).to_have_text("2")
        page.locator("#restore-btn").click()
        expect(page.locator("#activity")).to_contain_text("(rewind)")
        expect(page.locator("#slider-max")).to_have_text("12")
        page.locator("#version-slider").fill("4")
        expect(page.locator("#state-version")).to_have_text("4")
        page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
        browser.close()
    assert not errors, errors
    with server.client() as c:
        now = c.get(f"/api/v1/agents/{agent}/context").json()
        assert now["version"] == 12 and len(now["messages"]) == 2
