"""Lead writes: create, update, archive, unarchive, delete.

Each write checks the actor's permission, locks the lead, applies the change, records its audit
entry and adjusts the account's lead counts, all in one transaction that commits once. A write
that changes nothing records nothing. The only module that commits lead changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import bindparam, select
from sqlalchemy.orm.exc import StaleDataError

from app.database import begin_write, plan_once
from app.extensions import db
from app.leads.fields import BY_NAME, COLUMNS
from app.leads.serialize import json_value
from app.models import (
    Account,
    AccountView,
    AuditEvent,
    AuditRow,
    Lead,
    LeadRow,
    leads_table,
)
from app.permissions import Actor, Permission
from app.sqltypes import utcnow

T = TypeVar("T")


class LeadNotFound(Exception):
    """No such lead in this account (a lead of another account is not found either)."""


class StaleLead(Exception):
    """The lead changed since the version the client last saw."""


class Event:
    CREATED = "lead_created"
    UPDATED = "lead_updated"
    ARCHIVED = "lead_archived"
    UNARCHIVED = "lead_unarchived"
    DELETED = "lead_deleted"


def get(account: AccountView, lead_id: int) -> Lead:
    """The lead with this id in this account, or LeadNotFound."""
    lead = db.session.scalar(_in_account(account, lead_id))
    if lead is None:
        raise LeadNotFound(lead_id)
    return lead


def read(account: AccountView, lead_id: int) -> LeadRow:
    """The lead as a read-only row (nothing for the ORM to track), or LeadNotFound."""
    row = (
        db.session.connection()
        .execute(_ONE_LEAD, {"account_id": account.id, "lead_id": lead_id})
        .first()
    )
    if row is None:
        raise LeadNotFound(lead_id)
    return row


def history(account: AccountView, lead_id: int) -> list[AuditRow]:
    """The lead's audit entries as read-only rows, oldest first."""
    params = {"account_id": account.id, "lead_id": lead_id}
    return list(db.session.connection().execute(_HISTORY, params))


_ONE_LEAD = plan_once(
    select(leads_table).where(
        leads_table.c.account_id == bindparam("account_id"),
        leads_table.c.id == bindparam("lead_id"),
    )
)
_audit_events = AuditEvent.__table__
_HISTORY = plan_once(
    select(_audit_events)
    .where(
        _audit_events.c.account_id == bindparam("account_id"),
        _audit_events.c.lead_id == bindparam("lead_id"),
    )
    .order_by(_audit_events.c.id)
)


def create(
    account: AccountView,
    values: dict[str, Any],
    actor: Actor,
    then: Callable[[Lead], None] | None = None,
) -> Lead:
    """A new lead in the account from validated values (attribute names).

    `then` runs with the new lead inside the same transaction, after its audit entry: what it
    writes (an idempotency key) commits together with the lead, or not at all.
    """
    actor.require(Permission.WRITE)

    def write() -> Lead:
        now = utcnow()
        lead = Lead(account_id=account.id, created_by=actor.email, created_at=now, updated_at=now)
        for field in COLUMNS:
            setattr(lead, field.name, values.get(field.name, field.default))
        db.session.add(lead)
        db.session.flush()
        changes = {
            f.json: [None, json_value(f, getattr(lead, f.name))]
            for f in COLUMNS
            if getattr(lead, f.name) is not None
        }
        _leads_changed(account, **_counted(lead.archived, 1))
        _audit(account, lead.id, Event.CREATED, changes, actor)
        if then is not None:
            then(lead)
        return lead

    return _transaction(write)


def update(
    account: AccountView,
    lead_id: int,
    values: dict[str, Any],
    actor: Actor,
    expected_versions: frozenset[int] | None = None,
) -> Lead:
    """Apply validated changes; an `archived` change is recorded as archive or unarchive."""
    actor.require(Permission.WRITE)

    def write() -> Lead:
        lead = _lock(account, lead_id, expected_versions)
        archived = values.get("archived", lead.archived)
        others = {k: v for k, v in values.items() if k != "archived"}
        changes = _apply(lead, others)
        if changes:
            _audit(account, lead.id, Event.UPDATED, changes, actor)
            _leads_changed(account)
        if archived != lead.archived:
            _set_archived(account, lead, archived, actor)
        elif changes:
            _touch(lead)
        return lead

    return _transaction(write)


def set_archived(
    account: AccountView,
    lead_id: int,
    archived: bool,
    actor: Actor,
    expected_versions: frozenset[int] | None = None,
) -> Lead:
    """Archive or unarchive the lead; doing it twice changes nothing."""
    actor.require(Permission.WRITE)

    def write() -> Lead:
        lead = _lock(account, lead_id, expected_versions)
        if lead.archived != archived:
            _set_archived(account, lead, archived, actor)
        return lead

    return _transaction(write)


def delete(
    account: AccountView,
    lead_id: int,
    actor: Actor,
    expected_versions: frozenset[int] | None = None,
) -> None:
    """Delete the lead for good; its audit history stays, ending with `lead_deleted`."""
    actor.require(Permission.DELETE)

    def write() -> None:
        lead = _lock(account, lead_id, expected_versions)
        changes = {
            f.json: [json_value(f, getattr(lead, f.name)), None]
            for f in COLUMNS
            if getattr(lead, f.name) is not None
        }
        _leads_changed(account, **_counted(lead.archived, -1))
        _audit(account, lead.id, Event.DELETED, changes, actor)
        db.session.delete(lead)

    _transaction(write)


def _in_account(account: AccountView, lead_id: int):
    return select(Lead).where(Lead.account_id == account.id, Lead.id == lead_id)


def _lock(account: AccountView, lead_id: int, expected_versions: frozenset[int] | None) -> Lead:
    """Load the lead for writing (row-locked on PostgreSQL) and check the client's version."""
    lead = db.session.scalar(_in_account(account, lead_id).with_for_update())
    if lead is None:
        raise LeadNotFound(lead_id)
    if expected_versions is not None and lead.version not in expected_versions:
        raise StaleLead(lead_id)
    return lead


def _apply(lead: Lead, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the values that differ and return them as audit changes {json: [old, new]}."""
    changes: dict[str, list[Any]] = {}
    for name, new in values.items():
        old = getattr(lead, name)
        if old != new:
            field = BY_NAME[name]
            changes[field.json] = [json_value(field, old), json_value(field, new)]
            setattr(lead, name, new)
    return changes


def _touch(lead: Lead) -> None:
    """Mark the lead as changed: `updatedAt` moves forward even within the same millisecond."""
    lead.updated_at = max(utcnow(), lead.updated_at + timedelta(milliseconds=1))


def _set_archived(account: AccountView, lead: Lead, archived: bool, actor: Actor) -> None:
    lead.archived = archived
    _touch(lead)
    _leads_changed(account, **_counted(not archived, -1), **_counted(archived, 1))
    event = Event.ARCHIVED if archived else Event.UNARCHIVED
    _audit(account, lead.id, event, {"archived": [not archived, archived]}, actor)


def _counted(archived: bool, delta: int) -> dict[str, int]:
    return {"archived": delta} if archived else {"live": delta}


def _leads_changed(account: AccountView, *, live: int = 0, archived: int = 0) -> None:
    """Adjust the account's exact lead counts and bump its data version (counts cached for
    older versions are stale), in SQL so that concurrent writers add up. On the connection,
    not the session: an autoflush would write the lead twice (two versions for one change)."""
    db.session.connection().execute(
        sa.update(Account)
        .where(Account.id == account.id)
        .values(
            live_leads=Account.live_leads + live,
            archived_leads=Account.archived_leads + archived,
            data_version=Account.data_version + 1,
        )
    )
    if isinstance(account, Account):  # a loaded account (the UI's) must not show old counts
        db.session.expire(account, ["live_leads", "archived_leads", "data_version"])


def _audit(
    account: AccountView, lead_id: int, event: str, changes: dict[str, list[Any]], actor: Actor
) -> None:
    db.session.add(
        AuditEvent(
            account_id=account.id,
            lead_id=lead_id,
            event=event,
            user_email=actor.email,
            api_key_name=actor.api_key,
            data={"changes": changes},
            request_method=actor.method,
            request_path=actor.path,
            request_ip=actor.ip,
        )
    )


def _transaction(write: Callable[[], T]) -> T:
    """Run one write in its own transaction: all of it commits, or none of it."""
    with _write_transaction():
        return write()


@contextmanager
def _write_transaction() -> Iterator[None]:
    begin_write()
    try:
        yield
        db.session.commit()
    except StaleDataError as error:
        db.session.rollback()
        raise StaleLead() from error
    except BaseException:
        db.session.rollback()
        raise
