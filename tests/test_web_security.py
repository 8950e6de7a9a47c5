"""The browser UI's defences: CSRF, escaping, role limits, other accounts' leads, error pages."""

from __future__ import annotations

import pytest
from markupsafe import escape

from app.leads.fields import FIELDS, Kind
from app.web import leads as web_leads
from tests.support import World
from tests.web_support import (
    FRAGMENT,
    IMG,
    SCRIPT,
    assert_site_page,
    csrf_token,
    form_values,
    ids_in,
    post_form,
    signed_in_client,
    text,
)

TEXT_FIELDS = [f.json for f in FIELDS if f.kind is Kind.TEXT and f.writable]
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_IMG = "&lt;img src=x onerror="


@pytest.fixture
def alice(app, world):
    return signed_in_client(app, "alice@acme.test")


def state(world: World, lead_id: int) -> tuple[int, dict | None, int]:
    """What a refused request must leave alone: the lead, and the audit log and lead counts."""
    response = world.alice.get(f"/api/leads/{lead_id}")
    lead = response.get_json() if response.status_code == 200 else None
    return len(world.alice.ids("archived=true")) + len(world.alice.ids()), lead, world.audit_count()


# Caching ---------------------------------------------------------------------------------------


def test_signed_in_pages_and_fragments_are_never_stored_by_the_browser(alice, world):
    """Lead data must not stay in the browser's cache after sign-out."""
    lead = world.alice.create_lead(notes="private notes")["id"]
    for url, headers in [
        ("/leads", {}),
        ("/leads?search=test", FRAGMENT),
        ("/leads/count?search=test", {}),
        (f"/leads/{lead}", {}),
        (f"/leads/{lead}/edit", {}),
        (f"/leads/{lead}/delete", {}),
        ("/leads/new", {}),
        ("/password", {}),
        ("/leads/999999", {}),  # an error page too
    ]:
        response = alice.get(url, headers=headers)
        assert response.headers.get("Cache-Control") == "no-store", url
    assert alice.get("/static/css/app.css").headers.get("Cache-Control") != "no-store"


# CSRF ----------------------------------------------------------------------------------------


def lead_posts(lead_id: int) -> list[tuple[str, dict[str, str]]]:
    valid = {"firstName": "Changed", "lastName": "Lee", "version": "1"}
    return [
        ("/leads", {"firstName": "New", "lastName": "Lead"}),
        (f"/leads/{lead_id}", valid),
        (f"/leads/{lead_id}/archive", {}),
        (f"/leads/{lead_id}/unarchive", {}),
        (f"/leads/{lead_id}/contact", {}),
        (f"/leads/{lead_id}/delete", {}),
    ]


def test_every_lead_post_without_a_csrf_token_is_refused_and_changes_nothing(alice, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    before = state(world, lead_id)
    for url, data in lead_posts(lead_id):
        response = alice.post(url, data=data)
        assert response.status_code == 400, url
        page = text(response)
        assert "CSRF check failed" in page, url
        assert_site_page(page)
    assert state(world, lead_id) == before


def test_a_csrf_token_of_another_session_is_refused(app, alice, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    bob = signed_in_client(app, "bob@acme.test")
    bobs_token = csrf_token(text(bob.get("/leads")))
    before = state(world, lead_id)
    for url, data in lead_posts(lead_id):
        assert alice.post(url, data={**data, "csrf_token": bobs_token}).status_code == 400, url
        headers = {"X-CSRFToken": bobs_token, "HX-Request": "true"}
        assert alice.post(url, data=data, headers=headers).status_code == 400, url
    assert state(world, lead_id) == before


def test_the_token_htmx_sends_in_a_header_is_accepted(alice, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    page = text(alice.get(f"/leads/{lead_id}"))
    header_token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    response = alice.post(f"/leads/{lead_id}/archive", headers={"X-CSRFToken": header_token})
    assert response.status_code == 303
    assert world.alice.get(f"/api/leads/{lead_id}").get_json()["archived"] is True


def test_field_check_without_a_csrf_token_is_refused(alice):
    response = alice.post(
        "/leads/fields/email", data={"email": "x"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400


def test_sign_out_without_a_csrf_token_keeps_the_session(alice):
    assert alice.post("/logout").status_code == 400
    assert alice.get("/leads").status_code == 200


def test_account_switch_without_a_csrf_token_keeps_the_account(alice, world):
    acme_lead = world.alice.create_lead()["id"]
    assert alice.post("/account", data={"account": world.globex}).status_code == 400
    assert ids_in(text(alice.get("/leads"))) == [acme_lead]


def test_sign_in_without_a_csrf_token_is_refused(app, world):
    browser = app.test_client()
    response = browser.post("/login", data={"email": "bob@acme.test", "password": "x" * 20})
    assert response.status_code == 400
    assert browser.get("/leads").status_code == 302


def test_setup_without_a_csrf_token_creates_nothing(client):
    data = {
        "account_name": "Initech",
        "email": "peter@initech.example",
        "password": "correct horse battery staple",
        "confirm": "correct horse battery staple",
    }
    response = client.post("/setup", data=data)
    assert response.status_code == 400
    assert client.get("/").headers["Location"] == "/setup"


# Escaping ------------------------------------------------------------------------------------


def hostile_lead(world: World, payload: str) -> int:
    """A lead whose every text field is the payload (other kinds refuse it)."""
    return world.alice.create_lead(**{name: payload for name in TEXT_FIELDS})["id"]


def assert_escaped(page: str, where: str) -> None:
    assert SCRIPT not in page, where
    assert IMG not in page, where
    assert "<img src=x" not in page, where
    assert ESCAPED_SCRIPT in page or ESCAPED_IMG in page, where


@pytest.mark.parametrize("payload", [SCRIPT, IMG])
def test_hostile_text_shows_as_text_on_every_page(alice, world, payload):
    lead_id = hostile_lead(world, payload)
    world.alice.patch(f"/api/leads/{lead_id}", json={"company": "Safe"})
    world.alice.patch(f"/api/leads/{lead_id}", json={"company": payload, "notes": payload + "!"})
    filtered = {"source": payload, "sort": "company,-lastName"}
    pages = {
        "list": alice.get("/leads"),
        "archive": alice.get("/leads?archived=true"),
        "filtered list": alice.get("/leads", query_string={"processStage": payload}),
        "fragment": alice.get("/leads?sort=lastName", headers=FRAGMENT),
        "filtered fragment": alice.get("/leads", query_string=filtered, headers=FRAGMENT),
        "detail": alice.get(f"/leads/{lead_id}"),
        "edit": alice.get(f"/leads/{lead_id}/edit"),
        "delete": alice.get(f"/leads/{lead_id}/delete"),
    }
    for where, response in pages.items():
        assert response.status_code == 200, where
        assert_escaped(text(response), where)
    escaped = str(escape(payload))
    assert f"<h1>{escaped} {escaped}</h1>" in text(pages["detail"])
    timeline = text(pages["detail"]).split('<ol class="timeline">', 1)[1]
    assert f"<li>changed Company from Safe to {escaped}</li>" in timeline
    assert f"<li>changed Notes from {escaped} to {escaped}!</li>" in timeline
    assert f"changed Company from {escaped} to Safe" in timeline
    assert ids_in(text(pages["filtered list"])) == [lead_id]
    assert ids_in(text(pages["filtered fragment"])) == [lead_id]
    assert form_values(text(pages["edit"]))["notes"] == payload + "!"


def test_flash_messages_escape_the_leads_name(alice, world):
    response = post_form(alice, "/leads", {"firstName": SCRIPT, "lastName": IMG})
    assert response.status_code == 303
    page = text(alice.get(response.headers["Location"]))
    assert f"Added {ESCAPED_SCRIPT} &lt;img src=x onerror=&#34;alert(1)&#34;&gt;." in page
    assert_escaped(page, "flash after create")
    lead_id = int(response.headers["Location"].removeprefix("/leads/"))
    post_form(alice, f"/leads/{lead_id}/archive", page=f"/leads/{lead_id}")
    assert_escaped(text(alice.get(f"/leads/{lead_id}")), "flash after archive")
    post_form(alice, f"/leads/{lead_id}/delete", page=f"/leads/{lead_id}")
    page = text(alice.get("/leads"))
    assert f"Deleted {ESCAPED_SCRIPT}" in page
    assert_escaped(page, "flash after delete")


def test_typed_hostile_input_is_escaped_when_the_form_comes_back(alice, world):
    data = {"firstName": SCRIPT, "lastName": IMG, "email": SCRIPT, "notes": SCRIPT}
    response = post_form(alice, "/leads", data)
    assert response.status_code == 400
    page = text(response)
    assert_escaped(page, "form with errors")
    assert form_values(page)["email"] == SCRIPT
    token = csrf_token(page)
    fragment = alice.post(
        "/leads/fields/email",
        data={"email": IMG},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert_escaped(text(fragment), "field check")


@pytest.mark.parametrize(
    "url",
    [
        "/leads?search=%3Cscript%3Ealert(1)%3C/script%3E",
        "/leads?%3Cscript%3Ealert(1)%3C/script%3E=1",
        "/leads?sort=%3Cscript%3Ealert(1)%3C/script%3E",
        "/leads?processStage=%3Cscript%3Ealert(1)%3C/script%3E",
        "/leads/count?search=%3Cscript%3Ealert(1)%3C/script%3E",
        "/login?next=%3Cscript%3Ealert(1)%3C/script%3E",
        "/nope/%3Cscript%3Ealert(1)%3C/script%3E",
    ],
)
def test_hostile_addresses_are_escaped_when_shown(alice, url):
    for headers in ({}, FRAGMENT):
        page = text(alice.get(url, headers=headers))
        assert SCRIPT not in page, url


# Role limits ---------------------------------------------------------------------------------


def test_viewer_sees_no_buttons_that_change_leads(app, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    vera = signed_in_client(app, "vera@acme.test")
    page = text(vera.get("/leads"))
    assert ids_in(page) == [lead_id]
    assert "/leads/new" not in page and "New lead" not in page
    page = text(vera.get(f"/leads/{lead_id}"))
    assert "<h1>Ann Lee</h1>" in page
    for label in ("Edit", "Archive", "Unarchive", "Delete", "Log contact"):
        assert f">{label}</" not in page, label
    for action in ("edit", "archive", "contact", "delete"):
        assert f"/leads/{lead_id}/{action}" not in page


def test_viewer_is_refused_every_change(app, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    vera = signed_in_client(app, "vera@acme.test")
    for url in ("/leads/new", f"/leads/{lead_id}/edit", f"/leads/{lead_id}/delete"):
        response = vera.get(url)
        assert response.status_code == 403, url
        assert_site_page(text(response))
    before = state(world, lead_id)
    token = csrf_token(text(vera.get("/leads")))
    posts = [
        *lead_posts(lead_id),
        ("/leads", {}),  # an invalid form is refused too, not shown again
        (f"/leads/{lead_id}", {"firstName": "", "version": "1"}),
    ]
    for url, data in posts:
        response = vera.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, url
        assert_site_page(text(response))
    check = vera.post(
        "/leads/fields/email",
        data={"email": "x"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert check.status_code == 403
    assert state(world, lead_id) == before


def test_member_may_edit_and_archive_but_not_delete(app, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    bob = signed_in_client(app, "bob@acme.test")
    page = text(bob.get(f"/leads/{lead_id}"))
    assert f'href="/leads/{lead_id}/edit">Edit</a>' in page
    assert ">Archive</button>" in page
    assert ">Delete</a>" not in page and f"/leads/{lead_id}/delete" not in page
    assert bob.get(f"/leads/{lead_id}/delete").status_code == 403
    response = post_form(bob, f"/leads/{lead_id}/delete")
    assert response.status_code == 403
    assert_site_page(text(response))
    assert world.alice.get(f"/api/leads/{lead_id}").status_code == 200
    assert post_form(bob, f"/leads/{lead_id}/archive").status_code == 303


def test_another_accounts_lead_is_not_found_on_every_page_and_action(app, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    carol = signed_in_client(app, "carol@globex.test")
    assert ids_in(text(carol.get("/leads"))) == []
    for url in (f"/leads/{lead_id}", f"/leads/{lead_id}/edit", f"/leads/{lead_id}/delete"):
        response = carol.get(url)
        assert response.status_code == 404, url
        assert_site_page(text(response))
    before = state(world, lead_id)
    token = csrf_token(text(carol.get("/leads")))
    for url, data in lead_posts(lead_id)[1:]:
        response = carol.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 404, url
        assert "Ann" not in text(response)
    assert state(world, lead_id) == before


# Error pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "status", "title"),
    [
        ("GET", "/nope", 404, "Not Found"),
        ("GET", "/leads/12345", 404, "Not Found"),
        ("DELETE", "/leads", 405, "Method Not Allowed"),
    ],
)
def test_error_pages_use_the_site_look(alice, method, url, status, title):
    response = alice.open(url, method=method)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = text(response)
    assert_site_page(page)
    assert f"<h1>{title}</h1>" in page
    assert '<span class="user-email">alice@acme.test</span>' in page


def test_forbidden_page_uses_the_site_look_and_says_why(app, world):
    vera = signed_in_client(app, "vera@acme.test")
    response = vera.get("/leads/new")
    assert response.status_code == 403
    page = text(response)
    assert_site_page(page)
    assert "<h1>Forbidden</h1>" in page
    assert "Not allowed for the viewer role" in page


def test_an_unexpected_error_shows_a_friendly_page_without_details(alice, world, monkeypatch):
    lead_id = world.alice.create_lead()["id"]

    def broken(events):
        raise RuntimeError("secret internals")

    with monkeypatch.context() as patch:
        patch.setattr(web_leads, "entries", broken)
        response = alice.get(f"/leads/{lead_id}")
    assert response.status_code == 500
    page = text(response)
    assert_site_page(page)
    assert "Something went wrong on our side; it has been logged." in page
    assert "secret internals" not in page and "Traceback" not in page
    assert alice.get(f"/leads/{lead_id}").status_code == 200
