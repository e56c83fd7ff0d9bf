"""One table of requests through every door: HTTP, the WebSocket, NATS (RPC, and ingest for
events) and the CLI must accept and refuse the same things, naming the same field (issue 13).

Every door runs over one real store (a PostgreSQL schema) and real servers: the FastAPI app
(TestClient, its WebSocket included), the NATS app (RPC and ingest on a real JetStream) and the
CLI (typer's runner, in process, over the same settings). Each row says what every door that can
express it must answer: accepted, not found, or invalid with the field at fault. A door's own
name for a field (HTTP's `query.at`, the CLI's `--at`) is translated back to the command's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import nats
from fastapi.testclient import TestClient
from nats_helpers import running_app, subjects_of, wait_drained
from typer.testing import CliRunner

from ctxstore.domain.window import MAX_TAIL
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.cli import common
from ctxstore.infrastructure.cli.main import app as cli_app
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.messaging.dlq import list_dead_letters
from ctxstore.infrastructure.settings import Settings

OK = ("accepted", None)
NOT_FOUND = ("not found", None)
Outcome = tuple[str, str | None]
CHECKPOINT = "<checkpoint>"  # the row's placeholder for the checkpoint taken at setup
PAST = 10**6


def invalid(field_name: str) -> Outcome:
    return ("invalid", field_name)


@dataclass(frozen=True)
class Row:
    name: str
    op: str  # read, capture, restore, record
    args: dict[str, Any]
    expected: Outcome
    tenant: str = "local"  # "beta": a tenant touching the local tenant's agents
    events: list[dict[str, Any]] = field(default_factory=list)


def good(text: str = "hi") -> dict[str, Any]:
    return {"type": "message", "data": {"role": "user", "content": text}}


BAD = {"type": "message", "data": {"role": "robot", "content": "x"}}

ROWS = [
    Row("read the latest", "read", {"agent_id": "bot"}, OK),
    Row("read at a checkpoint", "read", {"agent_id": "bot", "package_id": CHECKPOINT}, OK),
    Row("read: bad agent id", "read", {"agent_id": "bad id!"}, invalid("agent_id")),
    Row("read: unknown agent", "read", {"agent_id": "nobody"}, NOT_FOUND),
    Row("read: version past the end", "read", {"agent_id": "bot", "version": PAST}, NOT_FOUND),
    Row("read: two points", "read",
        {"agent_id": "bot", "version": 1, "at": "2025-01-01T00:00:00Z"}, invalid("at")),
    Row("read: unknown checkpoint", "read", {"agent_id": "bot", "package_id": "ckpt-nope"},
        NOT_FOUND),
    Row("read a window", "read", {"agent_id": "bot", "tail": 2}, OK),
    Row("read a window at a checkpoint", "read",
        {"agent_id": "bot", "package_id": CHECKPOINT, "tail": 0}, OK),
    Row("read: negative tail", "read", {"agent_id": "bot", "tail": -1}, invalid("tail")),
    Row("read: tail over the bound", "read", {"agent_id": "bot", "tail": MAX_TAIL + 1},
        invalid("tail")),
    Row("read what changed", "read", {"agent_id": "bot", "since_version": 1}, OK),
    Row("read: since_version past the end", "read", {"agent_id": "bot", "since_version": PAST},
        NOT_FOUND),
    Row("read: negative since_version", "read", {"agent_id": "bot", "since_version": -1},
        invalid("since_version")),
    Row("read: since_version with a tail", "read",
        {"agent_id": "bot", "tail": 1, "since_version": 1}, invalid("since_version")),
    Row("capture", "capture", {"agent_id": "bot"}, OK),
    Row("capture: bad agent id", "capture", {"agent_id": "bad id!"}, invalid("agent_id")),
    Row("capture: unknown agent", "capture", {"agent_id": "nobody"}, NOT_FOUND),
    Row("capture: unknown access level", "capture", {"agent_id": "bot", "access_level": "world"},
        invalid("access_level")),
    Row("restore without a point (the latest)", "restore",
        {"source_agent_id": "bot", "target_agent_id": "fork"}, OK),
    Row("restore a checkpoint", "restore",
        {"package_id": CHECKPOINT, "target_agent_id": "fork"}, OK),
    Row("restore without target", "restore", {"package_id": CHECKPOINT},
        invalid("target_agent_id")),
    Row("restore: unknown package", "restore",
        {"package_id": "ckpt-nope", "target_agent_id": "fork"}, NOT_FOUND),
    Row("restore: version past the end", "restore",
        {"source_agent_id": "bot", "target_agent_id": "fork", "version": PAST}, NOT_FOUND),
    Row("restore: two points", "restore", {"source_agent_id": "bot", "target_agent_id": "fork",
                                           "version": 1, "package_id": CHECKPOINT},
        invalid("package_id")),
    Row("restore: bad target id", "restore",
        {"source_agent_id": "bot", "target_agent_id": "bad id!"}, invalid("target_agent_id")),
    Row("record an event", "record", {"agent_id": "rec"}, OK, events=[good()]),
    Row("record a bad event", "record", {"agent_id": "rec"}, invalid("data.role"),
        events=[BAD]),
    Row("record a batch with one bad event", "record", {"agent_id": "rec"}, invalid("data.role"),
        events=[good("one"), BAD, good("two")]),
    Row("another tenant records its own agent of that id", "record", {"agent_id": "rec"}, OK,
        tenant="beta", events=[good()]),
    Row("another tenant records a bad event", "record", {"agent_id": "rec"},
        invalid("data.role"), tenant="beta", events=[BAD]),
    Row("another tenant reads", "read", {"agent_id": "bot"}, NOT_FOUND, tenant="beta"),
    Row("another tenant captures", "capture", {"agent_id": "bot"}, NOT_FOUND, tenant="beta"),
    Row("another tenant restores the agent", "restore",
        {"source_agent_id": "bot", "target_agent_id": "mine"}, NOT_FOUND, tenant="beta"),
    Row("another tenant restores its private checkpoint", "restore",
        {"package_id": CHECKPOINT, "target_agent_id": "mine"}, NOT_FOUND, tenant="beta"),
]


def envelopes(row: Row) -> list[dict[str, Any]]:
    return [{"event_id": f"ev-{uuid.uuid4().hex}", "agent_id": row.args["agent_id"], **e}
            for e in row.events]


def without_source(name: str) -> str:
    """A door's field path as the command names it: HTTP's `query.at`, `body.version`."""
    for prefix in ("query.", "body.", "path."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


# HTTP ------------------------------------------------------------------------------------------
def http_outcome(status: int, body: dict[str, Any], path_field: str = "agent_id") -> Outcome:
    if status < 300:
        return OK
    if status == 404:
        return NOT_FOUND
    assert status == 422, (status, body)
    name = body["errors"][0]["field"]
    # A route's path parameter is the command's `path_field` (the restore's target).
    return invalid(path_field if name == "path.agent_id" else without_source(name))


def http_door(client: TestClient, row: Row, args: dict[str, Any]) -> Outcome:
    api = "/api/v1"
    if row.op == "read":
        a = args.pop("agent_id")
        r = client.get(f"{api}/agents/{quote(a)}/context", params=args)
    elif row.op == "capture":
        a = args.pop("agent_id")
        r = client.post(f"{api}/context/capture/{quote(a)}", json=args)
    elif row.op == "record":
        r = client.post(f"{api}/agents/{args['agent_id']}/events", json=envelopes(row))
    elif "source_agent_id" not in args:
        r = client.post(f"{api}/context/restore/{args.pop('package_id')}", json=args)
    else:
        target = args.pop("target_agent_id")
        r = client.post(f"{api}/agents/{quote(target)}/restore", json=args)
        return http_outcome(r.status_code, r.json(), "target_agent_id")
    return http_outcome(r.status_code, r.json())


# WebSocket -------------------------------------------------------------------------------------
def ws_door(client: TestClient, row: Row, args: dict[str, Any], key: str | None) -> Outcome:
    headers = {"X-API-Key": key} if key else {}
    with client.websocket_connect("/api/v1/ws", headers=headers) as ws:
        action = "context" if row.op == "read" else row.op
        ws.send_text(json.dumps({"action": action, "request_id": "r", **args}))
        while True:
            reply = json.loads(ws.receive_text())
            if reply["type"] in ("context", "context_captured", "context_restored"):
                return OK
            if reply["type"] == "error":
                data = reply["data"]
                return http_outcome(data["status"], data)


# NATS ------------------------------------------------------------------------------------------
async def rpc_door(nc: nats.NATS, settings: Settings, row: Row, args: dict[str, Any]
                   ) -> Outcome:
    subjects = subjects_of(settings)
    # Another tenant asks on its own subjects (ctx.t.<tenant>.rpc.*), the local one on ctx.rpc.*
    subject = subjects.rpc({"read": "context", "capture": "checkpoint",
                            "restore": "restore"}[row.op], row.tenant)
    reply = json.loads((await nc.request(subject, json.dumps(args).encode(), timeout=30)).data)
    if "error" not in reply:
        return OK
    error = reply["error"]
    if error["type"] in ("AgentNotFound", "PointNotFound", "CheckpointNotFound"):
        return NOT_FOUND
    return invalid(error["field"])


async def ingest_door(nc: nats.NATS, settings: Settings, row: Row) -> Outcome:
    subjects = subjects_of(settings)
    js = nc.jetstream()
    sent = envelopes(row)
    for envelope in sent:
        await js.publish(subjects.events(envelope["agent_id"], row.tenant),
                         json.dumps(envelope).encode(),
                         headers={"Nats-Msg-Id": subjects.msg_id(envelope["event_id"], row.tenant)})
    await wait_drained(settings)  # every message recorded or dead-lettered
    ids = {e["event_id"] for e in sent}
    letters = [letter for letter in await list_dead_letters(js, subjects, tenant=row.tenant)
               if json.loads(letter.data).get("event_id") in ids]
    if not letters:
        return OK
    return invalid(letters[0].error.split(": ", 1)[0])


# CLI -------------------------------------------------------------------------------------------
CLI_FIELDS = {"AGENT_ID": "agent_id", "SOURCE": "source_agent_id", "--into": "target_agent_id",
              "--version": "version", "--at": "at", "--checkpoint": "package_id",
              "--access-level": "access_level", "--tail": "tail",
              "--since-version": "since_version"}
NOT_FOUND_WORDS = ("not found", "has no recorded events", "has no version")


def cli_args(row: Row, args: dict[str, Any]) -> list[str]:
    options = {"version": "--version", "at": "--at", "package_id": "--checkpoint",
               "access_level": "--access-level", "target_agent_id": "--into",
               "tail": "--tail", "since_version": "--since-version"}
    if row.op == "record":
        (event,) = envelopes(row)
        return ["record", event["agent_id"], "--type", event["type"], "--data",
                json.dumps(event["data"]), "--event-id", event["event_id"]]
    command = {"read": ["context"], "capture": ["checkpoint"], "restore": ["restore"]}[row.op]
    positional = args.pop("agent_id", None) or args.pop("source_agent_id", None)
    if positional is not None:
        command.append(positional)
    for name, value in args.items():
        command += [options[name], str(value)]
    return command


def cli_door(env: dict[str, str], row: Row, args: dict[str, Any]) -> Outcome:
    common.reset()
    tenant = ["--tenant", row.tenant] if row.tenant != "local" else []
    result = CliRunner().invoke(cli_app, [*tenant, *cli_args(row, args)], env=env)
    if result.exit_code == 0:
        return OK
    line = result.output.strip()
    assert line.startswith("error: ") and "Traceback" not in line, line
    assert "OperationalError" not in line, line  # the database, not the request
    message = line[len("error: "):]
    if any(words in message for words in NOT_FOUND_WORDS):
        return NOT_FOUND
    name = message.split(": ", 1)[0]
    return invalid(CLI_FIELDS.get(name, name))


def cli_env(settings: Settings) -> dict[str, str]:
    return {"CONTEXT_STORAGE_BACKEND": settings.storage_backend,
            "CONTEXT_STORAGE_PATH": str(settings.storage_path),
            "CONTEXT_DATABASE_URL": settings.database_url,
            "CONTEXT_DATABASE_SCHEMA": settings.database_schema,
            "CONTEXT_NATS_PREFIX": settings.nats_prefix, "COLUMNS": "300"}


# The table -------------------------------------------------------------------------------------
def resolved(row: Row, checkpoint: str) -> dict[str, Any]:
    return {k: checkpoint if v == CHECKPOINT else v for k, v in row.args.items()}


async def test_every_door_accepts_and_refuses_the_same(
        settings_factory: Callable[..., Settings]) -> None:
    # No automatic checkpoints: each door's answer depends on the table alone.
    settings = settings_factory(nats_partitions=1, checkpoint_interval_minutes=0)
    keyed = settings.model_copy(update={"api_keys": "key-b:beta"})
    env = cli_env(settings)
    outcomes: dict[str, dict[str, Outcome]] = {}
    async with running_app(settings):
        nc = await nats.connect(settings.nats_url)
        with TestClient(create_app(bootstrap(settings))) as local, \
                TestClient(create_app(bootstrap(keyed))) as beta:
            seeded = local.post("/api/v1/agents/bot/events", json=[
                {"event_id": f"seed-{i}", "agent_id": "bot", **good(f"m{i}")} for i in range(3)])
            assert seeded.status_code == 201, seeded.text
            taken = local.post("/api/v1/context/capture/bot", json={"label": "doors"})
            assert taken.status_code == 201, taken.text
            checkpoint = taken.json()["package_id"]
            beta.headers["X-API-Key"] = "key-b"
            for row in ROWS:
                got = outcomes[row.name] = {}
                args = resolved(row, checkpoint)
                client = local if row.tenant == "local" else beta
                got["http"] = http_door(client, row, dict(args))
                if row.op in ("read", "capture", "restore"):
                    got["ws"] = ws_door(client, row, dict(args),
                                        "key-b" if row.tenant == "beta" else None)
                if row.op == "record":
                    got["nats"] = await ingest_door(nc, settings, row)
                else:
                    got["nats"] = await rpc_door(nc, settings, row, dict(args))
                if row.op != "record" or len(row.events) == 1:
                    got["cli"] = cli_door(env, row, dict(args))
        await nc.close()
    common.reset()
    wrong = {row.name: {door: got for door, got in outcomes[row.name].items()
                        if got != row.expected}
             for row in ROWS}
    assert not any(wrong.values()), {name: doors for name, doors in wrong.items() if doors}
    # Every row went through two doors at least (a batch: the others
    # three or four), and each door met acceptances, refusals and unknown things.
    assert all(len(outcomes[row.name]) >= 2 for row in ROWS), outcomes
    assert sum(len(doors) for doors in outcomes.values()) >= 3 * len(ROWS) - 8, outcomes
    for door in ("http", "ws", "nats", "cli"):
        seen = {got[0] for got in (o.get(door) for o in outcomes.values()) if got}
        assert seen == {"accepted", "invalid", "not found"}, (door, seen)
