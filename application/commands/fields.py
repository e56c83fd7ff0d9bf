"""What commands share: their pydantic base, the agent id field and the point fields.

A command is validated once, when a door builds it from its input; a rule that spans fields
(one point at most) raises on the later field, so every door's error names a field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ctxstore.domain.agent_id import AGENT_ID_PATTERN
from ctxstore.domain.bounds import BoundedText, Int64
from ctxstore.domain.points import Point

AgentId = Annotated[str, Field(pattern=AGENT_ID_PATTERN, max_length=128,
                               description="An agent id (a NATS-safe token).")]
POINT_FIELDS = ("version", "at", "package_id")


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def one_point(value: object, info: ValidationInfo) -> object:
    """At most one of version, at and package_id: the later one given is the field at
    fault. A command's validator (`OnePoint`), not its parameters': a door that validated
    each parameter where it came from meets this rule only when it builds the command."""
    if value is None:
        return value
    earlier = [n for n in POINT_FIELDS[:POINT_FIELDS.index(str(info.field_name))]
               if info.data.get(n) is not None]
    if earlier:
        raise ValueError(f"give one point (version, at or package_id), not both "
                         f"{earlier[0]} and {info.field_name}")
    return value


class PointFields(Command):
    """A point of an agent's history: a version, a time or a checkpoint; none is its latest
    (at every door)."""

    version: Int64 | None = Field(default=None, description="The state at this version.")
    at: datetime | None = Field(default=None,
                                description="The state at this time (RFC 3339; UTC without "
                                "an offset).")
    package_id: Annotated[BoundedText, Field(min_length=1)] | None = Field(
        default=None, description="The state a checkpoint holds.")

    def point(self) -> Point:
        return Point(version=self.version, at=self.at, checkpoint_id=self.package_id)


class OnePoint(PointFields):
    """The point fields with their rule (see one_point)."""

    _one_point = field_validator("at", "package_id")(one_point)
