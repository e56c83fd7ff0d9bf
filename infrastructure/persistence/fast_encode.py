"""orjson encoding for the one event type written in bulk: AgentContext.Recorded.

At 1,000 events per transaction the stdlib JSON encoder was a quarter of the mapper's time.
A Recorded event's state is known: strings, an optional session id, a datetime, and `data`,
which is validated wire JSON (domain.events: dicts with string keys, lists, strings, finite
numbers, booleans, null; no NaN). For such values orjson writes JSON that eventsourcing's
JSONTranscoder decodes to the very same event (datetimes tagged exactly as it tags them), so
stores stay readable by the plain transcoder. Anything else orjson would write differently
(UUIDs, enums, subclasses, integers past 64 bits) makes `encode_recorded` return None and the
caller uses the transcoder; other event types always do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoder

from domain.aggregate import AgentContext

_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
            | orjson.OPT_PASSTHROUGH_DATACLASS)


@lru_cache(maxsize=16)
def _tagger(transcoder: JSONTranscoder) -> Callable[[Any], Any] | None:
    transcoding = transcoder.types.get(datetime)
    if transcoding is None:
        return None
    name, encode = transcoding.name, transcoding.encode

    def default(obj: Any) -> Any:
        if type(obj) is datetime:
            return {"_type_": name, "_data_": encode(obj)}
        raise TypeError  # not a plain value of a validated wire event: use the transcoder

    return default


def encode_recorded(state: dict[str, Any], event: object, transcoder: Transcoder
                    ) -> bytes | None:
    """The bytes of a Recorded event's state, or None when the transcoder must write it."""
    if type(event) is not AgentContext.Recorded or not isinstance(transcoder, JSONTranscoder):
        return None
    default = _tagger(transcoder)
    if default is None:
        return None
    for value in state.values():
        if type(value) is not str and type(value) is not dict and value is not None \
                and type(value) is not datetime:
            return None  # a field the known shape does not have
    try:
        return orjson.dumps(state, default=default, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: an unexpected type or a huge integer
        return None
