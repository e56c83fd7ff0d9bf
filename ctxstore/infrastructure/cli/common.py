"""What every command shares: settings, the services the composition root builds once per
process, output helpers."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console

from ctxstore.application.store import ContextStore, from_us
from ctxstore.domain.bounds import check_version
from ctxstore.domain.points import InvalidPoint, Point
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


def store() -> ContextStore:
    return services().store


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


def version_option(value: int | None, option: str) -> int | None:
    """A version option within 0..2**63-1, else one line naming the option (exit 1): the
    store would refuse it too, but by its own argument's name."""
    return None if value is None else check_version(value, option)


def point_option(text: str, option: str) -> Point:
    """A point option (`--from 12`, an ISO time, a checkpoint id), its error naming it."""
    try:
        return Point.parse(text)
    except InvalidPoint as e:
        raise InvalidPoint(str(e), option) from None
