"""A context read as the bytes both doors send (GET context and the WebSocket's `context`
action): encoded once per agent key, version and variant (http.cache), whichever door asked
first; a checkpoint's state is read from the checkpoint each time."""

from __future__ import annotations

from ctxstore.application.commands import Caller, ReadContext
from ctxstore.application.commands.read import Located
from ctxstore.infrastructure.http.cache import encode_json
from ctxstore.infrastructure.http.deps import Api


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
