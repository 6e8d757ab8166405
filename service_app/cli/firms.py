"""`flask --app wsgi firms …`: read the roster from scripts."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from ..domain.credit_codes import normalise_credit_code
from ..domain.tiers import Tier
from ..extensions import db
from ..firms.services import NO_TIER, firm_as_dict
from ..models import Firm, Street
from ..scoping import get_scoped_firm_by_code

firms_cli = AppGroup("firms", help="Read the firm roster.")


@firms_cli.command("show")
@click.argument("credit_code")
def show_firm(credit_code: str) -> None:
    """Print one firm as JSON: fields, current tier, latest quarter's metrics."""
    firm = get_scoped_firm_by_code(None, normalise_credit_code(credit_code))
    if firm is None:
        raise click.ClickException(f"no firm with credit code {credit_code}")
    click.echo(json.dumps(firm_as_dict(firm), ensure_ascii=False, indent=2))


@firms_cli.command("list")
@click.option(
    "--tier", type=click.Choice([t.value for t in Tier] + [NO_TIER]), help="Only this tier ('none': unassessed)."
)
@click.option("--street", help="Only firms of this street (exact name).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_firms(tier: str | None, street: str | None, as_json: bool) -> None:
    """List firms, optionally by tier and street."""
    query = (
        sa.select(Firm.credit_code, Firm.name, Street.name, Firm.current_tier)
        .join(Street, Firm.street_id == Street.id)
        .order_by(Firm.name, Firm.id)
    )
    if tier == NO_TIER:
        query = query.where(Firm.current_tier.is_(None))
    elif tier:
        query = query.where(Firm.current_tier == Tier(tier))
    if street:
        if db.session.scalar(sa.select(Street.id).where(Street.name == street)) is None:
            raise click.ClickException(f"no such street: {street}")
        query = query.where(Street.name == street)
    rows = db.session.execute(query).all()
    if as_json:
        payload = [
            {"credit_code": code, "name": name, "street": street_name, "current_tier": t.value if t else None}
            for code, name, street_name, t in rows
        ]
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    for code, name, street_name, t in rows:
        click.echo(f"{code}\t{t.value if t else '-'}\t{street_name}\t{name}")
    click.echo(f"{len(rows)} firms", err=True)
