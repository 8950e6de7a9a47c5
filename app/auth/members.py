"""An account's members as its admins manage them: change a role, remove (people join by
invitation: app/auth/invitations.py).

Every function takes the acting admin and checks the manage permission first. An account
always keeps one admin at least; membership changes of one account are serialized (the account
row is locked), so two admins demoting each other at once cannot leave it without one.
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import contains_eager

from app.database import begin_write
from app.extensions import db
from app.models import Account, ApiToken, Invitation, Membership, Role, User
from app.permissions import Actor, Permission
from app.sqltypes import utcnow


class MemberNotFound(LookupError):
    """No such member in this account (a member of another account is not found either)."""


class MemberRefused(Exception):
    """The change would break a rule (the last admin, a member twice); the message says which."""


def members(actor: Actor, account: Account) -> list[Membership]:
    """The account's memberships with their users, by email."""
    actor.require(Permission.MANAGE)
    query = (
        select(Membership)
        .join(Membership.user)
        .options(contains_eager(Membership.user))
        .where(Membership.account_id == account.id)
        .order_by(User.email)
    )
    return list(db.session.scalars(query))


def change_role(actor: Actor, account: Account, membership_id: int, role: Role) -> Membership:
    """Give the member another role; the last admin keeps theirs."""
    actor.require(Permission.MANAGE)
    lock_members(account)
    membership = _get(account, membership_id)
    if role is not Role.ADMIN:
        _keep_an_admin(account, membership, "demoted")
        withdraw_invitations(account, Invitation.invited_by_id == membership.user_id)
    membership.role = role
    db.session.commit()
    return membership


def remove(actor: Actor, account: Account, membership_id: int) -> User:
    """Take the member out of this account, and out of this account only: their API tokens
    in it are revoked, and their sessions stop acting in it (each falls back to another of
    their accounts on its next request). Their sessions elsewhere go on: an admin of one
    account must not be able to sign anyone out of another. The last admin stays."""
    actor.require(Permission.MANAGE)
    lock_members(account)
    membership = _get(account, membership_id)
    _keep_an_admin(account, membership, "removed")
    user = membership.user
    db.session.delete(membership)
    db.session.flush()
    _revoke_tokens(account, user)
    withdraw_invitations(account, Invitation.invited_by_id == user.id)
    _keep_a_primary(user)
    db.session.commit()
    return user


def lock_members(account: Account) -> None:
    """Start the write and serialize membership changes of the account (FOR UPDATE on
    PostgreSQL; SQLite's BEGIN IMMEDIATE already admits one writer at a time)."""
    begin_write()
    db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update())


def _find(account: Account, *, user_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(Membership.account_id == account.id, Membership.user_id == user_id)
    )


def _get(account: Account, membership_id: int) -> Membership:
    membership = db.session.scalar(
        select(Membership).where(
            Membership.id == membership_id, Membership.account_id == account.id
        )
    )
    if membership is None:
        raise MemberNotFound(membership_id)
    return membership


def _keep_an_admin(account: Account, membership: Membership, change: str) -> None:
    if membership.role != Role.ADMIN:
        return
    admins = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.account_id == account.id, Membership.role == Role.ADMIN)
    )
    if admins == 1:
        _refuse(
            f"{membership.user.email} is the last admin of {account.name} and cannot be "
            f"{change}: make another member an admin first."
        )


def _refuse(message: str) -> NoReturn:
    db.session.rollback()  # end the write transaction (and its lock) now
    raise MemberRefused(message)


def _revoke_tokens(account: Account, user: User) -> None:
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.account_id == account.id,
            ApiToken.user_id == user.id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


def withdraw_invitations(account: Account, *where: ColumnElement[bool]) -> None:
    """Withdraw the account's pending invitations that match (the caller commits). Removing
    or demoting an admin withdraws the ones they sent: they must not keep a way back in."""
    db.session.execute(
        update(Invitation)
        .where(
            Invitation.account_id == account.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            *where,
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _keep_a_primary(user: User) -> None:
    """If the user's primary account was this one, their oldest remaining one becomes it."""
    remaining = db.session.scalars(
        select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)
    ).all()
    if remaining and not any(m.is_primary for m in remaining):
        remaining[0].is_primary = True
