"""The guards as a browser meets them (real headless Chromium, real uvicorn): the page works end
to end with keys (the key travels as a WebSocket subprotocol, never in a URL) under its
Content-Security-Policy; /docs and /redoc render with every other host unreachable; a page of
another site can neither write nor open the WebSocket; a rebound DNS name gets nothing."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from http_support import LiveServer
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from test_http_api import env, new_agent
from test_http_browser import ARGS, CHROMIUM, seed

from devtools.services import free_port

CSP_WORDS = ("Content Security Policy", "Content-Security-Policy")


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def watch(page: Page) -> list[str]:
    """Script errors and CSP violations of the page, as text."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))

    def console(message: ConsoleMessage) -> None:
        if any(word in message.text for word in CSP_WORDS):
            problems.append(f"csp: {message.text}")

    page.on("console", console)
    return problems


def only_from(page: Page, origin: str) -> list[str]:
    """Aborts every request to another origin (no network beyond the server) and lists them."""
    elsewhere: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(origin + "/"):
            r.continue_()
        else:
            elsewhere.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return elsewhere


def test_the_page_works_with_keys_and_keeps_them_out_of_urls(keyed_server: LiveServer) -> None:
    agent = new_agent()
    with keyed_server.client("key-a") as c:
        c.post(f"/api/v1/agents/{agent}/events",
               json=[env(agent, content=f"hi {i}", role="user") for i in range(3)]
               ).raise_for_status()
    urls: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = watch(page)
        elsewhere = only_from(page, keyed_server.url)
        page.on("request", lambda r: urls.append(r.url))
        page.on("websocket", lambda ws: urls.append(ws.url))
        page.goto(keyed_server.url + "/")
        page.locator("#api-key").fill("key-a")
        page.locator("#api-key").dispatch_event("change")  # kept in localStorage
        page.reload()
        page.locator(f'#agents li[data-agent="{agent}"]').click()
        expect(page.locator("#live")).to_have_text("live")
        expect(page.locator("#state-version")).to_have_text("3")
        page.locator("#capture-label").fill("keyed capture")
        page.locator("#capture-btn").click()  # over the WebSocket, as tenant-a
        expect(page.locator("#activity")).to_contain_text("captured")
        expect(page.locator("#checkpoints li", has_text="keyed capture")).to_be_visible()
        expect(page.locator("#slider-max")).to_have_text("4")
    assert not problems and not elsewhere, (problems, elsewhere)
    assert any(u.endswith("/api/v1/ws") for u in urls), urls
    assert not [u for u in urls if "key-a" in u or "api_key" in u], urls
    with keyed_server.client("key-a") as c:
        assert c.get(f"/api/v1/agents/{agent}/context").json()["version"] == 4


def test_the_page_keyless_under_its_policy_draws_the_chart(server: LiveServer) -> None:
    """The evolution chart's legend colours were style attributes, which the CSP refuses."""
    from ctxstore.infrastructure.projection_worker import ProjectionWorker

    agent = new_agent()
    seed(server, agent)
    api = server.app.state.api
    ProjectionWorker(api.store, api.services.views).run_once()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = watch(page)
        page.goto(server.url + "/")
        expect(page.locator("#live")).to_have_text("live")
        page.locator(f'#agents li[data-agent="{agent}"]').click()
        expect(page.locator("#evolution svg rect").first).to_be_visible()
        swatch = page.locator("#evolution i").first
        expect(swatch).to_be_visible()
        colour = swatch.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour not in ("", "rgba(0, 0, 0, 0)", "transparent"), colour
    assert not problems, problems


def test_docs_render_with_no_network(server: LiveServer) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = watch(page)
        elsewhere = only_from(page, server.url)
        page.goto(server.url + "/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("ctxstore")
        expect(page.locator(".opblock").first).to_be_visible()
        assert page.locator(".opblock").count() > 10
        page.goto(server.url + "/redoc")
        expect(page.locator("h1").first).to_contain_text("ctxstore")
        expect(page.get_by_text("Restore a checkpoint").first).to_be_attached()
    # ReDoc's "by Redocly" footer links its logo from its CDN: the policy blocks it, which is
    # the point (nothing is fetched from elsewhere); the page is complete without it.
    problems = [p for p in problems if "cdn.redoc.ly/redoc/logo-mini.svg" not in p]
    assert not problems and not elsewhere, (problems, elsewhere)


EVIL_PAGE = """<!doctype html><html><body><script>
window.results = {};
fetch("%(api)s/agents/%(agent)s/events", {method: "POST", mode: "no-cors",
  headers: {"Content-Type": "text/plain"}, body: %(body)s})
  .then(() => { results.post = "sent"; }, () => { results.post = "failed"; });
const ws = new WebSocket("%(ws)s");
ws.onopen = () => { results.ws = "open"; };
ws.onclose = () => { results.ws = results.ws || "refused"; };
</script></body></html>"""


@contextlib.contextmanager
def site(root: Path) -> Iterator[str]:
    """Another web site: a plain HTTP server of these files on another port (another origin)."""
    handler: Callable[..., Any] = functools.partial(http.server.SimpleHTTPRequestHandler,
                                                    directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def refused_403(server: LiveServer) -> float:
    registry = server.app.state.api.metrics.registry
    found = registry.get_sample_value("ctxstore_http_requests_total", {
        "method": "POST", "route": "unmatched", "status": "403"})
    return found or 0.0


def test_another_site_can_neither_write_nor_follow(server: LiveServer, tmp_path: Path) -> None:
    import json

    agent = new_agent()
    (tmp_path / "evil.html").write_text(EVIL_PAGE % {
        "api": server.url + "/api/v1", "agent": agent, "ws": server.ws_url,
        "body": json.dumps(json.dumps(env(agent)))})
    before = refused_403(server)
    with site(tmp_path) as evil, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{evil}/evil.html")
        page.wait_for_function("window.results.post && window.results.ws", timeout=30_000)
        results = page.evaluate("window.results")
    assert results == {"post": "sent", "ws": "refused"}, results
    assert refused_403(server) == before + 1  # the POST reached the server and was refused
    with server.client() as c:
        assert c.get(f"/api/v1/agents/{agent}/context").status_code == 404


def test_a_rebound_name_gets_nothing(server: LiveServer) -> None:
    """Chromium resolving evil.test to 127.0.0.1 stands for a DNS rebinding attack."""
    port = server.url.rsplit(":", 1)[1]
    with chromium("--host-resolver-rules=MAP evil.test 127.0.0.1") as browser:
        page = browser.new_page()
        for path in ("/", "/api/v1/agents"):
            response = page.goto(f"http://evil.test:{port}{path}")
            assert response is not None and response.status == 400, path
            assert "header.host" in response.text()
        response = page.goto(f"http://localhost:{port}/api/v1/agents")
        assert response is not None and response.status == 200
