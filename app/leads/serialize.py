"""Leads and audit entries as JSON-ready dicts, field by field from the catalogue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import Row

from app.leads.fields import FIELDS, Field, Kind
from app.models import AuditEvent, Lead


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: 2023-06-15T14:30:00.000Z."""
    # Not strftime: its %Y writes the year 1 as "1", not "0001". The first 23 characters are
    # the time to the millisecond, without the offset of an aware value (always UTC here).
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def json_value(field: Field, value: Any) -> Any:
    """A field's value as it appears in JSON."""
    convert = _CONVERTERS.get(field.kind)
    return value if value is None or convert is None else convert(value)


def lead_to_json(lead: Lead, account_public_id: str) -> dict[str, Any]:
    """The lead object of the API, without its audit log."""
    return _to_json(lead, _BY_ATTRIBUTE, account_public_id)


def rows_to_json(rows: Sequence[Row[Any]], account_public_id: str) -> list[dict[str, Any]]:
    """Lead rows (the list's, a lead's page) as API objects. A row is read by position: by
    attribute name, it costs a lookup per field, hundreds per page."""
    if not rows:
        return []
    plan = _by_position(rows[0]._fields)
    return [_to_json(row, plan, account_public_id) for row in rows]


def _to_json(lead: Any, plan: _Plan, account_public_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for json_name, read, convert in plan:
        if read is None:
            data[json_name] = account_public_id
        else:
            value = read(lead)
            data[json_name] = value if value is None or convert is None else convert(value)
    return data


@lru_cache(maxsize=8)
def _by_position(columns: tuple[str, ...]) -> _Plan:
    """The serializer's plan for rows with these columns."""
    return tuple(
        (json_name, None if name is None else itemgetter(columns.index(name)), convert)
        for json_name, name, convert in _FIELDS
    )


def audit_to_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "event": event.event,
        "user": event.user_email,
        "apiKey": event.api_key_name,
        "data": event.data,
        "created": iso(event.created),
        "requestMethod": event.request_method,
        "requestPath": event.request_path,
        "requestIpAddress": event.request_ip,
    }


def money_json(value: Decimal) -> int | float:
    """An amount as a JSON number. It has at most 15 significant digits (up to
    10,000,000,000,000.00), so the float prints exactly the stored amount."""
    return int(value) if value == value.to_integral_value() else float(value)


# How each kind reaches JSON (others are JSON-ready).
_CONVERTERS = {Kind.DATETIME: iso, Kind.MONEY: money_json}
# The serializer's plan: per field, its JSON name, how to read it (None for the account id)
# and how to convert it; computed once, as the list serializes hundreds of values a request.
_Plan = tuple[tuple[str, Callable[[Any], Any] | None, Callable[[Any], Any] | None], ...]
_FIELDS = tuple(
    (f.json, None if f.kind is Kind.ACCOUNT else f.name, _CONVERTERS.get(f.kind)) for f in FIELDS
)
_BY_ATTRIBUTE: _Plan = tuple(
    (json_name, None if name is None else attrgetter(name), convert)
    for json_name, name, convert in _FIELDS
)
