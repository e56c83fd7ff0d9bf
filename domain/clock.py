"""Time as the store keeps it: exact microseconds since the epoch, never going backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch: how the side tables keep time, exactly and sortably."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND  # exact: timedelta arithmetic is integral


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


def not_before(moment: datetime, last: datetime | None) -> datetime:
    """`moment`, or `last` when it is earlier: an agent's times never go backwards, so
    "state at time T" is well defined."""
    return last if last is not None and moment <= last else moment
