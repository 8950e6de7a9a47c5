"""API tokens (long-lived, per account, stored only as a hash) and signed session tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import and_, bindparam, select, update

from app.database import begin_write, plan_once
from app.extensions import db
from app.models import Account, AccountRecord, ApiToken, Membership, Role, User
from app.sqltypes import utcnow

API_TOKEN_PREFIX = "pl_"
SESSION_TOKEN_PREFIX = "pls_"
LAST_USED_PRECISION = timedelta(minutes=1)  # no write per request just to note the time


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    user: User, account: Account, name: str, *, read_only: bool = False
) -> tuple[ApiToken, str]:
    """A new API token; the secret is returned once and only its hash is kept."""
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    token = ApiToken(
        user_id=user.id,
        account_id=account.id,
        name=name,
        token_hash=_digest(secret),
        hint=f"{secret[:7]}…{secret[-4:]}",
        read_only=read_only,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


@dataclass(frozen=True)
class TokenGrant:
    """A live API token: who it acts for, in which account, with which role (None once its
    user left the account). Plain values, read in one round trip on every API request."""

    id: int
    name: str
    read_only: bool
    user_id: int
    email: str
    role: Role | None
    account: AccountRecord


# Columns, not ORM objects: building five entities (token, user, membership and the account
# twice) cost more than the query itself.
_LIVE_TOKEN = plan_once(
    select(
        ApiToken.id,
        ApiToken.name,
        ApiToken.read_only,
        ApiToken.last_used_at,
        ApiToken.user_id,
        User.email,
        Membership.role,
        *AccountRecord.columns(),
    )
    .join(User, User.id == ApiToken.user_id)
    .join(Account, Account.id == ApiToken.account_id)
    .outerjoin(
        Membership,
        and_(Membership.user_id == ApiToken.user_id, Membership.account_id == ApiToken.account_id),
    )
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)
_NOTE_USE = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


def find_api_token(secret: str) -> TokenGrant | None:
    """The live token with this secret, noting when it was last used (to the minute)."""
    row = db.session.connection().execute(_LIVE_TOKEN, {"digest": _digest(secret)}).first()
    if row is None:
        return None
    token_id, name, read_only, last_used_at, user_id, email, role, *account = row
    now = utcnow()
    if last_used_at is None or now - last_used_at >= LAST_USED_PRECISION:
        # A write of its own, begun as a writer: on SQLite a read transaction that turns
        # into a write fails at once ("database is locked") while another worker writes.
        begin_write()
        db.session.connection().execute(_NOTE_USE, {"token_id": token_id, "now": now})
        db.session.commit()
    return TokenGrant(
        id=token_id,
        name=name,
        read_only=read_only,
        user_id=user_id,
        email=email,
        role=None if role is None else Role(role),
        account=AccountRecord(*account),
    )


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: datetime


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="pulse-leads.api-session")


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.config["API_SESSION_HOURS"])


def issue_session_token(user: User) -> SessionToken:
    """A signed token naming the user and their session version (which sign-out bumps)."""
    token = SESSION_TOKEN_PREFIX + _serializer().dumps({"u": user.id, "v": user.session_version})
    return SessionToken(token, utcnow() + _lifetime())


def read_session_token(token: str) -> tuple[User, SessionToken] | None:
    """The user of a valid, unexpired session token whose session version is current."""
    if not token.startswith(SESSION_TOKEN_PREFIX):
        return None
    try:
        payload, signed_at = _serializer().loads(
            token.removeprefix(SESSION_TOKEN_PREFIX),
            max_age=int(_lifetime().total_seconds()),
            return_timestamp=True,
        )
        user = db.session.get(User, int(payload["u"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if user is None or user.session_version != payload.get("v"):
        return None
    expires_at = signed_at.astimezone(UTC) + _lifetime()
    return user, SessionToken(token, expires_at)
