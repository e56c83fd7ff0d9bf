"""Record events: a batch of envelopes for one agent, each validated on its own.

The batch rule, the same at every door: a malformed envelope is rejected with its reason (the
field at fault) and the rest of the batch is recorded; the report says, envelope by envelope
(by index), what became of each. An envelope must be of the door's agent (the HTTP path's, the
NATS subject's, the CLI argument's): `parse_event` checks both for every door, ingest included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ctxstore.application.commands.access import Caller
from ctxstore.application.commands.context import EventLimits, UseCases
from ctxstore.application.results import EventOutcome
from ctxstore.domain import bounds
from ctxstore.domain.agent_id import check_agent_id
from ctxstore.domain.events import AnyEnvelope, FieldError, InvalidEnvelope, parse_envelope

Status = Literal["recorded", "duplicate", "rejected"]


def body_error(message: str) -> InvalidEnvelope:
    """The batch as a whole is not a batch (nothing was recorded)."""
    return InvalidEnvelope([FieldError(field="(body)", message=message)])


@dataclass(frozen=True)
class RecordEvents:
    """Envelopes (JSON values, not yet validated) for the door's agent `agent_id`."""

    agent_id: str
    items: tuple[Any, ...]

    def __post_init__(self) -> None:
        check_agent_id(self.agent_id)
        if not self.items:
            raise body_error("the list has no envelopes")

    @classmethod
    def of_json(cls, agent_id: str, value: Any) -> RecordEvents:
        """One envelope (an object) or a batch (a list of them)."""
        if isinstance(value, dict):
            return cls(agent_id, (value,))
        if isinstance(value, list):
            return cls(agent_id, tuple(value))
        raise body_error("the body must be an envelope (object) or a list of envelopes")


def parse_event(raw: Any, agent_id: str, limits: EventLimits, where: str = "path"
                ) -> AnyEnvelope:
    """One envelope within the limits and of the door's agent (`where` names where the door
    took that agent from); InvalidEnvelope naming each field at fault otherwise."""
    envelope = parse_envelope(raw, max_event_bytes=limits.max_event_bytes,
                              max_clock_skew_seconds=limits.max_clock_skew_seconds)
    if envelope.agent_id != agent_id:
        raise InvalidEnvelope([FieldError(
            field="agent_id", message=f"the envelope's agent_id {envelope.agent_id!r} differs "
            f"from the {where}'s agent {agent_id!r}")])
    return envelope


@dataclass(frozen=True)
class IndexedOutcome:
    index: int
    event_id: str | None
    status: Status
    version: int | None = None
    field: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class IndexedError:
    field: str
    message: str
    index: int


@dataclass(frozen=True)
class RecordReport:
    """What a batch did, envelope by envelope; `key` is the agent's key in the store."""

    agent_id: str
    key: str
    version: int
    outcomes: list[IndexedOutcome]
    errors: list[IndexedError] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def recorded(self) -> int:
        return self.count("recorded")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    @property
    def verdict(self) -> Literal["recorded", "nothing_new", "partly_rejected"]:
        """Any rejected envelope makes the batch partly rejected, even though the others were
        recorded (HTTP: 422 with the report; CLI: an error line)."""
        if self.rejected:
            return "partly_rejected"
        return "recorded" if self.recorded else "nothing_new"

    @property
    def detail(self) -> str | None:
        rejected = [o for o in self.outcomes if o.status == "rejected"]
        if not rejected:
            return None
        return (f"{len(rejected)} of {len(self.outcomes)} envelopes rejected "
                f"({self.recorded} recorded): "
                + "; ".join(f"[{o.index}] {o.reason}" for o in rejected[:5])
                + ("; …" if len(rejected) > 5 else ""))


def _event_id(item: Any) -> str | None:
    event_id = item.get("event_id") if isinstance(item, dict) else None
    return bounds.printable(event_id) if isinstance(event_id, str) else None


def record_events(uc: UseCases, caller: Caller, cmd: RecordEvents) -> RecordReport:
    """Validate each envelope, record the valid ones in one transaction, report every one."""
    key = uc.policy.writable(caller, cmd.agent_id)
    outcomes: dict[int, IndexedOutcome] = {}
    errors: dict[int, list[IndexedError]] = {}
    valid: list[tuple[int, AnyEnvelope]] = []
    for i, item in enumerate(cmd.items):
        try:
            valid.append((i, parse_event(item, cmd.agent_id, uc.limits)))
        except InvalidEnvelope as e:
            first = e.errors[0]
            outcomes[i] = IndexedOutcome(i, _event_id(item), "rejected", field=first.field,
                                         reason=e.reason)
            errors[i] = [IndexedError(x.field, x.message, i) for x in e.errors]
    version: int | None = None
    if valid:
        result = uc.store.record([e for _, e in valid], tenant=caller.tenant)
        for (i, _), outcome in zip(valid, result.outcomes, strict=True):
            outcomes[i] = _indexed(i, outcome)
            if outcome.status == "rejected":
                errors[i] = [IndexedError(outcome.field or "(envelope)",
                                          outcome.reason or "rejected", i)]
        version = result.versions.get(cmd.agent_id)
    if version is None:
        summary = uc.store.summary(key)
        version = summary.version if summary else 0
    ordered = [outcomes[i] for i in range(len(cmd.items))]
    return RecordReport(cmd.agent_id, key, version, ordered,
                        [e for i in sorted(errors) for e in errors[i]])


def record_parsed(uc: UseCases, caller: Caller, envelopes: Sequence[AnyEnvelope]
                  ) -> list[EventOutcome]:
    """Envelopes a door has already parsed one by one with `parse_event` (ingest: many agents
    of the caller's tenant at once, where a malformed message is already a dead letter):
    recorded in one transaction for the caller's tenant, one outcome each, in order. An agent
    id that another tenant holds is rejected, envelope by envelope, by the store."""
    return uc.store.record(envelopes, tenant=caller.tenant).outcomes


def _indexed(index: int, o: EventOutcome) -> IndexedOutcome:
    return IndexedOutcome(index, o.event_id, o.status, o.version, o.field, o.reason)
