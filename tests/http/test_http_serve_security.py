"""`ctxstore serve` as a real process: it will not listen beyond loopback without keys unless
told to, and its logs (uvicorn's access log included) never contain an API key."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

import httpx
from websockets.sync.client import connect

from devtools.services import free_port
from tests.served import CTXSTORE, running, serve_env


def test_serve_refuses_a_remote_address_without_keys(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.10", "ctx.example.org"):
        done = subprocess.run([CTXSTORE, "serve", "--host", host, "--port", str(free_port())],
                              env=serve_env(tmp_path), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, (host, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert f"refusing to serve on {host} without API keys" in lines[0]
        assert "read and rewind every agent" in lines[0]
        assert "--allow-unauthenticated-remote" in lines[0]
    assert not (tmp_path / "ctxstore.sqlite").exists()  # refused before opening the store


def test_serve_on_a_remote_address_when_told_or_keyed(tmp_path: Path) -> None:
    flag = (["--host", "0.0.0.0", "--allow-unauthenticated-remote"], {})
    setting = (["--host", "0.0.0.0"], {"CONTEXT_HTTP_ALLOW_UNAUTHENTICATED_REMOTE": "true"})
    keyed = (["--host", "0.0.0.0"], {"CONTEXT_API_KEYS": "k1:t1"})
    for n, (args, extra) in enumerate((flag, setting, keyed)):
        log = tmp_path / f"serve-{n}.log"
        with running(args, serve_env(tmp_path / str(n), **extra), log) as url:
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        warned = "without API keys" in log.read_text()
        assert warned == ("CONTEXT_API_KEYS" not in extra), log.read_text()


def test_keys_never_reach_the_logs(tmp_path: Path) -> None:
    key = f"secret-{uuid.uuid4().hex}"
    env = serve_env(tmp_path, CONTEXT_API_KEYS=f"{key}:tenant-a")
    log = tmp_path / "serve.log"
    with running(["--log-level", "info"], env, log) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/api/v1/agents", headers={"X-API-Key": key}).status_code == 200
            assert c.get("/api/v1/agents",
                         headers={"Authorization": f"Bearer {key}"}).status_code == 200
            # A client that still puts the key in the URL is refused, and the line is blanked.
            assert c.get(f"/api/v1/agents?api_key={key}").status_code == 401
            assert c.get(f"/api/v1/agents?limit=1&token={key}").status_code == 401
            # Any name that says key/token/secret/password/auth, however spelled or encoded.
            for name in ("x_api_key", "api%5Fkey", "Refresh_Token", "X-Auth"):
                assert c.get(f"/api/v1/agents?{name}={key}").status_code == 401
        ws_url = url.replace("http://", "ws://") + "/api/v1/ws"
        with connect(f"{ws_url}?api_key={key}") as ws:
            assert '"status": 400' in str(ws.recv(timeout=10))
        protocol = "ctxstore.key." + base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
        with connect(ws_url, subprotocols=["ctxstore", protocol]) as ws:  # type: ignore[list-item]
            ws.send('{"action": "ping"}')
            assert "pong" in str(ws.recv(timeout=10))
    text = log.read_text()
    assert "GET /api/v1/agents" in text  # the access log was on
    assert "api_key=[redacted]" in text and "token=[redacted]" in text, text
    assert "x_api_key=[redacted]" in text and "api%5Fkey=[redacted]" in text, text
    assert key not in text and protocol.split(".")[-1] not in text, text


def test_redaction_blanks_secret_names_and_keeps_the_rest() -> None:
    from ctxstore.infrastructure.http.log_redaction import redact

    line = '"GET /api/v1/agents?limit=5&x_api_key=k1&api%5Fkey=k2&agent_id=bot&PassWord=p HTTP/1.1"'
    assert redact(line) == ('"GET /api/v1/agents?limit=5&x_api_key=[redacted]&api%5Fkey=[redacted]'
                            '&agent_id=bot&PassWord=[redacted] HTTP/1.1"')
