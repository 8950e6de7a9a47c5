"""A write and its audit entry commit together or not at all.

A database trigger makes every audit insert fail for real; each write then answers 500 (our
fault, logged, no details for the client) and leaves the lead, the account's lead counts and
the audit log exactly as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, AuditEvent, IdempotencyKey, Lead
from tests.support import World, assert_problem
from tests.web_support import post_form, signed_in_client, text

SQLITE_TRIGGER = [
    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
]
POSTGRES_TRIGGER = [
    "CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$",
    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_refused()",
]
DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_refused"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_refused ON audit_events",
        "DROP FUNCTION IF EXISTS audit_refused()",
    ],
}


def _run(app: Flask, statements: list[str]) -> None:
    with app.app_context(), db.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


@pytest.fixture
def audit_fails(world: World) -> Iterator[None]:
    """Every INSERT INTO audit_events fails until the test ends."""
    dialect = world.app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0].split("+")[0]
    _run(world.app, SQLITE_TRIGGER if dialect == "sqlite" else POSTGRES_TRIGGER)
    yield
    _run(world.app, DROP[dialect])  # the PostgreSQL database outlives the test


def snapshot(world: World) -> dict[str, Any]:
    """Everything a lead write may change: leads, audit entries, the account's counters."""
    with world.app.app_context():
        leads = db.session.execute(select(Lead.__table__).order_by(Lead.id)).all()
        accounts = db.session.execute(
            select(Account.live_leads, Account.archived_leads, Account.data_version).order_by(
                Account.id
            )
        ).all()
        audit = db.session.scalar(select(func.count()).select_from(AuditEvent))
        keys = db.session.scalar(select(func.count()).select_from(IdempotencyKey))
        return {"leads": leads, "accounts": accounts, "audit": audit, "keys": keys}


def assert_internal_error(response) -> None:
    body = assert_problem(response, 500)
    raw = response.get_data(as_text=True)
    assert "audit refused" not in raw and "Traceback" not in raw and "INSERT" not in raw
    assert body["detail"] == "Something went wrong on our side; it has been logged."


@pytest.fixture
def lead(world: World) -> dict[str, Any]:
    return world.alice.create_lead(firstName="Ada", company="Acme")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/leads", {"firstName": "Grace", "lastName": "Hopper"}),
        ("PATCH", "/api/leads/{id}", {"company": "Globex", "numberOfEmployees": 7}),
        ("POST", "/api/leads/{id}/archive", None),
        ("DELETE", "/api/leads/{id}", None),
    ],
)
def test_a_write_whose_audit_entry_fails_changes_nothing(
    world, lead, audit_fails, caplog, method, path, body
):
    before = snapshot(world)
    url = path.format(id=lead["id"])
    response = world.alice.request(method, url, **({"json": body} if body else {}))
    assert_internal_error(response)
    assert snapshot(world) == before
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert logged and logged[-1].exc_info is not None  # the traceback is in the log


def test_the_lead_reads_back_unchanged_after_a_failed_patch(world, lead, audit_fails):
    response = world.alice.patch(f"/api/leads/{lead['id']}", json={"company": "Globex"})
    assert_internal_error(response)
    again = world.alice.get(f"/api/leads/{lead['id']}").get_json()
    assert {k: v for k, v in again.items() if k != "auditLog"} == lead
    assert [e["event"] for e in again["auditLog"]] == ["lead_created"]


def test_a_failed_keyed_create_keeps_no_key(world, audit_fails):
    before = snapshot(world)
    headers = {"Idempotency-Key": "retry-me"}
    response = world.alice.post(
        "/api/leads", json={"firstName": "A", "lastName": "B"}, headers=headers
    )
    assert_internal_error(response)
    assert snapshot(world) == before


def test_a_browser_write_whose_audit_entry_fails_shows_an_error_page(world, lead, audit_fails):
    browser = signed_in_client(world.app, "alice@acme.test")
    before = snapshot(world)
    page = f"/leads/{lead['id']}"
    response = post_form(browser, f"{page}/contact", page=page)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "audit refused" not in text(response) and "Traceback" not in text(response)
    assert snapshot(world) == before
