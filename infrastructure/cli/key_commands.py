"""`ctxstore rotate-key`: put the store under a new store key (persistence.key_rotation), then
rebuild the projections, whose search index is keyed by it.

The new key comes from CONTEXT_NEW_ENCRYPTION_KEY or `--new-key-file`, never from the command
line (which `ps` shows to every user); the current one from CONTEXT_ENCRYPTION_KEY as always.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from ctxstore.infrastructure.bootstrap import build_store, build_views
from ctxstore.infrastructure.cli.common import settings
from ctxstore.infrastructure.cli.errors import fail, friendly_errors
from ctxstore.infrastructure.persistence.cipher import check_key
from ctxstore.infrastructure.persistence.erasure import SQLErasure
from ctxstore.infrastructure.persistence.key_rotation import PartFiles, rotate
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.infrastructure.settings import NEW_KEY_VARIABLE


def _new_key(path: Path | None) -> str:
    if path is not None:
        key = path.read_text().strip()
    else:
        key = os.environ.get(NEW_KEY_VARIABLE, "").strip()
    if not key:
        fail(f"give the new key in {NEW_KEY_VARIABLE} or a file (--new-key-file), not on the "
             "command line")
    try:
        check_key(key)
    except ValueError as e:
        fail(f"the new key: {str(e).replace('CONTEXT_ENCRYPTION_KEY', 'it')}")
    return key


def _say(line: str) -> None:
    typer.echo(line, err=True)


@friendly_errors
def rotate_key(
    new_key_file: Annotated[Path | None, typer.Option(
        "--new-key-file", help=f"A file holding the new key (base64); default: "
        f"{NEW_KEY_VARIABLE}.", exists=True, dir_okay=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
) -> None:
    """Put the store under a new encryption key: the agents' data keys are wrapped with it,
    the dictionaries and parts encrypted with it, the search index rebuilt. Stop every service
    of the store first. Atomic: a failure or a wrong current key changes nothing."""
    current = settings()
    if not current.encryption_enabled or current.encryption_key is None:
        fail("the store is not encrypted (CONTEXT_ENCRYPTION_ENABLED, CONTEXT_ENCRYPTION_KEY): "
             "there is no key to rotate")
    assert current.encryption_key is not None
    new_key = _new_key(new_key_file)
    if not yes and not typer.confirm("Put the store under the new key? Every service of it "
                                     "must be stopped", err=True):
        fail("not rotated (answer yes, or pass --yes)")
    store = build_store(current)  # a wrong current key with dictionaries stops here
    recorder = store.recorder
    if not isinstance(recorder, SQLErasure):
        fail("this store keeps nothing on disk: nothing to rotate")
    assert isinstance(recorder, SQLErasure)
    files = (PartFiles(current.storage_path / "parts") if current.bodies_in_files else None)
    had_views = recorder.has_views()
    try:
        done = rotate(recorder, current.encryption_key.get_secret_value(), new_key, files,
                      _say)
    finally:
        store.close()
    typer.echo(f"rotated: {done.data_keys} data keys wrapped with the new key, "
               f"{done.legacy_agents} agents from before data keys given one, "
               f"{done.dictionaries} dictionaries and {done.parts} parts encrypted with it")
    if not had_views:
        typer.echo(f"set CONTEXT_ENCRYPTION_KEY to the new key now ({NEW_KEY_VARIABLE} can go)")
        return
    rotated = current.model_copy(update={"encryption_key": SecretStr(new_key)})
    rotated_store, views = build_store(rotated), build_views(rotated)
    try:
        _say("rebuilding the projections (the search index is keyed by the store key); if "
             "this stops, run `ctxstore project --rebuild --once` with the new key")
        n = ProjectionWorker(rotated_store, views).rebuild()
    finally:
        views.factory.close()  # type: ignore[attr-defined]
        rotated_store.close()
    typer.echo(f"projections rebuilt from {n} notifications; set CONTEXT_ENCRYPTION_KEY to the "
               f"new key now ({NEW_KEY_VARIABLE} can go)")


def register(app: typer.Typer) -> None:
    app.command(name="rotate-key")(rotate_key)
