"""Errors the use cases raise; adapters map them to 404/409/422 and CLI messages."""

import re


class ContextStoreError(Exception):
    """Base of ctxstore's own errors: the message is meant for the user."""


class AgentNotFound(ContextStoreError):
    def __init__(self, agent_id: str):
        self.agent_id = agent_id
        super().__init__(f"agent {agent_id!r} has no recorded events")


class ScheduleNotFound(ContextStoreError):
    """An agent without its own automatic checkpoint schedule (a 404)."""

    def __init__(self, agent_id: str):
        self.agent_id = agent_id
        super().__init__(f"agent {agent_id!r} has no automatic checkpoint schedule")


class PointNotFound(ContextStoreError):
    """A version past the agent's history, or a time before its first event."""


class WriteConflict(ContextStoreError):
    """Concurrent writers kept colliding on the same agents; nothing of the batch was written."""


class CheckpointNotFound(PointNotFound):
    """No checkpoint (context package) with that id in this store."""

    def __init__(self, package_id: str):
        self.package_id = package_id
        super().__init__(f"checkpoint {package_id!r} not found")


class IntegrityMismatch(ContextStoreError):
    """Stored or rebuilt state does not hash to what it should; nothing was written."""


class CorruptedCheckpoint(IntegrityMismatch):
    """A checkpoint's stored bytes cannot be read back to the state they were taken from."""


class CorruptedSnapshot(IntegrityMismatch):
    """A stored snapshot cannot be read, or disagrees with the event history."""


class PackageTooLarge(ContextStoreError):
    """A checkpoint or package file over CONTEXT_MAX_PACKAGE_SIZE_MB."""


class InvalidPackageFile(ContextStoreError):
    """A .ctxpkg file that is not one, or was truncated or tampered with; `field` names the
    offending part when there is one (`manifest.checkpoint.package_id`)."""

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(message)


class PackageExists(ContextStoreError):
    """Importing a package whose id this store already holds with other content."""


class InvalidRequest(ContextStoreError):
    """A use-case argument out of range (an unknown strategy, access level, ...); `field`
    names it when one is at fault (then the message starts with `field: `, as every door
    shows it)."""

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


_LEADING_FIELD = re.compile(r"^([a-z_][a-z0-9_.]*): ")


def field_of(exc: Exception) -> str | None:
    """The field an error names: its `field`, or the `name: ...` its message starts with."""
    field = getattr(exc, "field", None)
    if isinstance(field, str):
        return field
    match = _LEADING_FIELD.match(str(exc))
    return match.group(1) if match else None


class AgentForgotten(ContextStoreError):
    """An agent that was forgotten (right to erasure): nothing of it is left to read, and its
    id and event ids are refused for ever (a 410 at the HTTP door)."""

    def __init__(self, agent_id: str, forgotten_at: str, forgotten_by: str):
        self.agent_id = agent_id
        self.forgotten_at = forgotten_at
        self.forgotten_by = forgotten_by
        super().__init__(f"agent {agent_id!r} was forgotten at {forgotten_at} by "
                         f"{forgotten_by!r}: its events are refused")
