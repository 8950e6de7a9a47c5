"""Throttling with flask-limiter: sign-in per client IP and per email, the API per token.

The limits are settings (`RATELIMIT_SIGN_IN_PER_IP`, `RATELIMIT_SIGN_IN_PER_EMAIL`,
`RATELIMIT_API_PER_TOKEN`), read on each request. Counters live in `RATELIMIT_STORAGE_URI`:
Redis shares them between workers and servers; `memory://` counts per process.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request

from app.auth.accounts import normalize_email
from app.extensions import limiter

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def _setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


@lru_cache(maxsize=4)
def _key_for(secret: str | bytes) -> bytes:
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret_bytes, b"pulse-leads rate-limit counter keys", hashlib.sha256).digest()


def _digest(value: str) -> str:
    """A counter key's stand-in for an email or a token: short whatever a client sends, and
    keyed (HMAC with a key derived from SECRET_KEY), as flask-limiter logs it on every 429: a
    plain sha256(email) is reversed with a dictionary of addresses. Never fails, so every
    attempt counts: a lone surrogate ("\\ud800") is valid JSON but not encodable UTF-8."""
    data = value.encode("utf-8", "surrogatepass")
    return hmac.new(_key_for(current_app.secret_key), data, hashlib.sha256).hexdigest()


def client_ip() -> str:
    """The client's address: the proxy's, unless PROXY_FIX_HOPS trusts X-Forwarded-For."""
    return request.remote_addr or "unknown"


def sign_in_email() -> str:
    """The email a sign-in attempt names (form or JSON body), as a counter key."""
    body = request.get_json(silent=True) if request.is_json else request.form
    email = body.get("email") if isinstance(body, Mapping) else None
    return "email:" + _digest(normalize_email(email)) if isinstance(email, str) else "email:-"


def api_caller() -> str:
    """The bearer token (hashed) a request sends; its client's address when it sends none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + _digest(token.strip())
    return "ip:" + client_ip()


def _seconds_left() -> int:
    current = limiter.current_limit
    return max(1, current.reset_at - int(time.time())) if current else 60


def _sign_in_refused() -> str:
    return f"Too many sign-in attempts. Wait {_seconds_left()} seconds, then try again."


def _api_refused() -> str:
    return f"Too many requests with this token. Wait {_seconds_left()} seconds, then try again."


# Shared scopes: the sign-in page and POST /api/auth/login draw on the same counters.
_sign_in_per_ip = limiter.shared_limit(
    _setting("RATELIMIT_SIGN_IN_PER_IP"),
    scope="sign-in-ip",
    key_func=client_ip,
    methods=["POST"],
    error_message=_sign_in_refused,
)
_sign_in_per_email = limiter.shared_limit(
    _setting("RATELIMIT_SIGN_IN_PER_EMAIL"),
    scope="sign-in-email",
    key_func=sign_in_email,
    methods=["POST"],
    error_message=_sign_in_refused,
)
# Applied to the whole /api blueprint: one counter per token across every route.
api_limit = limiter.shared_limit(
    _setting("RATELIMIT_API_PER_TOKEN"),
    scope="api",
    key_func=api_caller,
    error_message=_api_refused,
)


def throttle_sign_in(view: F) -> F:
    """Limit a sign-in view's POSTs per client IP and per email."""
    return _sign_in_per_ip(_sign_in_per_email(view))


def throttle_password_check(view: F) -> F:
    """Count a view's POSTs (which check a current password) against the sign-in limit per IP."""
    return _sign_in_per_ip(view)


def _headers(response: Response) -> Response:
    """Say which limit applies and what is left of it: the de facto X-RateLimit-* names, the
    IETF draft's RateLimit-* names (draft-ietf-httpapi-ratelimit-headers-06, reset in
    seconds), and Retry-After on a 429."""
    current = limiter.current_limit
    if current is None:
        return response
    try:
        reset_at, remaining = current.reset_at, max(0, current.remaining)
    except Exception:  # the counter store failed since the check: headers are only advice
        log.warning("rate limit headers left out: the counter store did not answer")
        return response
    seconds = max(0, reset_at - int(time.time()))
    headers = response.headers
    for prefix in ("X-RateLimit", "RateLimit"):
        headers[f"{prefix}-Limit"] = str(current.limit.amount)
        headers[f"{prefix}-Remaining"] = str(remaining)
    headers["X-RateLimit-Reset"] = str(reset_at)  # a Unix time, as flask-limiter writes it
    headers["RateLimit-Reset"] = str(seconds)
    if response.status_code == 429:
        headers["Retry-After"] = str(max(1, seconds))
    return response


def register(app: Flask) -> None:
    """Bind the limiter to the app, unless RATELIMIT_ENABLED is false."""
    limiter.init_app(app)
    if app.config["RATELIMIT_ENABLED"]:
        app.after_request(_headers)
