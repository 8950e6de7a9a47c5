"""The database tables: accounts, users and their memberships, invitations, API tokens, leads,
audit events.

Ids are never reused: they appear in URLs, audit entries, ETags and sessions, so a new row
with a deleted row's id would inherit what pointed at the old one (a new lead showing a
deleted lead's history). PostgreSQL's sequences never hand an id out twice; SQLite's plain
INTEGER PRIMARY KEY gives max(id) + 1, so every table says AUTOINCREMENT there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import TypeEngine

from app.extensions import db
from app.leads.fields import BY_NAME, COLUMNS, SORTABLE, Field, Kind
from app.sqltypes import Money, UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Exact lead counts, kept in the same transaction as every lead write, so the unfiltered
    # list never has to count a million rows.
    live_leads: Mapped[int] = mapped_column(default=0, server_default="0")
    archived_leads: Mapped[int] = mapped_column(default=0, server_default="0")
    # Bumped by every lead write in the account: cached counts are valid for one version.
    data_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class AccountRecord:
    """An account read as plain values (with the API token that acts in it): nothing to load
    later, nothing that a rollback expires."""

    id: int
    public_id: str
    name: str
    live_leads: int
    archived_leads: int
    data_version: int

    @classmethod
    def columns(cls) -> list[Any]:
        """The Account columns a record is read from, in the order of its fields."""
        return [getattr(Account, f.name) for f in fields(cls)]

    @classmethod
    def of(cls, account: Account) -> AccountRecord:
        return cls(*(getattr(account, f.name) for f in fields(cls)))


# An account as its lead list and lead writes need it: loaded (the UI's) or a plain record.
AccountView = Account | AccountRecord


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(255))
    # Set when someone else chose the password (a temporary one): the user must choose their
    # own at their next sign-in, before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Bumped to end every session of the user (sign-out everywhere, a password change).
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "account_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(10), default=Role.MEMBER)
    is_primary: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    account: Mapped[Account] = relationship(lazy="joined")


class Invitation(db.Model):
    """An invitation to join an account with a role: a single-use link that expires. Only a
    hash of the link's token is kept; the membership exists once the invitee accepts."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_account_email", "account_id", "email"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))  # stored lower-case
    role: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(lazy="joined")
    invited_by: Mapped[User] = relationship(lazy="joined")


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex, never the token
    hint: Mapped[str] = mapped_column(String(20))  # prefix and last characters, for recognition
    read_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined")


def _sql_type(field: Field) -> TypeEngine[Any]:
    match field.kind:
        case Kind.INTEGER:
            return Integer()
        case Kind.MONEY:
            return Money()
        case Kind.BOOLEAN:
            return Boolean()
        case Kind.DATETIME:
            return UTCDateTime()
    # Text in byte order on PostgreSQL, as on SQLite: sorts and case-insensitive matches
    # (lower() folds ASCII letters under "C") give identical results on both databases.
    if field.multiline:
        return Text().with_variant(Text(collation="C"), "postgresql")
    return String(field.max_length).with_variant(
        String(field.max_length, collation="C"), "postgresql"
    )


def sort_expression(table: Table, field: Field) -> ColumnElement[Any]:
    """What a field sorts and filters by: text ignores (ASCII) case."""
    column = table.c[field.name]
    return func.lower(column) if field.is_text else column


def sort_index_name(field: Field) -> str:
    return f"ix_leads_sort_{field.name}"


def _sort_indexes(table: Table) -> list[Index]:
    """One index per sortable field, (account, archived, value, id): it serves the sort in
    either direction, paging to any depth, equality filters and their exact counts.

    A trailing created_at serves the default order (newest first) of a filtered list from the
    filter's index alone: the matches of a date range are sorted without reading one lead."""
    indexes = []
    for field in SORTABLE.values():
        value = [sort_expression(table, field)] if field.name != "id" else []
        default_order = [table.c.created_at] if field.name != "created_at" else []
        # PostgreSQL serves a query on lower(x) from the index alone (an index-only scan, for
        # counts and deep pages) only if x itself is in the index too.
        include = [field.name] if field.is_text else []
        name = sort_index_name(field)
        indexes.append(
            Index(
                name,
                table.c.account_id,
                table.c.archived,
                *value,
                table.c.id,
                *default_order,
                postgresql_include=include,
            )
        )
    return indexes


def _column(field: Field) -> Column[Any]:
    default = field.default
    server_default = None if default is None else (false() if default is False else str(default))
    return Column(
        field.name,
        _sql_type(field),
        nullable=field.nullable,
        default=default,
        server_default=server_default,
    )


leads_table = Table(
    "leads",
    db.metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_by", _sql_type(BY_NAME["created_by"]), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    *(_column(f) for f in COLUMNS),
    **NEVER_REUSE_IDS,
)
_sort_indexes(leads_table)


class Lead(db.Model):
    """A lead; its columns come from the field catalogue (`app.leads.fields`)."""

    __table__ = leads_table
    # Every ORM update checks and bumps the version: a concurrent write can never be lost.
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": leads_table.c.version}


LeadRow = Row[Any]  # a lead's columns, read-only, by attribute (lead.first_name)
AuditRow = Row[Any]  # an audit event's columns, read-only, by attribute (event.user_email)


def etag(lead_id: int, version: int) -> str:
    """The lead's entity tag: its id and version (If-Match names the version it expects)."""
    return f'"{lead_id}-{version}"'


class AuditEvent(db.Model):
    """One entry of a lead's history. Kept when the lead is deleted, so no foreign key to it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_lead", "lead_id", "id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[int]
    event: Mapped[str] = mapped_column(String(32))
    user_email: Mapped[str] = mapped_column(String(254))
    api_key_name: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_method: Mapped[str | None] = mapped_column(String(10))
    request_path: Mapped[str | None] = mapped_column(String(2048))
    request_ip: Mapped[str | None] = mapped_column(String(64))


class IdempotencyKey(db.Model):
    """The first response to a `POST /api/leads` sent with an `Idempotency-Key`, replayed to
    retries. Stored in the same transaction as the lead, so one key can create one lead only."""

    __tablename__ = "idempotency_keys"
    # One key per account and credential: "token:<api token id>" or "user:<user id>".
    __table_args__ = (UniqueConstraint("account_id", "credential", "key"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    credential: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical body
    status: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(2048))
    etag: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
