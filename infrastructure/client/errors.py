"""What the client raises: the server's error body, kept whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    index: int | None = None


class CtxstoreError(Exception):
    """The server refused a call (4xx) or failed (5xx): its status, sentence and fields."""

    def __init__(self, status: int, detail: str, errors: tuple[FieldError, ...] = ()):
        self.status = status
        self.detail = detail
        self.errors = errors
        where = f" ({', '.join(e.field for e in errors)})" if errors else ""
        super().__init__(f"{status}: {detail}{where}")

    @property
    def field(self) -> str | None:
        """The first offending field, when the server named one."""
        return self.errors[0].field if self.errors else None


class NotFound(CtxstoreError):
    """404: no such agent, point or checkpoint (or not this caller's)."""


class Conflict(CtxstoreError):
    """409: an integrity check failed or a writer conflict; nothing was written."""


class Gone(CtxstoreError):
    """410: the agent was forgotten (right to erasure); the message says when and by whom."""
