"""`flask` commands for operators: users, API tokens, demo data.

Scripts read their output: `tokens create` prints the token alone on its last line.
"""

from __future__ import annotations

import secrets
import time

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app.auth.accounts import (
    add_member,
    create_user,
    find_user,
    get_or_create_account,
    set_password,
)
from app.auth.passwords import password_problem, verify_password
from app.auth.tokens import create_api_token
from app.backup import backup_command
from app.demo import add_demo_leads, demo_admin_email
from app.extensions import db
from app.models import Account, Role

users = AppGroup("users", help="Manage users and their account memberships.")
tokens = AppGroup("tokens", help="Manage API tokens.")


TEMPORARY = click.option(
    "--temporary",
    is_flag=True,
    help="Someone else will use this password: they must choose their own at their next sign-in.",
)


def _check_password(password: str) -> None:
    if problem := password_problem(password):
        raise click.UsageError(f"--password: {problem}")


@users.command("create")
@click.argument("email")
@click.option(
    "--password",
    default=None,
    help="At least 10 characters, not a common one. Needed for a new user; for an existing "
    "user, only their current password is accepted (it is never changed here).",
)
@click.option("--account", "account_name", required=True, help="Account name (created if new).")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=None,
    help="Role in the account [default: admin for a new account, else member].",
)
@TEMPORARY
def create_user_command(
    email: str, password: str | None, account_name: str, role: str | None, temporary: bool
) -> None:
    """Create the user if needed and add them to the account NAME.

    For an existing user the password is never changed nor ignored: give none, or their
    current one (scripts that create a user, then add them to a second account, keep working);
    `flask users set-password` sets a new one.
    """
    user = find_user(email)
    if user is None:
        if password is None:
            raise click.UsageError("--password is needed to create a new user.")
        _check_password(password)
        if "@" not in email:
            raise click.UsageError("EMAIL must be an email address.")
        user = create_user(email, password, temporary=temporary)
        click.echo(f"Created user {user.email}")
    elif temporary or (password is not None and not verify_password(user.password_hash, password)):
        raise click.UsageError(
            f"{user.email} exists already, and `users create` never changes a password: give "
            f"no --password, or their current one. To set a new password: "
            f"flask --app wsgi users set-password {user.email}"
        )
    account, created = get_or_create_account(account_name.strip())
    if created:
        click.echo(f"Created account {account.name} ({account.public_id})")
    chosen = Role(role) if role else (Role.ADMIN if created else Role.MEMBER)
    membership = add_member(user, account, chosen)
    db.session.commit()
    primary = " (primary)" if membership.is_primary else ""
    click.echo(f"{user.email} is {chosen} of {account.name} ({account.public_id}){primary}")


@users.command("set-password")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 10 characters, not a common one [default: asked for, not echoed].",
)
@TEMPORARY
def set_password_command(email: str, password: str, temporary: bool) -> None:
    """Set a new password for EMAIL; every session of theirs ends."""
    user = find_user(email)
    if user is None:
        raise click.UsageError(f"No user {email}.")
    _check_password(password)
    set_password(user, password, temporary=temporary)
    then = " They must choose their own at their next sign-in." if temporary else ""
    click.echo(f"Set a new password for {user.email}; their sessions have ended.{then}")


@tokens.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for; shown in the audit log.")
@click.option("--account", "account_id", default=None, help="Account id [default: primary].")
@click.option("--read-only", is_flag=True, help="The token may only read leads.")
def create_token_command(email: str, name: str, account_id: str | None, read_only: bool) -> None:
    """Create an API token for EMAIL; the token is printed once, on the last line."""
    from app.auth.accounts import AccountRefused, membership_for

    user = find_user(email)
    if user is None:
        raise click.UsageError(f"No user {email}.")
    try:
        membership = membership_for(user, account_id)
    except AccountRefused:
        raise click.UsageError(f"{email} is not a member of account {account_id}.") from None
    token, secret = create_api_token(user, membership.account, name.strip(), read_only=read_only)
    db.session.commit()
    scope = "read-only" if read_only else "read-write"
    click.echo(
        f"API token {token.name!r} ({scope}) for {user.email} in {membership.account.name} "
        f"({membership.account.public_id}). Shown once; store it safely:"
    )
    click.echo(secret)


@click.command("demo")
@with_appcontext
@click.option("--leads", "count", type=click.IntRange(0, 10_000_000), default=1_000)
@click.option("--account", "account_name", default="Demo", show_default=True)
@click.option("--seed", type=int, default=None, help="Repeatable data for a given seed.")
def demo_command(count: int, account_name: str, seed: int | None) -> None:
    """Add COUNT realistic demo leads to an account (created with a demo admin if new)."""
    account, created = get_or_create_account(account_name)
    if created:
        email, password = demo_admin_email(account), secrets.token_urlsafe(12)
        user = find_user(email) or create_user(email, password)
        add_member(user, account, Role.ADMIN)
        db.session.commit()
        click.echo(f"Created account {account.name} ({account.public_id})")
        click.echo(f"Sign in as {email} with password {password}")
    started = time.perf_counter()
    add_demo_leads(account, count, seed)
    elapsed = time.perf_counter() - started
    total = db.session.scalar(
        select(Account.live_leads + Account.archived_leads).where(Account.id == account.id)
    )
    click.echo(f"Added {count:,} leads in {elapsed:.1f} s; {account.name} now has {total:,} leads.")


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(demo_command)
    app.cli.add_command(backup_command)
