"""Leads and audit entries as JSON-ready dicts, field by field from the catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
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
    data: dict[str, Any] = {}
    for json_name, attribute, convert in _PLAN:
        if attribute is None:
            data[json_name] = account_public_id
        else:
            value = getattr(lead, attribute)
            data[json_name] = value if value is None or convert is None else convert(value)
    return data


def rows_to_json(rows: Sequence[Row[Any]], account_public_id: str) -> list[dict[str, Any]]:
    """Lead rows of the list as API objects, like lead_to_json but reading each row by
    position (by attribute name, a row costs a lookup per field: hundreds per page)."""
    if not rows:
        return []
    plan = _row_plan(rows[0]._fields)
    result = []
    for row in rows:
        data: dict[str, Any] = {}
        for json_name, index, convert in plan:
            if index is None:
                data[json_name] = account_public_id
            else:
                value = row[index]
                data[json_name] = value if value is None or convert is None else convert(value)
        result.append(data)
    return result


@lru_cache(maxsize=8)
def _row_plan(columns: tuple[str, ...]) -> tuple[tuple[str, int | None, Any], ...]:
    """The serializer's plan with each attribute replaced by its position in a row."""
    return tuple(
        (json_name, None if attribute is None else columns.index(attribute), convert)
        for json_name, attribute, convert in _PLAN
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


# How each kind reaches JSON (others are JSON-ready), and the serializer's plan: one entry
# per field, computed once (the list serializes hundreds of values per request).
_CONVERTERS = {Kind.DATETIME: iso, Kind.MONEY: money_json}
_PLAN: tuple[tuple[str, str | None, Any], ...] = tuple(
    (f.json, None if f.kind is Kind.ACCOUNT else f.name, _CONVERTERS.get(f.kind)) for f in FIELDS
)
