"""`Idempotency-Key` on POST /api/leads: a retry replays the first response, never a 2nd lead.

The key row is written in the lead's own transaction, under a unique constraint on (account,
credential, key): of many simultaneous requests with one key, one commits and the others hit
the constraint, roll back everything they wrote, then read the winner's row and replay it.
Keys live 24 hours; older rows are ignored, and purged by later keyed requests.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Response, request
from sqlalchemy import Row, delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from app.api.context import Caller
from app.extensions import db
from app.models import IdempotencyKey, Lead
from app.sqltypes import utcnow

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
# Printable ASCII, 1-255 characters; HTTP drops spaces around a header value, so a key
# neither starts nor ends with one.
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
REPLAYED_HEADER = "Idempotent-Replayed"
_PURGE_BATCH = 500  # expired rows removed per keyed request, so a purge never takes long
_ATTEMPTS = 3


@dataclass(frozen=True)
class Scope:
    """Whose key it is: one account and one credential (API token, or user for sessions)."""

    account_id: int
    credential: str
    key: str


def request_scope(caller: Caller) -> Scope | None:
    """The key of this request with its scope; None without the header; 400 if malformed."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise BadRequest(f"{HEADER} must be 1 to 255 printable ASCII characters.")
    if caller.api_token is not None:
        credential = f"token:{caller.api_token.id}"
    else:
        credential = f"user:{caller.user_id}"
    return Scope(caller.account.id, credential, key)


def fingerprint(body: dict[str, Any]) -> str:
    """The body's SHA-256, independent of key order and spacing; numbers keep their type."""

    def exact(value: object) -> object:
        if isinstance(value, Decimal):
            return {"$decimal": str(value)}
        raise TypeError(type(value).__name__)

    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=exact
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_once(
    scope: Scope,
    request_hash: str,
    create: Callable[[Callable[[Lead], None]], Lead],
    respond: Callable[[Lead], Response],
) -> Response:
    """The response of `create`, run at most once per key: a retry gets the first response.

    `create(then)` must call `then(lead)` inside its write transaction.
    """
    for _ in range(_ATTEMPTS):
        stored = _stored(scope)
        if stored is not None:
            return _replay(stored, request_hash)
        try:
            return _create_and_save(scope, request_hash, create, respond)
        except IntegrityError:
            # Another request with this key committed first: read its row and replay it.
            # (A constraint unrelated to the key finds no row, and is raised as it is.)
            if _stored(scope) is None:
                raise
    raise RuntimeError("an idempotency key kept conflicting")  # pragma: no cover


def _create_and_save(
    scope: Scope,
    request_hash: str,
    create: Callable[[Callable[[Lead], None]], Lead],
    respond: Callable[[Lead], Response],
) -> Response:
    """Create the lead and, in its transaction, keep the response under the key."""
    first: list[Response] = []

    def remember(lead: Lead) -> None:
        first.append(respond(lead))
        _save(scope, request_hash, first[0])

    create(remember)
    return first[0]


def _stored(scope: Scope) -> Row[Any] | None:
    """The live response kept under this key (a plain row: nothing for a rollback to expire)."""
    return db.session.execute(
        select(
            IdempotencyKey.request_hash,
            IdempotencyKey.status,
            IdempotencyKey.body,
            IdempotencyKey.location,
            IdempotencyKey.etag,
        ).where(
            IdempotencyKey.account_id == scope.account_id,
            IdempotencyKey.credential == scope.credential,
            IdempotencyKey.key == scope.key,
            IdempotencyKey.created_at >= utcnow() - LIFETIME,
        )
    ).first()


def _replay(stored: Row[Any], request_hash: str) -> Response:
    if stored.request_hash != request_hash:
        raise UnprocessableEntity(
            f"This {HEADER} was already used with a different body; "
            "use a new key for a new request."
        )
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    if stored.location:
        response.headers["Location"] = stored.location
    if stored.etag:
        response.headers["ETag"] = stored.etag
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _save(scope: Scope, request_hash: str, response: Response) -> None:
    """Keep the response under the key (purging expired keys first, this one included)."""
    cutoff = utcnow() - LIFETIME
    expired = IdempotencyKey.created_at < cutoff
    db.session.execute(
        delete(IdempotencyKey).where(
            expired,
            IdempotencyKey.account_id == scope.account_id,
            IdempotencyKey.credential == scope.credential,
            IdempotencyKey.key == scope.key,
        )
    )
    # Rows another purge holds are left to it: concurrent purges never wait for each other.
    oldest = (
        select(IdempotencyKey.id)
        .where(expired)
        .limit(_PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(oldest)))
    db.session.add(
        IdempotencyKey(
            account_id=scope.account_id,
            credential=scope.credential,
            key=scope.key,
            request_hash=request_hash,
            status=response.status_code,
            body=response.get_data(as_text=True),
            location=response.headers.get("Location"),
            etag=response.headers.get("ETag"),
        )
    )
