"""Invitations: how someone joins an account. An admin never sees or chooses a password.

The inviting admin gets a link for the person to open: single use, valid for
INVITATION_DAYS, shown once (only a hash of its token is stored). The admin's answer is the
same whether or not the email already has a user anywhere. The membership exists only once
the invitee accepts: someone new chooses their own password there; someone who already has a
user signs in as that email first. Sending again issues a fresh link and kills the old one.

Why: a temporary password shown to one account's admin signed in, later, as a member of any
account that added the same email, and read that account's leads.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import select, update

from app.auth.accounts import add_member, create_user, find_user, normalize_email
from app.auth.members import MemberRefused, lock_members, withdraw_invitations
from app.database import begin_write
from app.extensions import db
from app.models import Account, Invitation, Membership, Role, User
from app.permissions import Actor, Permission
from app.sqltypes import utcnow


class InvitationNotFound(LookupError):
    """No pending invitation with this id in this account."""


class State(StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"
    REVOKED = "revoked"  # withdrawn by an admin, or replaced by a newer link
    ACCEPTED = "accepted"


class NotUsable(Exception):
    """The link cannot be used (any more): `state` says why; None for a link that is unknown."""

    def __init__(self, state: State | None) -> None:
        super().__init__(state)
        self.state = state


class EmailTaken(Exception):
    """Someone new tried to accept for an email that already has a user: sign in instead."""


class NotYours(Exception):
    """The signed-in user's email is not the invitation's."""


@dataclass(frozen=True)
class Issued:
    invitation: Invitation
    token: str  # the link's secret: shown this once, never stored


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def state_of(invitation: Invitation) -> State:
    if invitation.accepted_at is not None:
        return State.ACCEPTED
    if invitation.revoked_at is not None:
        return State.REVOKED
    return State.EXPIRED if invitation.expires_at <= utcnow() else State.PENDING


def pending(actor: Actor, account: Account) -> list[Invitation]:
    """The account's invitations that nobody accepted or revoked (expired ones too, to send
    again), newest first."""
    actor.require(Permission.MANAGE)
    query = (
        select(Invitation)
        .where(
            Invitation.account_id == account.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .order_by(Invitation.id.desc())
    )
    return list(db.session.scalars(query))


def invite(actor: Actor, account: Account, inviter: User, email: str, role: Role) -> Issued:
    """A link for `email` to join the account with `role`; it replaces any pending link for
    the same email. Refused only for someone who is a member of this account already."""
    actor.require(Permission.MANAGE)
    lock_members(account)
    address = normalize_email(email)
    user = find_user(address)
    if user is not None and _membership(account, user) is not None:
        refusal = MemberRefused(f"{address} is already a member of {account.name}.")
        db.session.rollback()  # end the write transaction (and its lock) now
        raise refusal
    withdraw_invitations(account, Invitation.email == address)
    return _issue(account, inviter, address, role)


def resend(actor: Actor, account: Account, inviter: User, invitation_id: int) -> Issued:
    """A fresh link for a pending (or expired) invitation; the old link stops working."""
    actor.require(Permission.MANAGE)
    lock_members(account)
    old = _pending(account, invitation_id)
    old.revoked_at = utcnow()
    return _issue(account, inviter, old.email, Role(old.role))


def revoke(actor: Actor, account: Account, invitation_id: int) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once."""
    actor.require(Permission.MANAGE)
    lock_members(account)
    invitation = _pending(account, invitation_id)
    invitation.revoked_at = utcnow()
    db.session.commit()
    return invitation


def open_link(token: str) -> Invitation:
    """The pending invitation of a link; NotUsable says why a link cannot be used."""
    invitation = _by_token(token)
    if invitation is None:
        raise NotUsable(None)
    state = state_of(invitation)
    if state is not State.PENDING:
        raise NotUsable(state)
    return invitation


def accept_as_new_user(token: str, password: str) -> Membership:
    """Someone new accepts: their user is created with the password they chose, and joins.
    EmailTaken if the email has a user (who must sign in to accept)."""
    begin_write()
    invitation = _claim(token)
    if find_user(invitation.email) is not None:
        db.session.rollback()
        raise EmailTaken(invitation.email)
    user = create_user(invitation.email, password)
    membership = add_member(user, invitation.account, Role(invitation.role))
    db.session.commit()
    return membership


def accept_as(user: User, token: str) -> Membership:
    """The signed-in user accepts an invitation for their own email. Someone who is a member
    already keeps their membership and role (an invitation never demotes)."""
    begin_write()
    invitation = _claim(token, email=user.email)
    membership = _membership(invitation.account, user) or add_member(
        user, invitation.account, Role(invitation.role)
    )
    db.session.commit()
    return membership


def _issue(account: Account, inviter: User, email: str, role: Role) -> Issued:
    token = secrets.token_urlsafe(32)  # 256 bits
    now = utcnow()
    invitation = Invitation(
        account_id=account.id,
        email=email,
        role=role,
        token_hash=_digest(token),
        invited_by_id=inviter.id,
        created_at=now,
        expires_at=now + timedelta(days=current_app.config["INVITATION_DAYS"]),
    )
    db.session.add(invitation)
    db.session.commit()
    return Issued(invitation, token)


def _claim(token: str, *, email: str | None = None) -> Invitation:
    """Mark the link's invitation accepted, once: of two acceptances at the same moment, one
    updates the row and the other finds it used (NotUsable)."""
    try:
        invitation = open_link(token)
        if email is not None and email != invitation.email:
            raise NotYours(invitation.email)
    except (NotUsable, NotYours):
        db.session.rollback()  # end the write (and SQLite's write lock) now
        raise
    now = utcnow()
    claimed = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise NotUsable(State.ACCEPTED)
    return invitation


def _by_token(token: str) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == _digest(token)))


def _pending(account: Account, invitation_id: int) -> Invitation:
    invitation = db.session.scalar(
        select(Invitation).where(
            Invitation.id == invitation_id,
            Invitation.account_id == account.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    )
    if invitation is None:
        db.session.rollback()
        raise InvitationNotFound(invitation_id)
    return invitation


def _membership(account: Account, user: User) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(Membership.account_id == account.id, Membership.user_id == user.id)
    )
