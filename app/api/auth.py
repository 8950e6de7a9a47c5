"""Signing in to the API: session tokens for people, alongside long-lived API tokens."""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.exceptions import Forbidden, Unauthorized

from app.api import bp
from app.api.body import json_object
from app.api.context import CHOOSE_A_PASSWORD, caller, public
from app.auth.accounts import authenticate, memberships
from app.auth.tokens import SessionToken, issue_session_token
from app.extensions import db
from app.leads.serialize import iso
from app.leads.validation import BAD_TEXT, ValidationError, is_text
from app.models import AccountView, User
from app.ratelimits import throttle_sign_in


@bp.post("/auth/login")
@public
@throttle_sign_in
def login() -> Response:
    """A session token for an email and password; 401 for wrong credentials."""
    body = json_object()
    errors = {
        key: ["This field is required."]
        for key in ("email", "password")
        if not isinstance(body.get(key), str) or not body[key]
    }
    errors |= {
        key: [BAD_TEXT]
        for key in ("email", "password")
        if key not in errors and not is_text(body[key])
    }
    errors |= {key: ["Not a login field."] for key in body if key not in ("email", "password")}
    if errors:
        raise ValidationError(errors)
    user = authenticate(body["email"], body["password"])
    if user is None:
        raise Unauthorized("Wrong email or password.")
    if user.must_change_password:
        raise Forbidden(CHOOSE_A_PASSWORD)
    return jsonify(_session_body(user, issue_session_token(user)))


@bp.get("/auth/session")
def session() -> Response:
    """Who the token sent acts for: its expiry (none for API tokens) and its accounts."""
    current = caller()
    if current.session is None:  # an API token: one account, no expiry
        account = _account_json(current.account)
        token = request.headers["Authorization"].partition(" ")[2].strip()
        return jsonify(token=token, expiresAt=None, primaryAccount=account, accounts=[account])
    user = db.session.get(User, current.user_id)
    if user is None:  # deleted since the token was read
        raise Unauthorized("The token is not valid (revoked, mistyped or expired).")
    return jsonify(_session_body(user, current.session))


def _account_json(account: AccountView) -> dict[str, str]:
    return {"accountId": account.public_id, "accountName": account.name}


def _session_body(user: User, token: SessionToken) -> dict[str, object]:
    accounts = [_account_json(m.account) for m in memberships(user)]
    return {
        "token": token.token,
        "expiresAt": iso(token.expires_at),
        "primaryAccount": accounts[0] if accounts else None,
        "accounts": accounts,
    }
