"""One-dimensional PostgreSQL arrays packed straight into the binary wire format.

psycopg dumps a list parameter element by element through its generic array dumper, which at
1,000 events per transaction (four arrays of events, five of side rows) was a sixth of the write
path's client time. Our arrays are simple: no NULLs, one dimension, one element type each, so
they are packed here with `bytes.join` and `struct` and sent as they are (`%b` placeholders).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar
from uuid import UUID

# Element and array type oids (pg_type).
_BYTEA, _INT8, _TEXT, _UUID = 17, 20, 25, 2950
_HEADER = struct.Struct(">iiiii")  # ndim, has nulls, element oid, length, lower bound
_LENGTH = struct.Struct(">i")
_UUID_LENGTH = _LENGTH.pack(16)


@lru_cache(maxsize=64)
def _int8_format(count: int) -> struct.Struct:
    return struct.Struct(">" + "iq" * count)


class PackedArray:
    """A binary-format array ready to send; build one with the functions below."""

    __slots__ = ("data",)
    oid: ClassVar[int]

    def __init__(self, data: bytes):
        if not _registered:
            register_dumpers()
        self.data = data


class ByteaArray(PackedArray):
    __slots__ = ()
    oid = 1001


class Int8Array(PackedArray):
    __slots__ = ()
    oid = 1016


class TextArray(PackedArray):
    __slots__ = ()
    oid = 1009


class UuidArray(PackedArray):
    __slots__ = ()
    oid = 2951


def _header(element_oid: int, count: int, has_null: bool = False) -> bytes:
    if count == 0:
        return struct.pack(">iii", 0, 0, element_oid)  # PostgreSQL's empty array
    return _HEADER.pack(1, int(has_null), element_oid, count, 1)


def _variable(element_oid: int, values: Sequence[bytes | None]) -> bytes:
    pack = _LENGTH.pack
    parts = [_header(element_oid, len(values), None in values)]
    for value in values:
        if value is None:
            parts.append(pack(-1))  # NULL
            continue
        parts.append(pack(len(value)))
        parts.append(value)
    return b"".join(parts)


def bytea_array(values: Sequence[bytes | None]) -> ByteaArray:
    """A bytea[] whose None elements are NULL."""
    return ByteaArray(_variable(_BYTEA, values))


def text_array(values: Sequence[str]) -> TextArray:
    return TextArray(_variable(_TEXT, [v.encode() for v in values]))


def int8_array(values: Sequence[int]) -> Int8Array:
    flat: list[int] = []
    for value in values:
        flat.append(8)
        flat.append(value)
    return Int8Array(_header(_INT8, len(values)) + _int8_format(len(values)).pack(*flat))


def uuid_array(values: Sequence[UUID]) -> UuidArray:
    parts = [_header(_UUID, len(values))]
    for value in values:
        parts.append(_UUID_LENGTH)
        parts.append(value.bytes)
    return UuidArray(b"".join(parts))


def id_array(values: Sequence[UUID | str], id_type: str) -> PackedArray:
    """Originator ids as the events table keys them: uuid, or text."""
    if id_type == "uuid":
        return uuid_array([v if isinstance(v, UUID) else UUID(v) for v in values])
    return text_array([str(v) for v in values])


_registered = False


def register_dumpers() -> None:
    """Register psycopg's dumpers of these arrays (once), importing psycopg: the PostgreSQL
    recorder's module does at its import, before the store connects (a connection whose own
    adapters were changed since, as eventsourcing's composite types do, no longer sees what is
    registered globally); and the first array made, if nothing did before. A SQLite store
    never imports psycopg (persistence.pg_lazy)."""
    global _registered
    if _registered:
        return
    from psycopg import adapters
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class _PackedDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: PackedArray) -> bytes:  # type: ignore[override]
            return obj.data

    for cls in (ByteaArray, Int8Array, TextArray, UuidArray):
        dumper = type(f"{cls.__name__}Dumper", (_PackedDumper,), {"oid": cls.oid})
        adapters.register_dumper(cls, dumper)
    _registered = True
