"""Lead input rules, the same for JSON bodies and HTML forms.

JSON values are type-checked first (the API refuses `"5"` for a number and `1` for a boolean);
form values arrive as text and are converted. Both then go through the same rule per field kind,
so a bad email gets the same words in the form and in the API.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from app.leads.fields import BY_JSON, WRITABLE, Field, Kind

REQUIRED = "This field is required."
UNKNOWN = "Not a lead field."
READ_ONLY = "Read-only: set by the server."
NOT_TEXT = "Must be a string."
WHOLE_NUMBER = "Must be a whole number."
NUMBER = "Must be a number."
BOOLEAN = "Must be true or false."
DATETIME = "Must be a date (2024-03-01) or a date-time with a time zone (2024-03-01T14:30:00Z)."
EMAIL = "Must be a valid email address."
PHONE = "Must be a phone number of 7 to 15 digits (digits, spaces, + - . ( ) allowed)."
URL = "Must be an absolute http:// or https:// URL."
CONTROL = "Must not contain control characters."
BAD_TEXT = "Contains characters that are not valid text."
MONEY_DECIMALS = "Must have at most 2 decimal places."

_SINGLE_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MULTILINE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PHONE = re.compile(r"\+?[0-9 ().\-]+")
# ASCII digits only: `\d` would also accept other scripts' digits, which int() converts.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?)?"
)


class Source(Enum):
    JSON = "json"  # typed values, checked strictly
    FORM = "form"  # text from an HTML form, converted


class FieldError(ValueError):
    """One field's value is invalid; the message is shown to people as is."""


class ValidationError(Exception):
    """Input was invalid: messages per field (JSON name, or query parameter)."""

    def __init__(self, errors: Mapping[str, list[str]], detail: str | None = None) -> None:
        self.errors = dict(errors)
        self.detail = detail or "The input is not valid: " + ", ".join(self.errors) + "."
        super().__init__(self.detail)


def number_text(value: int | Decimal) -> str:
    return f"{value:,}"


def parse_datetime(text: str, *, assume_utc: bool = False) -> tuple[datetime, bool]:
    """An aware UTC datetime from ISO 8601 text, and whether the text was a date alone.

    A date means midnight UTC. A date-time needs a zone unless `assume_utc` (HTML forms send
    local date-times without one, and the form labels them as UTC).
    """
    match = _ISO.fullmatch(text)
    if not match:
        raise FieldError(DATETIME)
    date_only = len(text) == 10
    if not date_only and match["zone"] is None and not assume_utc:
        raise FieldError(DATETIME)
    try:
        value = datetime.fromisoformat(text.upper().replace(" ", "T"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC), date_only
    except (ValueError, OverflowError):
        raise FieldError(DATETIME) from None


def parse_decimal(text: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise FieldError(NUMBER)
    return Decimal(text)


def parse_integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise FieldError(WHOLE_NUMBER)
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        raise FieldError(WHOLE_NUMBER) from None


def parse_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise FieldError(BOOLEAN)
    return lowered == "true"


def _from_json(field: Field, value: Any) -> Any:
    """Refuse values of the wrong JSON type; return the value for the common rules."""
    if value is None:
        return None
    ok = {
        Kind.INTEGER: isinstance(value, int) and not isinstance(value, bool),
        Kind.MONEY: isinstance(value, int | Decimal | float) and not isinstance(value, bool),
        Kind.BOOLEAN: isinstance(value, bool),
    }.get(field.kind, isinstance(value, str))
    if not ok:
        raise FieldError(_type_message(field))
    if field.kind is Kind.MONEY:
        return Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if field.kind is Kind.DATETIME:
        return parse_datetime(value.strip())[0] if value.strip() else None
    return value


def _from_form(field: Field, text: str) -> Any:
    """Convert form text to the field's type ("" is empty)."""
    text = text.strip()
    if not text and not field.is_text:
        return None
    match field.kind:
        case Kind.INTEGER:
            return parse_integer(text)
        case Kind.MONEY:
            return parse_decimal(text)
        case Kind.BOOLEAN:
            return parse_boolean(text)
        case Kind.DATETIME:
            return parse_datetime(text, assume_utc=True)[0]
    return text


def _type_message(field: Field) -> str:
    return {
        Kind.INTEGER: WHOLE_NUMBER,
        Kind.MONEY: NUMBER,
        Kind.BOOLEAN: BOOLEAN,
        Kind.DATETIME: DATETIME,
    }.get(field.kind, NOT_TEXT)


def is_text(value: str) -> bool:
    """Whether a string is text that can be stored and hashed: JSON may carry lone surrogates
    ("\\ud800"), which no UTF-8 encoder accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(field: Field, value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not is_text(value):
        raise FieldError(BAD_TEXT)
    control = _MULTILINE_CONTROL if field.multiline else _SINGLE_LINE_CONTROL
    if control.search(value):
        raise FieldError(CONTROL)
    if field.max_length and len(value) > field.max_length:
        raise FieldError(f"Must be at most {number_text(field.max_length)} characters.")
    match field.kind:
        case Kind.EMAIL:
            check_email(value)
        case Kind.PHONE:
            digits = sum(c.isdigit() for c in value)
            if not _PHONE.fullmatch(value) or not 7 <= digits <= 15:
                raise FieldError(PHONE)
        case Kind.URL:
            _check_url(value)
    return value


def check_email(value: str) -> None:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise FieldError(EMAIL) from None


def _check_url(value: str) -> None:
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536  # .port raises when malformed
    except ValueError:
        raise FieldError(URL) from None
    if parts.scheme.lower() not in ("http", "https") or " " in value or not port_ok:
        raise FieldError(URL)
    if not _is_host(parts.hostname or ""):
        raise FieldError(URL)


def _is_host(host: str) -> bool:
    """A DNS name (international names allowed) or an IP address."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in ascii_host.rstrip(".").split("."))


def _check_range(field: Field, value: int | Decimal) -> None:
    low, high = field.min_value, field.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        raise FieldError(f"Must be between {number_text(low or 0)} and {number_text(high or 0)}.")


def _check_money(field: Field, value: Decimal) -> Decimal:
    if not value.is_finite():
        raise FieldError(NUMBER)
    _check_range(field, value)
    if value != value.quantize(Decimal("0.01"), rounding="ROUND_DOWN"):
        raise FieldError(MONEY_DECIMALS)
    return value.quantize(Decimal("0.01"))


def clean(field: Field, raw: Any, source: Source) -> Any:
    """The field's value from input, or FieldError with a message people can act on."""
    try:
        value = _from_json(field, raw) if source is Source.JSON else _from_form(field, raw)
    except InvalidOperation:
        raise FieldError(NUMBER) from None
    if isinstance(value, str):
        value = _check_text(field, value)
    elif field.kind is Kind.INTEGER and value is not None:
        _check_range(field, value)
    elif field.kind is Kind.MONEY and value is not None:
        value = _check_money(field, value)
    if value is None and not field.nullable:
        raise FieldError(REQUIRED if field.required else BOOLEAN)
    return value


def validate(raw: Mapping[str, Any], source: Source, *, partial: bool) -> dict[str, Any]:
    """Clean a lead's input keyed by JSON name into values keyed by attribute name.

    With `partial` (an update) only the fields given are checked; otherwise every required
    field must be present. Raises ValidationError listing every problem at once.
    """
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for key, raw_value in raw.items():
        field = BY_JSON.get(key)
        if field is None:
            errors[key] = [UNKNOWN]
        elif field.readonly:
            errors[key] = [READ_ONLY]
        else:
            try:
                values[field.name] = clean(field, raw_value, source)
            except FieldError as error:
                errors[key] = [str(error)]
    if not partial:
        for field in WRITABLE:
            if field.json not in raw and field.required:
                errors[field.json] = [REQUIRED]
    if errors:
        raise ValidationError(errors)
    return values
