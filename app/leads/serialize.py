"""Leads and audit entries as JSON-ready dicts, field by field from the catalogue."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from app.leads.fields import FIELDS, Field, Kind
from app.models import AuditEvent, Lead


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: 2023-06-15T14:30:00.000Z."""
    # Not strftime: its %Y writes the year 1 as "1", not "0001".
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


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
