"""A context read as the bytes both doors send (GET context and the WebSocket's `context`
action): encoded once per agent key, version and variant (http.cache), whichever door asked
first; a checkpoint's state is read from the checkpoint each time. GET context sends a large
answer zstd-compressed to a client that accepts it (http.compression), compressed once too."""

from __future__ import annotations

from starlette.responses import Response

from ctxstore.application.commands import Caller, ReadContext
from ctxstore.application.commands.read import Located
from ctxstore.infrastructure.http.cache import encode_json, etag, none_match
from ctxstore.infrastructure.http.compression import (
    VARY,
    ZSTD,
    accepts_zstd,
    compress,
    compressed_tag,
)
from ctxstore.infrastructure.http.deps import Api

#: The longest If-None-Match header GET context takes (a longer one is a 422).
IF_NONE_MATCH_MAX = 8192


def encoded_answer(api: Api, caller: Caller, cmd: ReadContext, located: Located) -> bytes:
    """The JSON of what `cmd` answers where `locate` landed (blocking: a worker thread's)."""
    commands = api.services.commands

    def make() -> bytes:
        # States can be megabytes: encode once, in native code, without re-validating.
        return encode_json(commands.answer(caller, cmd, located))

    if located.package_id is not None:
        return make()
    return api.states.get_or_make(located.key, located.version, cmd.variant(), make)


def encoded_read(api: Api, caller: Caller, cmd: ReadContext) -> bytes:
    return encoded_answer(api, caller, cmd, api.services.commands.locate(caller, cmd))


def context_response(api: Api, caller: Caller, cmd: ReadContext, if_none_match: str | None,
                     accept_encoding: str | None = None) -> Response:
    """GET context's answer (blocking): the bytes with their strong ETag, or a 304 when
    `if_none_match` names it (or the compressed form's), known before anything is read; a large
    answer zstd-compressed when `accept_encoding` accepts it. The route and its fast path
    (http.fast_reads) both answer with it."""
    located = api.services.commands.locate(caller, cmd)
    tag = etag(located.key, located.version, located.package_id, cmd.variant())
    floor = api.compress_min_bytes
    vary = {"Vary": VARY} if floor is not None else {}
    named = none_match(if_none_match, tag, compressed_tag(tag))
    if named:
        return Response(status_code=304, headers={"ETag": named, **vary})
    data = encoded_answer(api, caller, cmd, located)
    if floor is None or len(data) < floor or not accepts_zstd(accept_encoding):
        return Response(data, media_type="application/json", headers={"ETag": tag, **vary})
    if located.package_id is None:
        data = api.states.get_or_make(located.key, located.version, cmd.variant() + "\0" + ZSTD,
                                      lambda: compress(data), count=False)
    else:
        data = compress(data)
    return Response(data, media_type="application/json",
                    headers={"ETag": compressed_tag(tag), "Content-Encoding": ZSTD, **vary})
