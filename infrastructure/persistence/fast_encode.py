"""orjson encoding for what is written in bulk: AgentContext.Recorded events and snapshots.

At 1,000 events per transaction the stdlib JSON encoder was a quarter of the mapper's time, and
encoding snapshots (a whole context each) a tenth of an ingest worker's record thread.
A Recorded event's state is known: strings, an optional session id, a datetime, and `data`,
which is validated wire JSON (domain.events: dicts with string keys, lists, strings, finite
numbers, booleans, null; no NaN). For such values orjson writes JSON that eventsourcing's
JSONTranscoder decodes to the very same event (datetimes tagged exactly as it tags them), so
stores stay readable by the plain transcoder. Anything else orjson would write differently
(UUIDs, enums, subclasses, integers past 64 bits) makes `encode_recorded` return None and the
caller uses the transcoder; other event types always do. A snapshot of an AgentContext holds
the same kinds of values: its time, topic, and the agent's fields (datetimes, its id string,
the folded content of such wire JSON, and the session list).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoder
from eventsourcing.utils import get_topic

from ctxstore.domain.aggregate import AgentContext, AgentSnapshot

_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
            | orjson.OPT_PASSTHROUGH_DATACLASS)


_ZERO = timedelta(0)


def isoformat(moment: datetime) -> str:
    """`moment.isoformat()`, by orjson for a time at offset zero (every event time this store
    makes, and most that clients send): 0.13 against 0.64 µs, a datetime in every event
    written. For an offset of zero orjson writes what isoformat does (RFC 3339: microseconds
    only when not 0, then "+00:00"); any other offset, or none, is isoformat's."""
    zone = moment.tzinfo
    if zone is not UTC:
        if zone is None or moment.utcoffset() != _ZERO:
            return moment.isoformat()
        moment = moment.replace(tzinfo=UTC)  # e.g. pydantic's TzInfo(0) from a "Z"
    return orjson.dumps(moment)[1:-1].decode()


@lru_cache(maxsize=16)
def _tagger(transcoder: Transcoder) -> Callable[[Any], Any] | None:
    # Asked here, once per transcoder: an ABC's isinstance costs a write 1.5 % of its CPU.
    if not isinstance(transcoder, JSONTranscoder):
        return None
    transcoding = transcoder.types.get(datetime)
    if transcoding is None:
        return None
    name = transcoding.name
    # eventsourcing's own transcoding is isoformat; another registered under datetime is its own.
    encode = isoformat if type(transcoding) is DatetimeAsISO else transcoding.encode

    def default(obj: Any) -> Any:
        if type(obj) is datetime:
            return {"_type_": name, "_data_": encode(obj)}
        raise TypeError  # not a plain value of a validated wire event: use the transcoder

    return default


_PLAIN = (str, dict, list, datetime, type(None))
_AGENT_TOPIC = get_topic(AgentContext)
_SNAPSHOTS = (Snapshot, AgentSnapshot)  # the library's (stored before), ours


def encode_recorded(state: dict[str, Any], event: object, transcoder: Transcoder
                    ) -> bytes | None:
    """The bytes of a Recorded event's or an agent snapshot's state, or None when the
    transcoder must write it."""
    kind = type(event)
    if kind is AgentContext.Recorded:
        values: Any = state.values()
    elif kind in _SNAPSHOTS and state.get("topic") == _AGENT_TOPIC \
            and type(state.get("state")) is dict:
        values = [*state.values(), *state["state"].values()]
    else:
        return None
    default = _tagger(transcoder)  # None too for a transcoder that is not JSON's
    if default is None:
        return None
    for value in values:
        if type(value) not in _PLAIN:
            return None  # a field the known shape does not have
    try:
        return orjson.dumps(state, default=default, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: an unexpected type or a huge integer
        return None
