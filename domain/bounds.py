"""The bounds every door applies (DESIGN §2): what the store accepts, every reader can read.

One place for the rules, so HTTP, the WebSocket, NATS, the CLI, the trace importers and
`.ctxpkg` import refuse the same input with the same field-named reason:

- JSON nested at most `MAX_JSON_DEPTH` deep (the envelope object itself is depth 1): deeper
  values broke the readers' own serialisers (the context, diff and fork answered 500);
- valid Unicode in every string and every object key (no lone surrogates, which cannot be
  encoded as UTF-8 and were either refused with a 500 or silently mangled to U+FFFD);
- integers within signed 64 bits (what PostgreSQL, SQLite and JSON readers in other languages
  hold);
- times between 1970-01-01 and now plus an allowed clock skew: a time before 1970 broke the
  agents list (`year 0 is out of range`), one in year 9999 stuck the agent's clock there;
- package ids shaped like agent ids (safe in a path, a header and a file name), labels and
  session ids of bounded length.

The checks walk values iteratively, so a 100k-deep body costs a loop, never the interpreter's
recursion limit. Nothing here does I/O; "now" is read from the clock only when not given.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

MAX_JSON_DEPTH = 64
# An agent's state holds envelope values one or two levels deeper than the envelope did
# (`messages[i].content` for `data.content`).
MAX_STATE_DEPTH = MAX_JSON_DEPTH + 2
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_TEXT_LENGTH = 256  # labels, session ids
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
DEFAULT_MAX_CLOCK_SKEW_SECONDS = 300.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PACKAGE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
_PACKAGE_ID_RE = re.compile(PACKAGE_ID_PATTERN)
# A quick look at raw JSON text that proves most bodies within bounds without a walk: fewer
# openers than the depth limit, and no run of digits long enough to reach 2**63. The run is
# found by mapping every digit to "0" and searching for nineteen of them: both steps are single
# passes in C, where the regex `\d{19}` tried a match at every byte (6 µs for a 640-byte
# envelope against 0.8 µs, and every body is looked at twice).
_ALL_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


class OutOfBounds(ValueError):
    """A value outside the bounds; `field` is its path (`data.output.3.key`)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _bad_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_text(value: str, field: str, *, max_length: int | None = MAX_TEXT_LENGTH) -> str:
    """A string of valid Unicode (no lone surrogates), at most `max_length` characters."""
    if _bad_text(value):
        raise OutOfBounds(field, "must be valid Unicode (a lone surrogate is not)")
    if max_length is not None and len(value) > max_length:
        raise OutOfBounds(field, f"at most {max_length} characters, not {len(value)}")
    return value


def check_int(value: int, field: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise OutOfBounds(field, "integer out of the signed 64-bit range")
    return value


def check_version(value: int, field: str = "version") -> int:
    """A version or a version cursor: 0 to INT64_MAX. Every door passes this (the store's
    reads and paging, a Point) so a 2**63 reaches no database driver (OverflowError there)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OutOfBounds(field, f"must be an integer, not {value!r}")
    if not 0 <= value <= INT64_MAX:
        raise OutOfBounds(field, f"must be between 0 and {INT64_MAX}, not {value}")
    return value


def check_json(value: Any, field: str = "", *, max_depth: int = MAX_JSON_DEPTH,
               depth: int = 1) -> Any:
    """`value` when it is JSON within the bounds (depth, Unicode, 64-bit integers, finite
    floats), else OutOfBounds naming the first offending path. `depth` is the depth of `value`
    itself within the whole document (1 for the document)."""
    stack: list[tuple[Any, str, int]] = [(value, field, depth)]
    while stack:
        item, path, level = stack.pop()
        where = path or "(body)"
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            if _bad_text(item):
                raise OutOfBounds(where, "must be valid Unicode (a lone surrogate is not)")
        elif isinstance(item, int):
            check_int(item, where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise OutOfBounds(where, "must be a finite number")
        elif isinstance(item, Mapping | list | tuple):
            if level > max_depth:
                raise OutOfBounds(where, f"JSON nested more than {max_depth} levels deep")
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise OutOfBounds(where, "object keys must be strings")
                    if _bad_text(key):
                        raise OutOfBounds(_join(path, printable(key)), "object key must be "
                                          "valid Unicode (a lone surrogate is not)")
                    stack.append((child, _join(path, key), level + 1))
            else:
                stack.extend((child, _join(path, i), level + 1) for i, child in enumerate(item))
        # Other values (a caller's datetime) are left to the model's own validation.
    return value


def printable(text: str) -> str:
    """`text` with lone surrogates spelled as `\\udXXX`: safe to echo in an error answer."""
    if not _bad_text(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def has_long_digits(text: bytes) -> bool:
    """Whether `text` holds a run of 19 or more ASCII digits (a number that may not fit in 64
    bits)."""
    return _LONG_RUN in text.translate(_ALL_DIGITS_TO_ZERO)


def openers_within(text: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text has no more openers than the depth limit (so it nests no deeper)."""
    return text.count(b"[") + text.count(b"{") <= max_depth


def text_within_bounds(text: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when JSON text parsed by orjson needs no walk: orjson already refuses invalid
    UTF-8, lone surrogates and NaN; with fewer openers than the depth limit and no 19-digit
    number, nothing in it can be out of bounds."""
    return openers_within(text, max_depth) and not has_long_digits(text)


def loads(raw: bytes | str, field: str = "(body)") -> tuple[Any, bool]:
    """The JSON value of `raw`, and whether orjson parsed it; ValueError (OutOfBounds for
    nesting) for anything that is not JSON. Never RecursionError, however deep the text.

    orjson first (fast; it refuses NaN, lone surrogates and nesting past 1024); what it refuses
    goes to the stdlib, whose messages are clearer and which reads lone surrogates and big
    integers (the bounds walk then names them).
    """
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if not has_long_digits(text):
        # orjson reads an integer past 64 bits as a float, silently changing it: such text
        # goes to the stdlib, which keeps it exact for the bounds walk to refuse.
        try:
            return orjson.loads(text), True
        except orjson.JSONDecodeError:
            pass
    try:
        # Decoded here, strictly as UTF-8 (lone surrogates pass, for the walk to name): given
        # bytes, the stdlib would sniff UTF-16/32 and report a misleading codec error.
        decoded = text.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise OutOfBounds(field, f"body is not UTF-8 JSON (byte 0x{text[e.start]:02x} at "
                          f"offset {e.start})") from None
    try:
        return json.loads(decoded), False
    except RecursionError:
        raise OutOfBounds(field, f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
                          ) from None


def check_time(moment: datetime, field: str, *, now: datetime | None = None,
               max_skew_seconds: float = DEFAULT_MAX_CLOCK_SKEW_SECONDS) -> datetime:
    """An aware time (naive: UTC) between 1970-01-01 and now plus the allowed clock skew."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise OutOfBounds(field, "must be between 1970-01-01 and now") from None
    if utc < EPOCH:
        raise OutOfBounds(field, f"must be 1970-01-01 or later, not {moment.isoformat()}")
    latest = (now or datetime.now(UTC)) + timedelta(seconds=max_skew_seconds)
    if utc > latest:
        raise OutOfBounds(field, f"must not be in the future (more than {max_skew_seconds:g} "
                          f"s ahead of this store's clock; CONTEXT_MAX_CLOCK_SKEW_SECONDS), "
                          f"not {moment.isoformat()}")
    return moment


def check_package_id(package_id: str, field: str = "package_id") -> str:
    if not isinstance(package_id, str) or not _PACKAGE_ID_RE.match(package_id):
        raise OutOfBounds(field, f"must match {PACKAGE_ID_PATTERN} (letters, digits, '_' and "
                          "'-', at most 128 characters)")
    return package_id


def _valid_text(value: str) -> str:
    if _bad_text(value):
        raise ValueError("must be valid Unicode (a lone surrogate is not)")
    return value


# Pydantic types of the doors' request models: the same rules, as schema and validation.
Int64 = Annotated[int, Field(ge=0, le=INT64_MAX)]
BoundedText = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(_valid_text)]
PackageId = Annotated[str, Field(pattern=PACKAGE_ID_PATTERN, max_length=128)]
