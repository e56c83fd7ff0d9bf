"""nats-server 2.9 (Debian's) has no stream subject transforms, so it cannot partition agents.

With the partition count left at its default, ingest falls back to one partition and says so in
one warning line; a count set explicitly above one is a clear one-line error. These run against
the shared server on CONTEXT_NATS_URL when it is older than 2.10 (as on the development
machines); against a newer one, a proxy makes its INFO announce 2.9 to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError
from nats_helpers import running_app, wait_until
from support import make_settings

from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.messaging.streams import NatsServerTooOld, fit_to_server
from ctxstore.infrastructure.messaging.subjects import Subjects
from devtools.services import nats_info
from devtools.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
FALLBACK = "cannot partition agents (stream subject transforms need 2.10 or later): using 1 " \
           "partition instead of the default 4"


def _major_minor(url: str) -> tuple[int, int]:
    version = str((nats_info(url) or {}).get("version", "0.0"))
    major, minor = (int(x) for x in version.split(".")[:2])
    return major, minor


@pytest.fixture
async def old_nats(nats_url: str, prefix: str) -> AsyncIterator[str]:
    """URL of a JetStream whose INFO says 2.9; its streams of `prefix` are deleted after."""
    proxy = None
    url = nats_url
    if _major_minor(nats_url) >= (2, 10):
        host, port = nats_url.removeprefix("nats://").rsplit(":", 1)
        proxy = await TcpProxy(host, int(port)).start()
        proxy.server_version = "2.9.25"
        url = proxy.url
    assert _major_minor(url) < (2, 10)
    yield url
    nc = await nats.connect(url)
    js = nc.jetstream()
    for stream in (f"{prefix.upper()}_EVENTS", f"{prefix.upper()}_DLQ",
                   f"KV_{prefix.upper()}_INGEST_LEASES"):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream)
    await nc.close()
    if proxy is not None:
        await proxy.stop()


def test_fit_to_server_keeps_what_the_server_can_do() -> None:
    default = Subjects(partitions=4, partitions_explicit=False)
    assert fit_to_server(default, "2.9.10") == Subjects(partitions=1, partitions_explicit=False)
    assert fit_to_server(default, "2.10.0") == default
    assert fit_to_server(Subjects(partitions=1), "2.9.10") == Subjects(partitions=1)
    with pytest.raises(NatsServerTooOld, match="into 4: stream subject transforms need 2.10"):
        fit_to_server(Subjects(partitions=4), "2.9.10")


async def test_ingest_app_with_the_default_partitions_records_on_an_old_server(
        old_nats: str, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings("sqlite", tmp_path, nats_url=old_nats, nats_prefix=prefix)
    assert "nats_partitions" not in settings.model_fields_set
    with caplog.at_level("WARNING", logger="ctxstore.infrastructure.messaging.streams"):
        async with running_app(settings) as runtime:
            assert runtime.subjects.partitions == 1
            async with await ContextPublisher.connect(old_nats, prefix=prefix) as publisher:
                await publisher.publish(new_event("old-server", "message",
                                                  {"role": "user", "content": "hi"}))
            store = runtime.get_store()
            await wait_until(lambda: store.history("old-server") != [], timeout=60,
                             what="the event recorded")
    warnings = [r.getMessage() for r in caplog.records if "cannot partition" in r.getMessage()]
    assert len(warnings) == 1 and FALLBACK in warnings[0], warnings


async def test_ingest_app_with_four_partitions_set_fails_on_an_old_server(
        old_nats: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings("sqlite", tmp_path, nats_url=old_nats, nats_prefix=prefix,
                             nats_partitions=4)
    with pytest.raises(NatsServerTooOld, match="cannot partition agents into 4"):
        async with running_app(settings):
            pass


def _cli_env(url: str, prefix: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXT_")}
    return {**env, "CONTEXT_NATS_URL": url, "CONTEXT_NATS_PREFIX": prefix,
            "CONTEXT_STORAGE_BACKEND": "sqlite", "CONTEXT_STORAGE_PATH": str(tmp_path / "store"),
            **extra}


async def _ingest(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ctxstore", "ingest", "--log-level", "WARNING",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_ctxstore_ingest_with_defaults_records_on_an_old_server(
        old_nats: str, prefix: str, tmp_path: Path) -> None:
    """One warning line, one unpartitioned stream, and the event recorded (announced)."""
    nc = await nats.connect(old_nats)
    recorded = await nc.subscribe(f"{prefix}.recorded.old-cli")
    proc = await _ingest(_cli_env(old_nats, prefix, tmp_path))
    try:
        js = nc.jetstream()

        async def stream_exists() -> bool:
            try:
                await js.stream_info(f"{prefix.upper()}_EVENTS")
            except NotFoundError:
                return False
            return True

        await wait_until(stream_exists, timeout=60, what="the events stream")
        info = await js.stream_info(f"{prefix.upper()}_EVENTS")
        assert info.config.subject_transform is None
        await js.publish(f"{prefix}.events.old-cli", new_event(
            "old-cli", "message", {"role": "user", "content": "hi"}).model_dump_json().encode())
        announced = await recorded.next_msg(timeout=60)
        assert b'"version":1' in announced.data.replace(b" ", b"")
    finally:
        if proc.returncode is None:
            proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
        await nc.close()
    lines = stderr.decode().splitlines()
    assert len([line for line in lines if "cannot partition" in line]) == 1, lines
    assert any(FALLBACK in line for line in lines), lines


async def test_ctxstore_ingest_with_four_partitions_set_says_why_in_one_line(
        old_nats: str, prefix: str, tmp_path: Path) -> None:
    proc = await _ingest(_cli_env(old_nats, prefix, tmp_path, CONTEXT_NATS_PARTITIONS="4"))
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: NatsServerTooOld: nats-server 2.9") and \
        "cannot partition agents into 4" in lines[0] and \
        "CONTEXT_NATS_PARTITIONS=1" in lines[0], lines


async def test_ctxstore_ingest_with_processes_on_an_old_server_says_it_must_be_2_10(
        old_nats: str, prefix: str, tmp_path: Path) -> None:
    """Raising CONTEXT_NATS_PARTITIONS cannot help on 2.9: the line says what would."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ctxstore", "ingest", "--processes", "2",
        cwd=ROOT, env=_cli_env(old_nats, prefix, tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    lines = [line for line in stderr.decode().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "--processes 2" in lines[0] and "must be 2.10 or later" in lines[0], lines
    assert "raise CONTEXT_NATS_PARTITIONS" not in lines[0], lines
