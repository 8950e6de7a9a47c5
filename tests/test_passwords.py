"""Passwords: Argon2id with rehashing of weaker hashes, the length and common-password rules
everywhere a password is set, one answer for an unknown email and a wrong password, and the
password change page."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.support import PASSWORD, Api, assert_problem
from tests.web_support import assert_site_page, csrf_token, post_form, signed_in_client, text

NEW_PASSWORD = "a brand new passphrase"
WEAK_HASHER = PasswordHasher(time_cost=1, memory_cost=8192)


def stored_hash(app: Flask, email: str) -> str:
    with app.app_context():
        return db.session.scalar(select(User.password_hash).where(User.email == email))


def set_hash(app: Flask, email: str, password_hash: str) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        user.password_hash = password_hash
        db.session.commit()


def web_login(app: Flask, email: str, password: str):
    browser = app.test_client()
    token = csrf_token(text(browser.get("/login")))
    return browser.post("/login", data={"email": email, "password": password, "csrf_token": token})


def api_login(app: Flask, email: str, password: str):
    return app.test_client().post("/api/auth/login", json={"email": email, "password": password})


# Hashing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("login", [web_login, api_login], ids=["web", "api"])
def test_sign_in_upgrades_a_weaker_hash_to_the_current_parameters(app, world, login):
    weak = WEAK_HASHER.hash(PASSWORD)
    set_hash(app, "bob@acme.test", weak)
    assert "m=8192,t=1" in weak
    assert login(app, "bob@acme.test", "wrong password!").status_code in (400, 401)
    assert stored_hash(app, "bob@acme.test") == weak  # only a right password rehashes
    assert login(app, "bob@acme.test", PASSWORD).status_code in (200, 302)
    upgraded = stored_hash(app, "bob@acme.test")
    assert upgraded != weak
    assert upgraded.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(upgraded)
    assert login(app, "bob@acme.test", PASSWORD).status_code in (200, 302)
    assert stored_hash(app, "bob@acme.test") == upgraded  # current hashes stay as they are


def test_passwords_are_stored_as_argon2id_never_in_clear(app, world):
    stored = stored_hash(app, "alice@acme.test")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


# One answer for an unknown email and a wrong password ---------------------------------------


def _without_token_and_email(page: str, email: str) -> str:
    """The page with its CSRF token (per request) and the email typed (echoed) left out."""
    return page.replace(csrf_token(page), "TOKEN").replace(email, "EMAIL")


def test_sign_in_page_answers_an_unknown_email_and_a_wrong_password_alike(app, world):
    wrong = web_login(app, "bob@acme.test", "wrong password!")
    unknown = web_login(app, "nobody@acme.test", "wrong password!")
    assert wrong.status_code == unknown.status_code == 400
    assert _without_token_and_email(text(wrong), "bob@acme.test") == _without_token_and_email(
        text(unknown), "nobody@acme.test"
    )
    assert "Wrong email or password." in text(wrong)


def test_api_sign_in_answers_an_unknown_email_and_a_wrong_password_alike(app, world):
    wrong = api_login(app, "bob@acme.test", "wrong password!")
    unknown = api_login(app, "nobody@acme.test", "wrong password!")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data() == unknown.get_data()
    assert wrong.headers.get("WWW-Authenticate") == unknown.headers.get("WWW-Authenticate")


# Rules for new passwords --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Must be at least 10 characters."),
        ("123456789", "Must be at least 10 characters."),
        ("1234567890", "Is one of the most common passwords; choose another."),
        ("Password123", "Is one of the most common passwords; choose another."),
        ("x" * 1001, "Must be at most 1,000 characters."),
    ],
)
def test_setup_refuses_short_and_common_passwords(client, password, message):
    token = csrf_token(text(client.get("/setup")))
    data = {
        "account_name": "Initech",
        "email": "peter@initech.example",
        "password": password,
        "confirm": password,
        "csrf_token": token,
    }
    response = client.post("/setup", data=data)
    assert response.status_code == 400
    assert message in text(response)
    assert client.get("/").headers["Location"] == "/setup"  # nobody was created


# Changing one's password --------------------------------------------------------------------


def change(client, current: str, new: str, confirm: str | None = None):
    data = {"current": current, "password": new, "confirm": new if confirm is None else confirm}
    return post_form(client, "/password", data, page="/password")


def test_password_page_has_current_new_and_repeat_fields(app, world):
    page = text(signed_in_client(app, "vera@acme.test").get("/password"))
    assert_site_page(page)
    for label in ("Current password", "New password", "Repeat new password"):
        assert f">{label}</label>" in page
    assert 'autocomplete="current-password"' in page and 'autocomplete="new-password"' in page
    assert ">Change password</button>" in page


def test_password_page_needs_a_signed_in_user(client):
    response = client.get("/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/password")


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        ("wrong password!", NEW_PASSWORD, None, "current", "That is not your current password."),
        ("", NEW_PASSWORD, None, "current", "This field is required."),
        (PASSWORD, "short", None, "password", "Must be at least 10 characters."),
        (PASSWORD, "qwertyuiop", None, "password", "Is one of the most common passwords"),
        (PASSWORD, NEW_PASSWORD, "something else", "confirm", "The two passwords differ."),
        (PASSWORD, PASSWORD, None, "password", "Must differ from your current password."),
    ],
)
def test_password_change_refuses_and_changes_nothing(
    app, world, current, new, confirm, field, message
):
    bob = signed_in_client(app, "bob@acme.test")
    before = stored_hash(app, "bob@acme.test")
    response = change(bob, current, new, confirm)
    assert response.status_code == 400
    page = text(response)
    assert f'<p class="field-error" id="error-{field}">' in page and message in page
    assert stored_hash(app, "bob@acme.test") == before
    assert bob.get("/leads").status_code == 200
    assert web_login(app, "bob@acme.test", PASSWORD).status_code == 302


def test_password_change_ends_every_other_session_and_keeps_this_one(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    other_browser = signed_in_client(app, "bob@acme.test")
    session_token = world.session("bob@acme.test")
    assert session_token.get("/api/leads").status_code == 200

    response = change(bob, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/leads"
    page = text(bob.get("/leads"))
    assert "Your password is changed; your other sessions have ended." in page
    assert '<span class="user-email">bob@acme.test</span>' in page

    assert other_browser.get("/leads").headers["Location"].startswith("/login")
    assert session_token.get("/api/leads").status_code == 401
    assert world.bob.get("/api/leads").status_code == 200  # API tokens are not sessions
    assert web_login(app, "bob@acme.test", PASSWORD).status_code == 400
    assert web_login(app, "bob@acme.test", NEW_PASSWORD).status_code == 302
    assert api_login(app, "bob@acme.test", NEW_PASSWORD).status_code == 200


def test_password_change_keeps_the_account_the_user_works_in(app, world):
    alice = signed_in_client(app, "alice@acme.test")
    post_form(alice, "/account", {"account": world.globex})
    assert change(alice, PASSWORD, NEW_PASSWORD).status_code == 303
    assert f'<option value="{world.globex}" selected>Globex</option>' in text(alice.get("/leads"))


def test_a_new_password_works_for_a_new_api_session(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    change(bob, PASSWORD, NEW_PASSWORD)
    token = api_login(app, "bob@acme.test", NEW_PASSWORD).get_json()["token"]
    assert Api(world.client, token, "bob@acme.test").list()["totalCount"] == 0


def test_a_password_that_is_not_text_is_refused_before_hashing():
    """JSON can carry a lone surrogate, which no hash function can encode (a 500 before)."""
    from app.auth.passwords import password_problem, verify_password

    assert password_problem("long enough \ud800 password") == (
        "Contains characters that are not valid text."
    )
    assert verify_password(None, "\ud800") is False


# Temporary passwords: chosen by someone else, replaced at the next sign-in --------------------


def mark_temporary(app: Flask, email: str) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        user.must_change_password = True
        db.session.commit()


def must_change(app: Flask, email: str) -> bool:
    with app.app_context():
        return db.session.scalar(select(User.must_change_password).where(User.email == email))


def test_a_temporary_password_must_be_replaced_before_anything_else(app, world):
    mark_temporary(app, "bob@acme.test")
    signed_in = web_login(app, "bob@acme.test", PASSWORD)
    assert signed_in.headers["Location"] == "/password?next=/leads"
    browser = signed_in_client(app, "bob@acme.test")  # the same, for the requests below
    page = browser.get("/password?next=/leads")
    assert "Choose your own password" in text(page)
    assert "Your current password was chosen by someone else" in text(page)
    lead = world.alice.create_lead()["id"]
    for url in ("/leads", f"/leads/{lead}", "/leads/new", "/settings/members"):
        response = browser.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == f"/password?next={url}", url
    fragment = browser.get("/leads?search=x", headers={"HX-Request": "true", "HX-Target": "x"})
    assert fragment.headers["HX-Redirect"] == "/password?next=/leads?search%3Dx"
    switched = post_form(browser, "/account", {"account": world.acme}, page="/password")
    assert switched.headers["Location"].startswith("/password?next=")

    response = post_form(
        browser,
        "/password?next=/leads/" + str(lead),
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page="/password",
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/leads/{lead}"
    assert must_change(app, "bob@acme.test") is False
    assert browser.get("/leads").status_code == 200


def test_the_api_refuses_a_temporary_password_until_it_is_replaced(app, world):
    session = world.session("bob@acme.test")
    mark_temporary(app, "bob@acme.test")
    refused = api_login(app, "bob@acme.test", PASSWORD)
    problem = assert_problem(refused, 403)
    assert "sign in at /login and choose your own first" in problem["detail"]
    assert_problem(session.get("/api/leads"), 403)  # a session token from before, too
    assert world.bob.get("/api/leads").status_code == 200  # an API token is no password
