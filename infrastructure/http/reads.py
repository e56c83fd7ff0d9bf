"""A context read as the bytes both doors send (GET context and the WebSocket's `context`
action): encoded once per agent key, version and variant (http.cache), whichever door asked
first; a checkpoint's state is read from the checkpoint each time."""

from __future__ import annotations

from starlette.responses import Response

from ctxstore.application.commands import Caller, ReadContext
from ctxstore.application.commands.read import Located
from ctxstore.infrastructure.http.cache import encode_json, etag, none_match
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


def context_response(api: Api, caller: Caller, cmd: ReadContext, if_none_match: str | None
                     ) -> Response:
    """GET context's answer (blocking): the bytes with their strong ETag, or a 304 when
    `if_none_match` names it, known before anything is read. The route and its fast path
    (http.fast_reads) both answer with it."""
    located = api.services.commands.locate(caller, cmd)
    tag = etag(located.key, located.version, located.package_id, cmd.variant())
    if none_match(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    data = encoded_answer(api, caller, cmd, located)
    return Response(data, media_type="application/json", headers={"ETag": tag})
