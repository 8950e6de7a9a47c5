"""API tokens (long-lived, per account, stored only as a hash) and signed session tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import and_, bindparam, select

from app.database import begin_write
from app.extensions import db
from app.models import Account, ApiToken, Membership, User
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


# One round trip per API request: the live token with its user, account and membership.
_LIVE_TOKEN = (
    select(ApiToken, Membership)
    .outerjoin(
        Membership,
        and_(Membership.user_id == ApiToken.user_id, Membership.account_id == ApiToken.account_id),
    )
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)


def find_api_token(secret: str) -> tuple[ApiToken, Membership | None] | None:
    """The live token with this secret and its user's membership in the token's account (None
    once the user left it), noting when the token was last used (to the minute)."""
    row = db.session.execute(_LIVE_TOKEN, {"digest": _digest(secret)}).first()
    if row is None:
        return None
    token, membership = row
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        # A write of its own, begun as a writer: on SQLite a read transaction that turns
        # into a write fails at once ("database is locked") while another worker writes.
        begin_write()
        token.last_used_at = now
        db.session.commit()
    return token, membership


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
