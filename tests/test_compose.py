"""docker-compose.yml runs the whole stack (issue 17 item 6): validated here, not run.

There is no Docker daemon on the development and CI machines; Debian's `docker-compose` (1.29,
installed by `make test` as it installs Chromium) validates and resolves the file without one.
Each profile is resolved as `docker compose up` would see it (`.env` chooses "single",
`deploy/cluster.env` "cluster"), and the checks are about what would go wrong when it runs: a
service waiting for one the profile does not start, a long-running service without a health
check, NATS settings that do not point at the profile's NATS, two workers on one share.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.messaging.status import PartitionStatus
from ctxstore.infrastructure.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
APPLICATION = {"api", "ingest-0", "ingest-1", "projector"}
ONE_SHOT = {"migrate", "nats-ready"}  # complete, then the others start
CLUSTER = {"nats-1", "nats-2", "nats-3"}


def resolved(*options: str) -> dict[str, Any]:
    """`docker-compose config` of the repository's file: validated, variables substituted."""
    tool = shutil.which("docker-compose")
    assert tool is not None, "docker-compose is not installed: `make compose-tool` installs " \
        "Debian's package (apt-get install docker-compose)"
    done = subprocess.run([tool, *options, "config"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def active(config: dict[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    """The services `up` starts with that profile: those without profiles, and the profile's."""
    return {name: service for name, service in config["services"].items()
            if not service.get("profiles") or profile in service["profiles"]}


PROFILES = {"single": (), "cluster": ("--env-file", "deploy/cluster.env")}


@pytest.fixture(scope="module", params=sorted(PROFILES))
def profile(request: pytest.FixtureRequest) -> tuple[str, dict[str, dict[str, Any]]]:
    name: str = request.param
    options = PROFILES[name]
    chosen = env_file(ROOT / (options[1] if options else ".env"))["COMPOSE_PROFILES"]
    assert chosen == name
    return name, active(resolved(*options), name)


def test_the_whole_stack_is_there(profile: tuple[str, dict[str, dict[str, Any]]]) -> None:
    name, services = profile
    nats = CLUSTER if name == "cluster" else {"nats"}
    assert set(services) == {"postgres", *nats, *ONE_SHOT, *APPLICATION}
    commands = {s: services[s]["command"] for s in APPLICATION}
    assert commands["api"][0] == "serve" and commands["projector"] == ["project"]
    ingest = [commands[s] for s in ("ingest-0", "ingest-1")]
    # Two workers, each with its own share of the partitions and its own lease holder.
    assert [c[c.index("--partitions") + 1] for c in ingest] == ["0/2", "1/2"]
    assert [c[c.index("--lease-holder") + 1] for c in ingest] == ["ingest-0", "ingest-1"]


def test_every_long_running_service_has_a_health_check(
        profile: tuple[str, dict[str, dict[str, Any]]]) -> None:
    _, services = profile
    for name, service in services.items():
        if name in ONE_SHOT:
            assert "healthcheck" not in service and service.get("restart") is None, name
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL") and check["retries"] >= 3, name
        assert service.get("restart") == "unless-stopped", name


def test_each_service_waits_for_what_it_needs_in_the_same_profile(
        profile: tuple[str, dict[str, dict[str, Any]]]) -> None:
    _, services = profile
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            assert needed in services, f"{name} waits for {needed}, which this profile lacks"
            one_shot = needed in ONE_SHOT
            wanted = "service_completed_successfully" if one_shot else "service_healthy"
            assert how["condition"] == wanted, (name, needed)
    needs = {"postgres", "migrate", "nats-ready"}
    for name in ("api", "ingest-0", "ingest-1"):
        assert set(services[name]["depends_on"]) == needs, name
    assert set(services["projector"]["depends_on"]) == {"postgres", "migrate"}
    assert set(services["migrate"]["depends_on"]) == {"postgres"}


def test_the_application_uses_the_profiles_nats(
        profile: tuple[str, dict[str, dict[str, Any]]]) -> None:
    name, services = profile
    nodes = sorted(CLUSTER) if name == "cluster" else ["nats"]
    for service in APPLICATION | {"migrate"}:
        env = services[service]["environment"]
        assert env["CONTEXT_NATS_URL"] == ",".join(f"nats://{n}:4222" for n in nodes), service
        assert env["CONTEXT_NATS_REPLICAS"] == ("3" if name == "cluster" else "1"), service
        assert env["CONTEXT_DATABASE_URL"].startswith("postgresql://postgres:postgres@postgres:")
    # The gate waits for every node of that NATS (its monitoring port answers on each).
    assert services["nats-ready"]["environment"]["NODES"].split() == nodes
    for node in nodes:
        command = " ".join(services[node]["command"])
        assert "-js" in command and "8222" in command, node
        if name == "cluster":
            assert f"--name={node}" in command and all(
                f"nats://{other}:6222" in command for other in CLUSTER), node


def test_the_health_checks_ask_what_the_services_answer(tmp_path: Path) -> None:
    """The probes' targets exist: the API's /healthz route, and the holder field that
    `ctxstore partitions --json` prints, written as the ingest probes grep for it."""
    services = resolved()["services"]
    assert "http://127.0.0.1:8000/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["api"]["command"][-3:-1] == ["--port", "8000"]
    # The API's probe is answered 200 while the database answers (urlopen raises otherwise).
    with TestClient(create_app(bootstrap(Settings(storage_backend="sqlite",
                                                  storage_path=tmp_path)))) as client:
        assert client.get("/healthz").status_code == 200
    for worker in ("ingest-0", "ingest-1"):
        probe = services[worker]["healthcheck"]["test"][1]
        assert probe.startswith("ctxstore partitions --json | grep -q "), probe
        pattern = probe.split("grep -q ", 1)[1].strip("'")
        row = PartitionStatus(0, "ctx-ingest-0", worker, 0, 0, 0).as_dict()
        assert pattern in json.dumps(row), (pattern, row)
