"""What every command shares: settings, the services the composition root builds once per
process, output helpers."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from ctxstore.application.commands import Caller, Commands
from ctxstore.application.store import LOCAL_TENANT, ContextStore, from_us
from ctxstore.domain.events import errors_from_validation
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.settings import Settings, load_settings

console = Console()


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


@functools.lru_cache(maxsize=1)
def services() -> Services:
    """The process's services, built on the first command that needs them (`ctxstore
    --help` and the NATS-only commands open no database)."""
    return bootstrap(settings())


def reset() -> None:
    """Close the services built so far (their connection pools) and forget them and the
    settings, so that the next command builds both anew from the environment. A CLI process
    runs one command and exits; a program that runs several in one process (the tests, an
    embedding tool) calls this between them, or each command's pool stays open."""
    if services.cache_info().currsize:
        services().close()
    services.cache_clear()
    settings.cache_clear()


def store() -> ContextStore:
    return services().store


def commands() -> Commands:
    return services().commands


class _Door:
    """The tenant the CLI acts for: the keyless (local) one unless `ctxstore --tenant T`."""

    tenant: str = LOCAL_TENANT


def set_tenant(tenant: str | None) -> None:
    _Door.tenant = tenant or LOCAL_TENANT


def caller() -> Caller:
    return Caller(_Door.tenant)


C = TypeVar("C", bound=BaseModel)
POINT_OPTIONS = {"version": "--version", "at": "--at", "package_id": "--checkpoint",
                 "agent_id": "AGENT_ID"}


class CommandRefused(ValueError):
    """A command the CLI's options do not make; the message names the options at fault."""


def command(model: type[C], values: Mapping[str, Any], options: Mapping[str, str]) -> C:
    """The command the options make; its fields' errors name the options they came from
    (`--version: ...`), as the other doors name their parameters."""
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise CommandRefused("; ".join(
            f"{options.get(x.field, x.field)}: {x.message}"
            for x in errors_from_validation(e))) from None


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def parse_time(text: str) -> datetime:
    """RFC 3339 / ISO 8601; a time without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. 2025-03-24T02:59:06Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_us(us: int) -> str:
    return from_us(us).isoformat(timespec="seconds")
