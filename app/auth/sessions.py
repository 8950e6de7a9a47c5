"""Browser sessions: who is signed in, in which account, and for how long.

The session is Flask's signed cookie. It names the user and their session version; the
version is checked against the database on every request, so bumping it (sign-out, a password
change) ends every session of that user at once. Removal from an account ends only that
account's part: the session falls back to another of the user's accounts. Sessions also end
after an idle period and after an absolute lifetime.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy import inspect

from app.auth.accounts import AccountRefused, end_sessions, membership_for, memberships
from app.extensions import db
from app.models import Account, Membership, Role, User
from app.permissions import Actor

F = TypeVar("F", bound=Callable[..., Any])
SEEN_PRECISION = 60  # seconds: refresh the idle clock at most once a minute


@dataclass(frozen=True)
class SignedIn:
    user: User
    membership: Membership

    @property
    def account(self) -> Account:
        return self.membership.account

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    def identity(self) -> dict[str, Any]:
        """The user id and account id for log lines, read without touching the database:
        error handlers roll the session back, which expires every loaded object, and reading
        a column then would query a database that may be down."""
        user_key = inspect(self.user).identity
        account = inspect(self.membership).dict.get("account")
        public_id = inspect(account).dict.get("public_id") if account is not None else None
        return {"user": user_key[0] if user_key else None, "account": public_id}


def sign_in(user: User) -> None:
    """Start a new session for the user (the old cookie's contents are dropped: no fixation)."""
    session.clear()
    now = int(time.time())
    session.update(uid=user.id, sv=user.session_version, started=now, seen=now)
    session.permanent = True


def renew_session(user: User) -> None:
    """A new session for the same user in the same account, after their session version moved
    on (a password change ends every other session; this one carries on)."""
    account = session.get("account")
    sign_in(user)
    if account is not None:
        session["account"] = account


def sign_out_everywhere(user: User) -> None:
    """End every session and session token of the user, here and on every other device."""
    end_sessions(user)
    db.session.commit()
    session.clear()


def load_signed_in() -> SignedIn | None:
    """The signed-in user and their current membership, or None (not signed in, or a member
    of no account)."""
    if "signed_in" in g:
        return g.signed_in
    g.signed_in = _load()
    return g.signed_in


def load_session_user() -> User | None:
    """The user of a live session (current version, within its time limits), whether or not
    they belong to an account (someone removed from every account may accept an invitation);
    None, clearing a dead session, otherwise."""
    if "session_user" in g:
        return g.session_user
    g.session_user = _load_user()
    return g.session_user


def _load_user() -> User | None:
    uid = session.get("uid")
    if uid is None:
        return None
    now = int(time.time())
    config = current_app.config
    expired = (
        now - session.get("seen", 0) > config["SESSION_IDLE_MINUTES"] * 60
        or now - session.get("started", 0) > config["SESSION_MAX_HOURS"] * 3600
    )
    user = None if expired else db.session.get(User, uid)
    if user is None or user.session_version != session.get("sv"):
        session.clear()
        return None
    if now - session.get("seen", 0) >= SEEN_PRECISION:
        session["seen"] = now
    return user


def _load() -> SignedIn | None:
    user = load_session_user()
    if user is None:
        return None
    try:
        membership = membership_for(user, session.get("account"))
    except AccountRefused:
        session.pop("account", None)  # removed from that account: fall back to the primary
        try:
            membership = membership_for(user, None)
        except AccountRefused:
            return None  # signed in, in no account: only an invitation page can help
    return SignedIn(user, membership)


def password_page_first() -> str | None:
    """Where to send a signed-in user whose password someone else chose (a temporary one):
    to the password page, and back here after; nothing else comes first."""
    user = load_session_user()
    if user is None or not user.must_change_password:
        return None
    return url_for("auth.password", next=request.full_path.rstrip("?"))


def choose_account(user: User, account_public_id: str) -> Membership:
    """Act in another of the user's accounts from now on (AccountRefused if not theirs)."""
    membership = membership_for(user, account_public_id)
    session["account"] = membership.account.public_id
    return membership


def signed_in() -> SignedIn:
    """The signed-in user (views behind `login_required` only)."""
    current = load_signed_in()
    assert current is not None
    return current


def user_accounts() -> list[Membership]:
    return memberships(signed_in().user)


def web_actor() -> Actor:
    current = signed_in()
    return Actor(
        email=current.user.email,
        role=current.role,
        method=request.method,
        path=request.path,
        ip=request.remote_addr,
    )


def login_required(view: F) -> F:
    """Send visitors without a session to the sign-in page, coming back here after (a user
    in no account has a session: the password page and signing out are theirs too)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if load_session_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def session_user() -> User:
    """The session's user (views behind `login_required` only)."""
    user = load_session_user()
    assert user is not None
    return user


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None.

    Only a single leading `/` followed by something that is not `/` or `\\` is accepted,
    after removing control characters (browsers ignore tabs and newlines in URLs), so
    `//evil`, `/\\evil`, `/%09/evil` and `https:evil` never lead off-site.
    """
    if not target:
        return None
    cleaned = "".join(c for c in target if ord(c) >= 32 and ord(c) != 127)
    if cleaned != target or not cleaned.startswith("/") or cleaned[1:2] in ("/", "\\"):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return cleaned
