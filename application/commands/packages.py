"""Export and import a checkpoint as a portable `.ctxpkg` file."""

from __future__ import annotations

from dataclasses import dataclass

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.commands.access import Caller, shown
from ctxstore.application.commands.context import UseCases
from ctxstore.application.errors import InvalidRequest
from ctxstore.domain.points import Point


@dataclass(frozen=True)
class ExportPackage:
    package_id: str

    def __post_init__(self) -> None:
        if not self.package_id or len(self.package_id) > 256:
            raise InvalidRequest("a checkpoint id of 1 to 256 characters", field="package_id")


@dataclass(frozen=True)
class ImportPackage:
    data: bytes


@dataclass(frozen=True)
class Imported:
    checkpoint: Checkpoint
    restored_key: str | None  # the agent a keyed import created from it, if it did


def export_package(uc: UseCases, caller: Caller, cmd: ExportPackage) -> bytes:
    data: bytes = uc.packages.export(cmd.package_id, caller.tenant)
    return data


def import_package(uc: UseCases, caller: Caller, cmd: ImportPackage) -> Imported:
    """Verify and keep a `.ctxpkg` as the caller's, for its agent of the id the file names
    (package ids are per tenant: another tenant's of the same id neither blocks it nor shows).
    For a keyed caller an agent new to the tenant is created from the checkpoint (a restore)."""
    manifest = uc.packages.read_manifest(cmd.data)
    key = uc.policy.writable(caller, manifest.checkpoint.agent_id)
    known = uc.store.summary(key) is not None
    checkpoint = uc.packages.import_package(cmd.data, caller.tenant)
    restored = None
    if not known and caller.keyed:
        uc.restore.restore(None, Point.of_checkpoint(checkpoint.package_id), key,
                           tenant=caller.tenant)
        restored = key
    return Imported(shown(checkpoint), restored)
