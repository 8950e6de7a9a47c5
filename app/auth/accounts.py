"""Users, accounts and memberships: look-ups and the changes the CLI and setup make."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, update

from app.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from app.database import begin_write
from app.extensions import db
from app.models import Account, Membership, Role, User


class AccountRefused(Exception):
    """The user may not act in the account that was asked for."""


class PasswordRefused(Exception):
    """A password change that cannot be made; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    address = normalize_email(email)
    # Stored addresses passed email-validator: none has a control character, and PostgreSQL
    # refuses a NUL in any text, so such an address is unknown without asking.
    if not address.isprintable():
        return None
    return db.session.scalar(select(User).where(User.email == address))


def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials, or None: the same work for an unknown email."""
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if needs_rehash(user.password_hash):
        new_hash = hash_password(password)
        begin_write()
        user.password_hash = new_hash
        db.session.commit()
    return user


def memberships(user: User) -> list[Membership]:
    """The user's memberships, primary first, then by account name."""
    query = (
        select(Membership)
        .join(Account)
        .where(Membership.user_id == user.id)
        .order_by(Membership.is_primary.desc(), Account.name, Account.id)
    )
    return list(db.session.scalars(query))


def membership_for(user: User, account_public_id: str | None) -> Membership:
    """The membership the user acts through: the account asked for, else the primary one."""
    query = select(Membership).join(Account).where(Membership.user_id == user.id)
    if account_public_id is None:
        query = query.order_by(Membership.is_primary.desc(), Membership.id).limit(1)
    else:
        query = query.where(Account.public_id == account_public_id)
    membership = db.session.scalar(query)
    if membership is None:
        raise AccountRefused(account_public_id)
    return membership


def new_public_id() -> str:
    """A random 8-digit account id that is not taken (not guessable from others)."""
    while True:
        candidate = str(secrets.randbelow(90_000_000) + 10_000_000)
        if db.session.scalar(select(Account.id).where(Account.public_id == candidate)) is None:
            return candidate


def get_or_create_account(name: str) -> tuple[Account, bool]:
    account = db.session.scalar(select(Account).where(Account.name == name))
    if account is not None:
        return account, False
    account = Account(name=name, public_id=new_public_id())
    db.session.add(account)
    db.session.flush()
    return account, True


def add_member(user: User, account: Account, role: Role) -> Membership:
    """Add (or re-role) the user in the account; the user's first membership is primary."""
    existing = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.account_id == account.id)
    )
    if existing is not None:
        existing.role = role
        return existing
    count = db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
    )
    membership = Membership(user=user, account=account, role=role, is_primary=count == 0)
    db.session.add(membership)
    return membership


def create_user(email: str, password: str, *, temporary: bool = False) -> User:
    """A new user with this password (`temporary`: chosen by someone else, to be replaced at
    the first sign-in)."""
    user = User(
        email=normalize_email(email),
        password_hash=hash_password(password),
        must_change_password=temporary,
    )
    db.session.add(user)
    db.session.flush()
    return user


def end_sessions(user: User) -> None:
    """Bump the user's session version: every session cookie and session token of theirs dies
    on its next request (the caller commits)."""
    begin_write()
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password once the current one is confirmed; ends every session of the user.
    The new one is the user's own choice: no longer a temporary one."""
    if not verify_password(user.password_hash, current):
        raise PasswordRefused("current", "That is not your current password.")
    if problem := password_problem(new):
        raise PasswordRefused("password", problem)
    if new == current:
        raise PasswordRefused("password", "Must differ from your current password.")
    set_password(user, new, temporary=False)


def set_password(user: User, password: str, *, temporary: bool) -> None:
    """Replace the user's password and end every session of theirs. `temporary`: someone
    else chose it, so the user must choose their own at their next sign-in."""
    new_hash = hash_password(password)
    begin_write()
    user.password_hash = new_hash
    user.must_change_password = temporary
    end_sessions(user)
    db.session.commit()
