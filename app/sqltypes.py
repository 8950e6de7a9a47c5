"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time in UTC, at the millisecond precision that the API shows."""
    return to_millis(datetime.now(UTC))


def to_millis(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored naive in UTC with millisecond precision.

    SQLite has no time zones, so both databases store naive UTC and every value read back is
    aware again: comparisons and ISO output never depend on the server's local zone.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return to_millis(value.astimezone(UTC)).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Money(TypeDecorator[Decimal]):
    """An amount with two decimals, stored as integer cents so it stays exact on SQLite too."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * 100).to_integral_value())

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:
        return None if value is None else Decimal(value).scaleb(-2)
