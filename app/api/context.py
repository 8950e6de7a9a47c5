"""Who is calling the API and in which account: bearer tokens only, never the session cookie."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest, Forbidden, Unauthorized

from app.auth.accounts import AccountRefused, membership_for
from app.auth.tokens import (
    API_TOKEN_PREFIX,
    SessionToken,
    TokenGrant,
    find_api_token,
    read_session_token,
)
from app.leads.validation import ValidationError
from app.models import AccountRecord, Role
from app.permissions import Actor

ACCOUNT_HEADER = "X-Account-Id"
_ACCOUNT_ID = re.compile(r"\d{1,20}")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Caller:
    """Who calls, as plain values: safe to read at any time, even after a rollback."""

    user_id: int
    email: str
    role: Role
    account: AccountRecord
    api_token: TokenGrant | None = None
    session: SessionToken | None = None

    def identity(self) -> dict[str, Any]:
        """The user id and account id that the request's log lines carry."""
        return {"user": self.user_id, "account": self.account.public_id}


def public(view: F) -> F:
    """Mark an API view as open without a token."""
    view.public = True  # type: ignore[attr-defined]
    return view


def reads_query(view: F) -> F:
    """Mark an API view that reads query parameters (and refuses the ones it does not know);
    every other view takes none."""
    view.reads_query = True  # type: ignore[attr-defined]
    return view


NO_PARAMETERS = "Unknown parameter: this operation takes none."


def refuse_query_parameters() -> None:
    """before_request, after authentication: a parameter the API does not understand is a 400
    naming it, never silently ignored (a mistyped option would do something else)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "reads_query", False) or not request.args:
        return
    names = list(dict.fromkeys(request.args))
    raise ValidationError(
        {name: [NO_PARAMETERS] for name in names},
        f"Unknown query parameters: {', '.join(names)} (this operation takes none).",
    )


def caller() -> Caller:
    return g.caller


def current_account() -> AccountRecord:
    return g.caller.account


def actor() -> Actor:
    """The caller as the domain sees it, with the request details the audit log keeps."""
    c: Caller = g.caller
    return Actor(
        email=c.email,
        role=c.role,
        api_key=c.api_token.name if c.api_token else None,
        read_only=bool(c.api_token and c.api_token.read_only),
        method=request.method,
        path=request.path,
        ip=request.remote_addr,
    )


def authenticate() -> None:
    """before_request: resolve the bearer token and the account, or refuse with 401/403."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "public", False):
        return
    token = _bearer_token()
    if token.startswith(API_TOKEN_PREFIX):
        g.caller = _api_token_caller(token)
    else:
        g.caller = _session_caller(token)


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API or session token: Authorization: Bearer <token>.")
    return token.strip()


def _requested_account() -> str | None:
    value = request.headers.get(ACCOUNT_HEADER)
    if value is None:
        return None
    if not _ACCOUNT_ID.fullmatch(value.strip()):
        raise BadRequest(f"{ACCOUNT_HEADER} must be an account id (digits).")
    return value.strip()


def _api_token_caller(secret: str) -> Caller:
    found = find_api_token(secret)
    if found is None:
        raise Unauthorized("The token is not valid (revoked, mistyped or expired).")
    requested = _requested_account()  # only once the token is known good: 401 comes first
    if requested is not None and requested != found.account.public_id:
        raise Forbidden("An API token acts only in its own account.")
    if found.role is None:
        raise Unauthorized("The token's user is no longer a member of its account.")
    return Caller(found.user_id, found.email, found.role, found.account, api_token=found)


CHOOSE_A_PASSWORD = (
    "Your password was chosen by someone else: sign in at /login and choose your own first."
)


def _session_caller(token: str) -> Caller:
    found = read_session_token(token)
    if found is None:
        raise Unauthorized("The token is not valid (revoked, mistyped or expired).")
    user, session = found
    if user.must_change_password:  # a session token signed in with a temporary password
        raise Forbidden(CHOOSE_A_PASSWORD)
    requested = _requested_account()
    try:
        membership = membership_for(user, requested)
    except AccountRefused:
        which = f"account {requested}" if requested else "any account"
        raise Forbidden(f"You are not a member of {which}.") from None
    account = AccountRecord.of(membership.account)
    return Caller(user.id, user.email, Role(membership.role), account, session=session)
