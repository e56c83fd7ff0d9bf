"""`ctxstore verify`: walk agents' hash chains (application.integrity); non-zero exit on any
finding, one line each, so a cron job or CI step can alert on it."""

from __future__ import annotations

from typing import Annotated

import typer

from ctxstore.infrastructure.cli.common import caller, services, store
from ctxstore.infrastructure.cli.errors import fail, friendly_errors


@friendly_errors
def verify(
    agent_id: Annotated[str | None, typer.Argument(help="The agent to verify.")] = None,
    all_agents: Annotated[bool, typer.Option(
        "--all", help="Verify every agent of every tenant.")] = False,
) -> None:
    """Check that no event was altered, removed, reordered or inserted behind the store's back."""
    if (agent_id is None) == (not all_agents):
        fail("name an AGENT or pass --all (not both)")
    keys = None if all_agents else [store().key_for(caller().tenant, str(agent_id))]
    report = services().integrity.verify(keys)
    for unknown in report.unknown:
        typer.echo(f"{agent_id if agent_id else unknown}: no such agent", err=True)
    for finding in report.findings:
        typer.echo(finding.line(), err=True)
    keyed = "HMAC-SHA-256" if services().store.chain.keyed else "SHA-256, no integrity key"
    summary = (f"{report.agents} agent{'s' if report.agents != 1 else ''}, "
               f"{report.events} events verified ({keyed}): ")
    typer.echo(f"{report.commitments} snapshot and checkpoint chain heads checked")
    if report.unread:
        typer.echo(f"{report.unread} snapshots or checkpoints not readable here (encrypted: "
                   "give the encryption key to check them), not checked")
    if report.clean:
        typer.echo(summary + "no findings")
        return
    typer.echo(summary + f"{len(report.findings) + len(report.unknown)} finding(s)")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(verify)
