"""Secrets never reach the server's logs: uvicorn logs each request's path with its query
string, so a key a client put in the URL (which the API refuses, but the line is written before
that) would be kept in the access log. A filter on uvicorn's loggers blanks such values.

A parameter is secret when its percent-decoded, case-folded name contains one of
`SECRET_WORDS` (`x_api_key`, `api%5Fkey`, `Authorization`, `refresh_token`, ...): a list of
exact names always missed the next spelling."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

QUERY_PAIR = re.compile(r"([?&;])([^=&;\s\"'?]*)=([^&;\s\"']*)")
SECRET_WORDS = ("key", "token", "secret", "password", "auth")
LOGGERS = ("uvicorn.access", "uvicorn.error")
REDACTED = "[redacted]"


def is_secret_name(name: str) -> bool:
    folded = unquote(name.replace("+", " ")).casefold()
    return any(word in folded for word in SECRET_WORDS)


def _blank(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    return f"{separator}{name}={REDACTED if is_secret_name(name) else value}"


def redact(text: str) -> str:
    return QUERY_PAIR.sub(_blank, text)


def _redact_any(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_any(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_any(v) for k, v in record.args.items()}
        return True


def install_log_redaction() -> None:
    """Adds the filter to uvicorn's loggers once (logging's dictConfig keeps a logger's filters
    when uvicorn configures it later)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
