"""A point in an agent's history (DESIGN §3): a version, a time, or a checkpoint id.

A point with none of the three is "latest" (the agent now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ctxstore.domain.bounds import OutOfBounds, check_version

PointKind = Literal["version", "at", "checkpoint", "latest"]
LATEST_WORDS = ("latest", "now", "head")


class InvalidPoint(ValueError):
    """A point that names more than one thing, or a text that is not a point; `field` names
    the part at fault when there is one (`version`)."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


@dataclass(frozen=True)
class Point:
    version: int | None = None
    at: datetime | None = None
    checkpoint_id: str | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.version, self.at, self.checkpoint_id) if x is not None]
        if len(given) > 1:
            raise InvalidPoint("a point is a version, a time or a checkpoint id, not several")
        if self.version is not None:
            try:
                check_version(self.version)
            except OutOfBounds as e:
                raise InvalidPoint(e.message, e.field) from None
        if self.at is not None and self.at.tzinfo is None:
            object.__setattr__(self, "at", self.at.replace(tzinfo=UTC))
        if self.checkpoint_id is not None and not self.checkpoint_id.strip():
            raise InvalidPoint("checkpoint id must not be empty")

    @classmethod
    def of_version(cls, version: int) -> Point:
        return cls(version=version)

    @classmethod
    def of_time(cls, at: datetime) -> Point:
        return cls(at=at)

    @classmethod
    def of_checkpoint(cls, checkpoint_id: str) -> Point:
        return cls(checkpoint_id=checkpoint_id)

    @classmethod
    def latest(cls) -> Point:
        return cls()

    @classmethod
    def parse(cls, text: str) -> Point:
        """`12` or `v12` or `version:12`; an ISO time (`at:` optional); `latest`/`now`;
        anything else (or `checkpoint:ID`) is a checkpoint id."""
        raw = text.strip()
        if not raw:
            raise InvalidPoint("a point must not be empty")
        lowered = raw.lower()
        if lowered in LATEST_WORDS:
            return cls.latest()
        for prefix in ("version:", "v"):
            rest = raw[len(prefix):] if lowered.startswith(prefix) else None
            if rest is not None and rest.isdigit():
                return cls(version=int(rest))
        if raw.isdigit():
            return cls(version=int(raw))
        if lowered.startswith("checkpoint:"):
            return cls(checkpoint_id=raw.split(":", 1)[1])
        candidate = raw[3:] if lowered.startswith("at:") else raw
        try:
            at = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            if lowered.startswith("at:"):
                raise InvalidPoint(f"{candidate!r} is not an ISO 8601 time") from None
            return cls(checkpoint_id=raw)
        return cls(at=at)

    @property
    def kind(self) -> PointKind:
        if self.version is not None:
            return "version"
        if self.at is not None:
            return "at"
        if self.checkpoint_id is not None:
            return "checkpoint"
        return "latest"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: exactly one of version / at / checkpoint_id, or {"latest": true}."""
        if self.version is not None:
            return {"version": self.version}
        if self.at is not None:
            return {"at": self.at.isoformat()}
        if self.checkpoint_id is not None:
            return {"checkpoint_id": self.checkpoint_id}
        return {"latest": True}

    def __str__(self) -> str:
        if self.version is not None:
            return f"version {self.version}"
        if self.at is not None:
            return f"time {self.at.isoformat()}"
        if self.checkpoint_id is not None:
            return f"checkpoint {self.checkpoint_id}"
        return "latest"
