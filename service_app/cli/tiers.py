"""`flask --app wsgi tiers …`: propose, apply and explain quarterly tiers from scripts."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ..domain.credit_codes import normalise_credit_code
from ..domain.quarters import Quarter
from ..extensions import db
from ..models import TierProposal
from ..scoping import get_scoped_firm_by_code
from ..tiers.services import TierError, apply_proposal, explain, propose_tiers

tiers_cli = AppGroup("tiers", help="Quarterly tier reassessment.")


def _quarter(value: str | None) -> Quarter | None:
    if value is None:
        return None
    try:
        return Quarter.parse(value)
    except ValueError as exc:
        raise click.BadParameter(f"not a quarter: {value} (use 2026Q4)") from exc


@tiers_cli.command("propose")
@click.option("--quarter", required=True, help="The quarter to tier, e.g. 2026Q4 (metrics up to 2026Q3).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def propose_command(quarter: str, as_json: bool) -> None:
    """Compute (or show the existing) proposal for a quarter; never approves."""
    proposal = propose_tiers(_quarter(quarter))  # type: ignore[arg-type]
    db.session.commit()
    summary = {
        "proposal_id": proposal.id,
        "quarter": proposal.quarter,
        "status": proposal.status.value,
        **proposal.summary,
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    counts, changes = summary["counts"], summary["changes"]
    click.echo(f"proposal {proposal.id} for {proposal.quarter} ({proposal.status.value})")
    click.echo("  " + ", ".join(f"{tier} {n}" for tier, n in counts.items()))
    click.echo("  " + ", ".join(f"{change} {n}" for change, n in changes.items()))
    click.echo(f"  insufficient data: {summary['insufficient_data']}")


@tiers_cli.command("apply")
@click.argument("proposal_id", type=int)
@click.option("--allow-stale", is_flag=True, help="Apply even if firms or metrics changed since it was computed.")
def apply_command(proposal_id: int, allow_stale: bool) -> None:
    """Approve a proposal: write every firm's tier for its quarter."""
    proposal = db.session.get(TierProposal, proposal_id)
    if proposal is None:
        raise click.ClickException(f"no proposal {proposal_id}")
    try:
        counts = apply_proposal(proposal, None, allow_stale=allow_stale)
        db.session.commit()
    except TierError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"applied proposal {proposal_id}: {counts['firms']} firms, {counts['changed']} changed tier")


@tiers_cli.command("explain")
@click.argument("credit_code")
@click.option("--quarter", help="The quarter (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain_command(credit_code: str, quarter: str | None, as_json: bool) -> None:
    """Print why a firm has its tier: the rules that fired and each indicator's contribution."""
    firm = get_scoped_firm_by_code(None, normalise_credit_code(credit_code))
    if firm is None:
        raise click.ClickException(f"no firm with credit code {credit_code}")
    try:
        why = explain(firm, _quarter(quarter))
    except TierError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps({"credit_code": firm.credit_code, "name": firm.name, **why}, ensure_ascii=False))
        return
    click.echo(
        f"{firm.name} {firm.credit_code}: {why['tier']} for {why['quarter']} ({why['status']}), score {why['score']}"
    )
    for reason in why["reasons"]:
        click.echo(f"  - {reason.get('text') or reason.get('code')}")
