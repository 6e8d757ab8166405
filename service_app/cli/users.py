"""`flask --app wsgi users …`: create users from scripts and terminals."""

from __future__ import annotations

import os
import secrets
import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from ..admin.services import UserError, create_user, streets_by_name
from ..audit import record_event
from ..auth.limits import clear_account_failures
from ..domain.tiers import Role
from ..extensions import db
from ..models import User

users_cli = AppGroup("users", help="Manage users.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True, help="What the user may do.")
@click.option("--street", "streets", multiple=True, help="A street the user covers (repeatable).")
@click.option("--name", "display_name", default="", help="Name shown in the interface.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(
    username: str, role: str, streets: tuple[str, ...], display_name: str, password_stdin: bool
) -> None:
    """Create USERNAME with a role; the password is prompted for unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(username, password, Role(role), streets_by_name(list(streets)), display_name)
        db.session.commit()
    except UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created user {user.username} ({user.role.value})")


@users_cli.command("ensure-admin")
@click.option("--username", default="admin", show_default=True)
def ensure_admin(username: str) -> None:
    """Create the first admin if no admin exists (password: $ADMIN_PASSWORD or generated, printed once)."""
    if db.session.scalar(sa.select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None:
        click.echo("an administrator exists already")
        return
    password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    try:
        create_user(username, password, Role.ADMIN, [], "管理员")
        db.session.commit()
    except UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    if os.environ.get("ADMIN_PASSWORD"):
        click.echo(f"created administrator {username} with the password from ADMIN_PASSWORD")
    else:
        click.echo(f"created administrator {username}; password (shown once): {password}")


@users_cli.command("unlock")
@click.argument("username")
def unlock_command(username: str) -> None:
    """Lift USERNAME's sign-in lock-out after too many failed attempts (its address's stays)."""
    clear_account_failures(username)
    user_id = db.session.scalar(sa.select(User.id).where(User.username == username))
    record_event("auth.unlock", "user", user_id, after={"username": username[:64]})
    db.session.commit()
    click.echo(f"sign-in unlocked for {username}")
