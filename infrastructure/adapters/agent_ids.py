"""A framework's thread or session id as a ctxstore agent id: stable, documented, injective.

Agent ids match `^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$` (a NATS subject token); frameworks allow
any string. The rule:

- an id that is a valid agent id and does not start with `x-` is the agent id itself;
- any other id is `x-` + its first 60 characters with everything outside `[A-Za-z0-9_-]`
  replaced by `_` (a readable hint) + `-` + the first 32 hex digits of the SHA-256 of its
  UTF-8 bytes.

Only encoded ids start with `x-` (a valid id starting with `x-` is encoded too), so two
different framework ids never share an agent. The original id is kept with every event the
adapter records (the envelope's `session_id`), so it is never lost.
"""

from __future__ import annotations

import hashlib
import re

from ctxstore.domain.agent_id import AGENT_ID_PATTERN

ENCODED_PREFIX = "x-"
_VALID = re.compile(AGENT_ID_PATTERN)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def agent_id_for(framework_id: str) -> str:
    if _VALID.match(framework_id) and not framework_id.startswith(ENCODED_PREFIX):
        return framework_id
    hint = _UNSAFE.sub("_", framework_id[:60])
    digest = hashlib.sha256(framework_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{ENCODED_PREFIX}{hint}-{digest}"
