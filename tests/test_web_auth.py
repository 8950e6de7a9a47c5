"""Sign-in, sign-out, first-run setup, where sign-in leads next, and the account switcher."""

from __future__ import annotations

import pytest

from tests.support import PASSWORD
from tests.web_support import (
    assert_site_page,
    csrf_token,
    ids_in,
    post_form,
    signed_in_client,
    text,
)

SETUP = {
    "account_name": "Initech",
    "email": "Peter@Initech.example",
    "password": PASSWORD,
    "confirm": PASSWORD,
}


# Sign-in and sign-out -------------------------------------------------------------------------


def test_login_page_has_labelled_email_and_password_and_a_sign_in_button(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = text(response)
    assert_site_page(page)
    assert '<label for="email">Email</label>' in page
    assert 'id="email"' in page and 'type="email"' in page
    assert '<label for="password">Password</label>' in page
    assert 'id="password"' in page and 'type="password"' in page
    assert ">Sign in</button>" in page
    csrf_token(page)


def test_login_fields_without_errors_are_not_marked_invalid(client):
    page = text(client.get("/login"))
    assert "aria-invalid" not in page
    assert "aria-describedby" not in page


def test_login_with_the_right_password_opens_the_lead_list(app, world):
    browser = app.test_client()
    token = csrf_token(text(browser.get("/login")))
    response = browser.post(
        "/login", data={"email": "bob@acme.test", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads"
    page = text(browser.get("/leads"))
    assert '<span class="user-email">bob@acme.test</span>' in page


def test_login_with_a_wrong_password_shows_the_form_again_with_an_error(app, world):
    browser = app.test_client()
    token = csrf_token(text(browser.get("/login")))
    response = browser.post(
        "/login",
        data={"email": "bob@acme.test", "password": "wrong password!", "csrf_token": token},
    )
    assert response.status_code == 400
    page = text(response)
    assert "Wrong email or password." in page
    assert 'value="bob@acme.test"' in page
    assert browser.get("/leads").status_code == 302


@pytest.mark.parametrize(
    "url",
    [
        "/leads",
        "/leads?search=ann",
        "/leads/count",
        "/leads/new",
        "/leads/1",
        "/leads/1/edit",
        "/leads/1/delete",
    ],
)
def test_every_page_but_sign_in_sends_visitors_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    assert client.get(location).status_code == 200


def test_sign_in_returns_to_the_page_asked_for(app, world):
    browser = app.test_client()
    response = browser.get("/leads?search=ann&sort=lastName")
    assert response.headers["Location"] == "/login?next=/leads?search%3Dann%26sort%3DlastName"
    login_page = response.headers["Location"]
    token = csrf_token(text(browser.get(login_page)))
    response = browser.post(
        login_page, data={"email": "bob@acme.test", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads?search=ann&sort=lastName"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "https:evil.example",
        "http://evil.example",
        "https://evil.example/leads",
        "/\n/evil.example",
    ],
)
def test_sign_in_never_redirects_off_the_site(app, world, target):
    browser = app.test_client()
    login_page = browser.get("/login", query_string={"next": target})
    token = csrf_token(text(login_page))
    response = browser.post(
        "/login",
        query_string={"next": target},
        data={"email": "bob@acme.test", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads"


def test_home_sends_visitors_to_sign_in_and_signed_in_users_to_the_list(app, world, client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    bob = signed_in_client(app, "bob@acme.test")
    response = bob.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads"


def test_sign_out_ends_the_session_and_says_so(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    page = text(bob.get("/leads"))
    assert ">Sign out</button>" in page
    assert '<form method="post" action="/logout">' in page
    response = post_form(bob, "/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You are signed out." in text(bob.get("/login"))
    assert bob.get("/leads").status_code == 302


def test_old_session_cookie_no_longer_works_after_sign_out(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    cookie = bob.get_cookie("session")
    assert cookie is not None
    copy = app.test_client()  # the same cookie in another browser (say, stolen)
    copy.set_cookie("session", cookie.value)
    assert copy.get("/leads").status_code == 200
    assert post_form(bob, "/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie.value)
    response = replay.get("/leads")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert copy.get("/leads").status_code == 302


def test_signing_in_again_after_sign_out_works(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    post_form(bob, "/logout")
    again = signed_in_client(app, "bob@acme.test")
    assert again.get("/leads").status_code == 200


# First run ---------------------------------------------------------------------------------


def test_home_leads_to_setup_while_no_user_exists(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/setup"
    page = text(client.get("/setup"))
    assert_site_page(page)
    for label in ("Account name", "Email", "Password", "Repeat password"):
        assert f">{label}</label>" in page
    assert ">Create account</button>" in page


def test_setup_creates_the_first_admin_and_account_and_signs_in(client):
    token = csrf_token(text(client.get("/setup")))
    response = client.post("/setup", data={**SETUP, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads"
    page = text(client.get("/leads"))
    assert "Welcome! Initech is ready: add your first lead." in page
    assert '<span class="user-email">peter@initech.example</span>' in page
    assert '<span class="account-name">Initech</span>' in page
    assert ">Add your first lead</a>" in page
    # the admin may delete: the role is admin
    response = post_form(client, "/leads", {"firstName": "Ann", "lastName": "Lee"})
    assert response.status_code == 303
    lead_page = text(client.get(response.headers["Location"]))
    assert ">Delete</a>" in lead_page


def test_setup_is_gone_once_a_user_exists(app, client):
    token = csrf_token(text(client.get("/setup")))
    client.post("/setup", data={**SETUP, "csrf_token": token})
    visitor = app.test_client()
    assert visitor.get("/setup").status_code == 404
    assert visitor.get("/").headers["Location"] == "/login"
    token = csrf_token(text(visitor.get("/login")))
    again = {**SETUP, "email": "mallory@initech.example", "csrf_token": token}
    assert visitor.post("/setup", data=again).status_code == 404
    assert client.get("/setup").status_code == 404


def test_setup_refuses_a_weak_or_mismatched_password_and_keeps_the_input(client):
    token = csrf_token(text(client.get("/setup")))
    data = {**SETUP, "password": "short", "confirm": "other", "csrf_token": token}
    response = client.post("/setup", data=data)
    assert response.status_code == 400
    page = text(response)
    assert "Must be at least 10 characters." in page
    assert "The two passwords differ." in page
    assert 'value="Initech"' in page
    assert client.get("/").headers["Location"] == "/setup"


# Header and account switcher ----------------------------------------------------------------


def test_header_shows_app_name_user_and_single_account_without_switcher(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    page = text(bob.get("/leads"))
    assert_site_page(page)
    assert '<span class="user-email">bob@acme.test</span>' in page
    assert '<span class="account-name">Acme</span>' in page
    assert 'id="account-select"' not in page


def test_header_offers_an_account_switcher_to_members_of_several_accounts(app, world):
    alice = signed_in_client(app, "alice@acme.test")
    page = text(alice.get("/leads"))
    assert '<form class="account-switch" method="post" action="/account">' in page
    assert f'<option value="{world.acme}" selected>Acme</option>' in page
    assert f'<option value="{world.globex}" >Globex</option>' in page
    assert '<span class="user-email">alice@acme.test</span>' in page


def test_switching_account_is_kept_and_every_page_acts_in_that_account(app, world):
    acme_lead = world.alice.create_lead(firstName="Ann", lastName="Acme")
    globex_lead = world.carol.create_lead(firstName="Gus", lastName="Globex")
    alice = signed_in_client(app, "alice@acme.test")
    assert ids_in(text(alice.get("/leads"))) == [acme_lead["id"]]

    response = post_form(alice, "/account", {"account": world.globex})
    assert response.status_code == 302
    assert response.headers["Location"] == "/leads"
    page = text(alice.get("/leads"))
    assert "Now working in Globex." in page
    assert f'<option value="{world.globex}" selected>Globex</option>' in page
    assert ids_in(page) == [globex_lead["id"]]
    assert alice.get(f"/leads/{globex_lead['id']}").status_code == 200
    assert alice.get(f"/leads/{acme_lead['id']}").status_code == 404
    # a lead created now belongs to Globex, where Alice is a member (no Delete)
    response = post_form(alice, "/leads", {"firstName": "New", "lastName": "Globex"})
    assert response.status_code == 303
    new_id = int(response.headers["Location"].removeprefix("/leads/"))
    assert sorted(world.carol.ids()) == sorted([globex_lead["id"], new_id])
    assert world.alice.ids() == [acme_lead["id"]]
    assert ">Delete</a>" not in text(alice.get(f"/leads/{globex_lead['id']}"))
    # still Globex on the next visit, until switched back
    assert ids_in(text(alice.get("/leads"))) != [acme_lead["id"]]
    post_form(alice, "/account", {"account": world.acme})
    assert ids_in(text(alice.get("/leads"))) == [acme_lead["id"]]


def test_switching_to_an_account_of_someone_else_is_forbidden(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    response = post_form(bob, "/account", {"account": world.globex})
    assert response.status_code == 403
    assert_site_page(text(response))
    world.carol.create_lead(firstName="Gus", lastName="Globex")
    assert ids_in(text(bob.get("/leads"))) == []
