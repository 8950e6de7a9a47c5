"""The audit log: one entry per real write, with who, how, from where and what changed."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.support import PASSWORD, Api

ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
TOKEN_NAME = "alice@acme.test token"  # the name tests.support gives alice's API token


def audit_log(api: Api, lead_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/leads/{lead_id}")
    assert response.status_code == 200
    return response.get_json()["auditLog"]


def stored_events(world, lead_id: int | None = None) -> list[dict[str, Any]]:
    """Every stored audit row (of one lead), all columns, read in an app context."""
    with world.app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if lead_id is not None:
            query = query.where(AuditEvent.lead_id == lead_id)
        return [
            {c.name: getattr(row, c.key) for c in AuditEvent.__table__.columns}
            for row in db.session.scalars(query)
        ]


def test_create_is_recorded_with_every_value_set_as_json(world):
    lead = world.alice.create_lead(
        firstName="Ada",
        lastName="Lovelace",
        company=" Acme ",
        numberOfEmployees=5,
        monthlyTransactionVolume=125000.5,
        interestedInSwitching=True,
        lastContacted="2024-03-01T14:30:00+02:00",
    )
    (entry,) = audit_log(world.alice, lead["id"])
    assert set(entry) == {
        "id",
        "event",
        "user",
        "apiKey",
        "data",
        "created",
        "requestMethod",
        "requestPath",
        "requestIpAddress",
    }
    assert entry["event"] == "lead_created"
    assert entry["user"] == "alice@acme.test"
    assert entry["apiKey"] == TOKEN_NAME
    assert entry["data"] == {
        "changes": {
            "firstName": [None, "Ada"],
            "lastName": [None, "Lovelace"],
            "company": [None, "Acme"],
            "numberOfEmployees": [None, 5],
            "monthlyTransactionVolume": [None, 125000.5],
            "interestedInSwitching": [None, True],
            "lastContacted": [None, "2024-03-01T12:30:00.000Z"],
            "archived": [None, False],
        }
    }
    assert ISO_Z.fullmatch(entry["created"])
    assert entry["created"] >= lead["createdAt"]
    assert entry["requestMethod"] == "POST"
    assert entry["requestPath"] == "/api/leads"
    assert entry["requestIpAddress"] == "127.0.0.1"


def test_update_records_old_and_new_values_of_changed_fields_only(world):
    lead = world.alice.create_lead(
        company="Acme",
        notes="same",
        monthlyTransactionVolume=125000.5,
        lastContacted="2024-03-01",
    )
    bob = world.session("bob@acme.test")
    response = bob.patch(
        f"/api/leads/{lead['id']}",
        json={
            "company": "Globex",
            "notes": "same",
            "monthlyTransactionVolume": 10,
            "lastContacted": "2024-03-02T10:00:00Z",
            "numberOfEmployees": None,
            "email": "ada@example.com",
        },
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert response.status_code == 200
    entry = audit_log(world.alice, lead["id"])[-1]
    assert entry["event"] == "lead_updated"
    assert entry["user"] == "bob@acme.test"
    assert entry["apiKey"] is None  # a session token has no name
    assert entry["data"] == {
        "changes": {
            "company": ["Acme", "Globex"],
            "monthlyTransactionVolume": [125000.5, 10],
            "lastContacted": ["2024-03-01T00:00:00.000Z", "2024-03-02T10:00:00.000Z"],
            "email": [None, "ada@example.com"],
        }
    }
    assert entry["requestMethod"] == "PATCH"
    assert entry["requestPath"] == f"/api/leads/{lead['id']}"
    assert entry["requestIpAddress"] == "203.0.113.7"


def test_archive_and_unarchive_are_recorded(world):
    lead = world.alice.create_lead()
    path = f"/api/leads/{lead['id']}/archive"
    world.alice.post(path)
    world.bob.delete(path)
    archived, unarchived = audit_log(world.alice, lead["id"])[1:]
    assert archived["event"] == "lead_archived"
    assert archived["data"] == {"changes": {"archived": [False, True]}}
    assert (archived["user"], archived["apiKey"]) == ("alice@acme.test", TOKEN_NAME)
    assert (archived["requestMethod"], archived["requestPath"]) == ("POST", path)
    assert unarchived["event"] == "lead_unarchived"
    assert unarchived["data"] == {"changes": {"archived": [True, False]}}
    assert (unarchived["user"], unarchived["apiKey"]) == ("bob@acme.test", "bob@acme.test token")
    assert (unarchived["requestMethod"], unarchived["requestPath"]) == ("DELETE", path)


def test_audit_log_lists_entries_oldest_first(world):
    lead = world.alice.create_lead()
    path = f"/api/leads/{lead['id']}"
    world.alice.patch(path, json={"company": "A"})
    world.alice.post(f"{path}/archive")
    world.alice.patch(path, json={"company": "B"})
    world.alice.delete(f"{path}/archive")
    log = audit_log(world.alice, lead["id"])
    assert [e["event"] for e in log] == [
        "lead_created",
        "lead_updated",
        "lead_archived",
        "lead_updated",
        "lead_unarchived",
    ]
    assert [e["id"] for e in log] == sorted(e["id"] for e in log)
    assert [e["created"] for e in log] == sorted(e["created"] for e in log)
    assert log[3]["data"] == {"changes": {"company": ["A", "B"]}}


def test_delete_is_recorded_and_the_history_is_kept(world):
    lead = world.alice.create_lead(company="Acme", monthlyTransactionVolume=0.1)
    world.alice.patch(f"/api/leads/{lead['id']}", json={"notes": "hello"})
    assert world.alice.delete(f"/api/leads/{lead['id']}").status_code == 204
    rows = stored_events(world, lead["id"])
    assert [row["event"] for row in rows] == ["lead_created", "lead_updated", "lead_deleted"]
    deleted = rows[-1]
    assert deleted["data"] == {
        "changes": {
            "firstName": ["Test", None],
            "lastName": ["Lead", None],
            "company": ["Acme", None],
            "monthlyTransactionVolume": [0.1, None],
            "notes": ["hello", None],
            "archived": [False, None],
        }
    }
    assert deleted["user_email"] == "alice@acme.test"
    assert deleted["api_key_name"] == TOKEN_NAME
    assert (deleted["request_method"], deleted["request_path"]) == (
        "DELETE",
        f"/api/leads/{lead['id']}",
    )


def test_a_deleted_leads_id_is_never_given_to_a_new_lead(world):
    """SQLite gave the newest deleted lead's id to the next lead, which then showed the deleted
    lead's history (its email, its notes) to anyone who could read leads, a viewer too."""
    kept = world.alice.create_lead()
    newest = world.alice.create_lead(email="secret@old.example", notes="private")
    idempotent = {"Idempotency-Key": "once"}
    assert world.alice.post("/api/leads", json={"firstName": "A", "lastName": "B"},
                            headers=idempotent).status_code == 201  # fmt: skip
    replayed = world.alice.get("/api/leads").get_json()["data"][0]["id"]
    for lead_id in (replayed, newest["id"]):
        assert world.alice.delete(f"/api/leads/{lead_id}").status_code == 204
    new = world.alice.create_lead()
    assert new["id"] > replayed > newest["id"] > kept["id"]
    history = world.vera.get(f"/api/leads/{new['id']}").get_json()["auditLog"]
    assert [entry["event"] for entry in history] == ["lead_created"]
    assert "secret@old.example" not in json.dumps(history)
    again = world.alice.post("/api/leads", json={"firstName": "A", "lastName": "B"},
                             headers=idempotent)  # fmt: skip
    assert again.headers["Location"] == f"/api/leads/{replayed}"  # the deleted one, not new
    assert world.alice.get(again.headers["Location"]).status_code == 404


def test_writes_that_change_nothing_are_not_recorded(world):
    lead = world.alice.create_lead(company="Acme")
    path = f"/api/leads/{lead['id']}"
    world.alice.patch(path, json={"company": "Acme"})
    world.alice.patch(path, json={})
    world.alice.delete(f"{path}/archive")
    assert [e["event"] for e in audit_log(world.alice, lead["id"])] == ["lead_created"]


def test_no_credentials_are_ever_stored_in_the_audit_log(world):
    login = world.client.post(
        "/api/auth/login", json={"email": "alice@acme.test", "password": PASSWORD}
    )
    session = Api(world.client, login.get_json()["token"], "alice@acme.test")
    world.client.set_cookie("session", "cookie-secret-value")
    lead = world.alice.create_lead(company="Acme")
    path = f"/api/leads/{lead['id']}"
    # A token in the query string is refused (a parameter the route does not take), so it
    # never reaches the stored path either.
    for api, name in ((world.bob, "access_token"), (session, "token")):
        assert api.patch(f"{path}?{name}={api.token}", json={"company": "X"}).status_code == 400
    world.bob.patch(path, json={"company": "A"})
    session.patch(path, json={"company": "B"})
    session.post(f"{path}/archive", headers={"X-Api-Key": world.alice.token})
    world.bob.delete(f"{path}/archive")
    created = session.create_lead(notes="made with a session")
    session.delete(f"/api/leads/{created['id']}")
    world.alice.delete(path)
    rows = stored_events(world)
    assert len(rows) == 8
    stored = json.dumps(rows, default=str)
    for secret in (
        world.alice.token,
        world.bob.token,
        session.token,
        PASSWORD,
        "Bearer",
        "cookie-secret-value",
        "access_token",
        world.bob.token[:12],
        session.token[-12:],
    ):
        assert secret not in stored
