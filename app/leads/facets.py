"""The common values of a field in an account, for the list's filter menus.

Grouping a million rows takes a moment, so each worker keeps the answer for a few minutes;
a value that appears meanwhile shows up at the next refresh (and can always be typed).
"""

from __future__ import annotations

import time
from threading import Lock

from sqlalchemy import func, select

from app.extensions import db
from app.leads.fields import Field
from app.models import AccountView, Lead

TTL_SECONDS = 300
LIMIT = 40
_cache: dict[tuple[int, str], tuple[float, list[str]]] = {}
_lock = Lock()


def common_values(account: AccountView, field: Field) -> list[str]:
    """Up to 40 of the field's most frequent values in the account, sorted by name."""
    key = (account.id, field.name)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached and cached[0] > now:
        return cached[1]
    column = getattr(Lead, field.name)
    statement = (
        select(func.min(column))
        .where(Lead.account_id == account.id, column.isnot(None))
        .group_by(func.lower(column))
        .order_by(func.count().desc())
        .limit(LIMIT)
    )
    values = sorted(db.session.scalars(statement), key=str.lower)
    with _lock:
        _cache[key] = (now + TTL_SECONDS, values)
    return values


def forget(account: AccountView) -> None:
    """Drop the account's cached values (after the user adds a value, say)."""
    with _lock:
        for key in [k for k in _cache if k[0] == account.id]:
            del _cache[key]


def forget_all() -> None:
    with _lock:
        _cache.clear()
