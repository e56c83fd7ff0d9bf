"""Turn any expected failure into one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from ctxstore.application.errors import ContextStoreError
from ctxstore.domain.agent_id import InvalidAgentId
from ctxstore.domain.events import InvalidEnvelope, errors_from_validation

F = TypeVar("F", bound=Callable[..., Any])
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    # escaped: a message is text, and "[letta]" in "pip install 'ctxstore[letta]'" or in a
    # file name would otherwise be taken for a style and vanish
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                      soft_wrap=True)
    raise typer.Exit(code)


def friendly_errors(func: F) -> F:
    """Wrap a command so our errors and bad settings never end in a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except (ContextStoreError, InvalidEnvelope, InvalidAgentId, ValueError) as e:
            if isinstance(e, ValidationError):
                fail("; ".join(f"{x.field}: {x.message}" for x in errors_from_validation(e)))
            fail(str(e))
        except OSError as e:
            fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
        except Exception as e:  # noqa: BLE001 - the last guard: one line, no traceback
            fail(f"{type(e).__name__}: {e}")

    return wrapper  # type: ignore[return-value]
