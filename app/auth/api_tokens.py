"""An account's API tokens as its admins manage them: list, create (shown once), revoke.

Revocation is a column the API reads on every request (`tokens.find_api_token`), so it takes
effect on the next request in every worker, with no cache to wait for.
"""

from __future__ import annotations

from sqlalchemy import select

from app.auth.tokens import create_api_token
from app.database import begin_write
from app.extensions import db
from app.models import Account, ApiToken, User
from app.permissions import Actor, Permission
from app.sqltypes import utcnow


class TokenNotFound(LookupError):
    """No live token with this id in this account."""


def live_tokens(actor: Actor, account: Account) -> list[ApiToken]:
    """The account's tokens that are not revoked, newest first."""
    actor.require(Permission.MANAGE)
    query = (
        select(ApiToken)
        .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc())
    )
    return list(db.session.scalars(query))


def create(
    actor: Actor, account: Account, owner: User, name: str, *, read_only: bool
) -> tuple[ApiToken, str]:
    """A new token acting as `owner` (with the owner's role, or read-only); the secret is
    returned this once and never stored."""
    actor.require(Permission.MANAGE)
    begin_write()
    token, secret = create_api_token(owner, account, name.strip(), read_only=read_only)
    db.session.commit()
    return token, secret


def revoke(actor: Actor, account: Account, token_id: int) -> ApiToken:
    """Revoke the token: the API refuses it from the next request on."""
    actor.require(Permission.MANAGE)
    begin_write()
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.id == token_id,
            ApiToken.account_id == account.id,
            ApiToken.revoked_at.is_(None),
        )
    )
    if token is None:
        raise TokenNotFound(token_id)
    token.revoked_at = utcnow()
    db.session.commit()
    return token
