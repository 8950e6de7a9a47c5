"""Accounts and roles: the account a request acts in, isolation between accounts, permissions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Api, assert_problem, token_for

# Every route that names one lead: (method, path suffix, JSON body).
LEAD_ROUTES = [
    ("GET", "", None),
    ("PATCH", "", {"company": "Changed"}),
    ("DELETE", "", None),
    ("POST", "/archive", None),
    ("DELETE", "/archive", None),
]
WRITES = [
    ("POST", "/api/leads", {"firstName": "New", "lastName": "Lead"}),
    ("PATCH", "/api/leads/{id}", {"company": "Changed"}),
    ("DELETE", "/api/leads/{id}", None),
    ("POST", "/api/leads/{id}/archive", None),
    ("DELETE", "/api/leads/{id}/archive", None),
]


def snapshot(world) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    return world.count(), world.audit_count(), world.alice.list("pageSize=100")


# Choosing the account -----------------------------------------------------------------------


def test_session_acts_in_the_primary_account_unless_another_is_named(world):
    acme = world.alice.create_lead(firstName="InAcme")["id"]
    globex = world.carol.create_lead(firstName="InGlobex")["id"]
    session = world.session("alice@acme.test")
    assert session.ids() == [acme]
    assert session.as_account(world.acme).ids() == [acme]
    assert session.as_account(world.globex).ids() == [globex]
    created = session.as_account(world.globex).create_lead(firstName="ByAlice")
    assert created["accountId"] == world.globex
    assert sorted(world.carol.ids()) == [globex, created["id"]]
    assert world.alice.ids() == [acme]


def test_session_refuses_an_account_of_which_the_user_is_not_a_member(world):
    for email, account in (("bob@acme.test", world.globex), ("carol@globex.test", world.acme)):
        session = world.session(email, account)
        assert_problem(session.get("/api/leads"), 403)
        assert_problem(session.post("/api/leads", json={"firstName": "A", "lastName": "B"}), 403)
    assert world.count() == 0


def test_session_refuses_an_account_that_does_not_exist(world):
    assert_problem(world.session("alice@acme.test", "1").get("/api/leads"), 403)


def test_refuses_malformed_account_ids(world):
    session = world.session("alice@acme.test")
    for value in ["abc", "-1", "", " ", "12a", "1.5", "1" * 21, "0x10", f"{world.acme},1"]:
        assert_problem(session.as_account(value).get("/api/leads"), 400)
        assert_problem(world.alice.as_account(value).get("/api/leads"), 400)


def test_api_token_acts_only_in_its_own_account(world):
    lead = world.alice.create_lead()["id"]
    assert world.alice.as_account(world.acme).ids() == [lead]
    # Alice is a member of Globex, but her token belongs to Acme.
    assert_problem(world.alice.as_account(world.globex).get("/api/leads"), 403)
    body = {"firstName": "A", "lastName": "B"}
    assert_problem(world.alice.as_account(world.globex).post("/api/leads", json=body), 403)
    assert world.count() == 1


# Isolation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "suffix", "body"), LEAD_ROUTES)
def test_lead_of_another_account_is_not_found(world, method, suffix, body):
    theirs = world.carol.create_lead(firstName="Secret", archived=suffix == "/archive")
    path = f"/api/leads/{theirs['id']}"
    before = world.carol.get(path).get_json()
    audits = world.audit_count()
    callers = {
        "alice-token": world.alice,
        "alice-session": world.session("alice@acme.test"),
        "bob": world.bob,
    }
    for who, caller in callers.items():
        response = caller.request(method, path + suffix, json=body)
        # A member may delete no lead at all: that refusal comes first and tells nothing either.
        expected = 403 if (who, method, suffix) == ("bob", "DELETE", "") else 404
        assert response.status_code == expected, who
        assert_problem(response, expected)
    assert world.carol.get(path).get_json() == before
    assert world.audit_count() == audits


def test_leads_of_another_account_never_appear_in_lists(world):
    fields = {"company": "Globex", "numberOfEmployees": 5, "lastContacted": "2024-03-01"}
    theirs = {
        world.carol.create_lead(firstName="Secret", **fields)["id"],
        world.carol.create_lead(firstName="Secret", archived=True, **fields)["id"],
        world.carol.create_lead(firstName="Secret")["id"],
    }
    ours = world.alice.create_lead(firstName="Public")["id"]
    callers = (world.alice, world.session("alice@acme.test"), world.bob)
    for query in (
        "",
        "pageSize=100",
        "archived=true",
        "search=secret",
        "search=globex",
        "firstName=Secret",
        "company=Globex",
        "company=",
        "createdBy=carol@globex.test",
        "numberOfEmployees=,1000",
        "sort=firstName&pageSize=100",
        "lastContacted=2024-03-01",
    ):
        for api in callers:
            body = api.list(query)
            ids = {lead["id"] for lead in body["data"]}
            assert not ids & theirs, query
            assert body["totalCount"] == len(ids), query
            assert all(lead["accountId"] == world.acme for lead in body["data"])
    assert ours in world.alice.ids("pageSize=100")


# Roles --------------------------------------------------------------------------------------


def call(api: Api, method: str, path: str, lead_id: int, body: Any):
    return api.request(method, path.format(id=lead_id), json=body)


def test_viewer_can_read(world):
    lead = world.alice.create_lead()
    assert world.vera.ids() == [lead["id"]]
    assert world.vera.get(f"/api/leads/{lead['id']}").status_code == 200


def test_viewer_cannot_write(world):
    for method, path, body in WRITES:
        lead = world.alice.create_lead(archived=path.endswith("/archive") and method == "DELETE")
        before = snapshot(world), world.alice.list("archived=true")
        assert_problem(call(world.vera, method, path, lead["id"], body), 403)
        assert (snapshot(world), world.alice.list("archived=true")) == before, (method, path)


def test_member_can_create_edit_and_archive_but_not_delete(world):
    for (method, path, body), status in zip(WRITES, [201, 200, 403, 200, 200], strict=True):
        lead = world.alice.create_lead(archived=path.endswith("/archive") and method == "DELETE")
        counts = world.count(), world.audit_count()
        response = call(world.bob, method, path, lead["id"], body)
        assert response.status_code == status, (method, path)
        if status == 403:
            assert_problem(response, 403)
            assert (world.count(), world.audit_count()) == counts
        else:
            assert world.audit_count() == counts[1] + 1


def test_member_of_another_account_through_a_session_cannot_delete(world):
    lead = world.carol.create_lead()
    alice_in_globex = world.session("alice@acme.test", world.globex)
    assert_problem(alice_in_globex.delete(f"/api/leads/{lead['id']}"), 403)
    assert alice_in_globex.patch(f"/api/leads/{lead['id']}", json={"notes": "x"}).status_code == 200
    assert world.carol.ids() == [lead["id"]]


def test_admin_can_delete(world):
    lead = world.bob.create_lead()
    assert world.alice.delete(f"/api/leads/{lead['id']}").status_code == 204
    assert world.count() == 0


def test_read_only_token_can_read_but_not_write(world):
    reader = Api(world.client, token_for(world.app, "alice@acme.test", "Acme", read_only=True), "")
    for method, path, body in WRITES:
        lead = world.alice.create_lead(archived=path.endswith("/archive") and method == "DELETE")
        assert reader.get(f"/api/leads/{lead['id']}").status_code == 200
        before = snapshot(world), world.alice.list("archived=true")
        assert_problem(call(reader, method, path, lead["id"], body), 403)
        assert (snapshot(world), world.alice.list("archived=true")) == before, (method, path)
    assert len(reader.ids("archived=true")) + len(reader.ids()) == len(WRITES)
