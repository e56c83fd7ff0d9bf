"""Secrets never reach the server's logs: uvicorn logs each request's path with its query
string, so a key a client put in the URL (which the API refuses, but the line is written before
that) would be kept in the access log. A filter on uvicorn's loggers blanks such values."""

from __future__ import annotations

import logging
import re
from typing import Any

SECRET_IN_QUERY = re.compile(
    r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|password|secret)=)[^&\s\"']*")
LOGGERS = ("uvicorn.access", "uvicorn.error")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return SECRET_IN_QUERY.sub(rf"\g<1>{REDACTED}", text)


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
