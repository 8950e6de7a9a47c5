"""How values read in the browser: dates, money, yes/no, people, "2 hours ago"."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from app.leads.fields import Field, Kind
from app.leads.validation import parse_datetime
from app.sqltypes import utcnow


def display(field: Field, value: Any) -> str:
    """A field's value for reading ("" when empty)."""
    if value is None or value == "":
        return ""
    match field.kind:
        case Kind.DATETIME:
            when = value if isinstance(value, datetime) else parse_datetime(str(value))[0]
            return when.strftime("%-d %b %Y, %H:%M UTC")
        case Kind.MONEY:
            return f"{Decimal(str(value)):,.2f}"
        case Kind.INTEGER:
            return f"{value:,}"
        case Kind.BOOLEAN:
            return "Yes" if value else "No"
    return str(value)


def short_date(value: datetime | None) -> str:
    return value.strftime("%-d %b %Y") if value else ""


def relative(value: datetime, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', '2 hours ago', '3 days ago', or the date."""
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("minute", 60), ("hour", 3600), ("day", 86400)):
        if seconds < size * (60 if unit == "minute" else 24 if unit == "hour" else 30):
            amount = seconds // size
            return f"{amount} {unit}{'s' if amount != 1 else ''} ago"
    return short_date(value)


def person(email: str) -> str:
    """A readable name from an email address: 'ana.lopez@x' → 'Ana Lopez'."""
    local = email.split("@", 1)[0]
    words = [w for w in local.replace("_", ".").replace("-", ".").split(".") if w]
    return " ".join(w.capitalize() for w in words) or email
