"""Browser sessions: a fresh session at sign-in, idle and absolute timeouts, and an API that
never accepts the session cookie."""

from __future__ import annotations

import time

from tests.support import PASSWORD, assert_problem
from tests.web_support import csrf_token, signed_in_client, text


def age_session(client, *, idle: int = 0, age: int = 0) -> None:
    """Make the session look `idle` seconds unused and `age` seconds old."""
    now = int(time.time())
    with client.session_transaction() as session:
        session["seen"] = now - idle
        session["started"] = now - age


def test_sign_in_starts_a_new_session_without_anything_from_before(app, world):
    browser = app.test_client()
    token = csrf_token(text(browser.get("/login")))
    with browser.session_transaction() as session:
        session["planted"] = "by someone else"
        session["account"] = world.globex
    browser.post(
        "/login", data={"email": "bob@acme.test", "password": PASSWORD, "csrf_token": token}
    )
    with browser.session_transaction() as session:
        assert "planted" not in session and "account" not in session
        assert session["uid"] and session["sv"] == 1


def test_a_session_idle_longer_than_the_limit_ends(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    idle_limit = app.config["SESSION_IDLE_MINUTES"] * 60
    age_session(bob, idle=idle_limit - 60, age=idle_limit - 60)
    assert bob.get("/leads").status_code == 200
    age_session(bob, idle=idle_limit + 1, age=idle_limit + 1)
    response = bob.get("/leads")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert bob.get("/leads").status_code == 302  # the dead session was cleared


def test_each_request_restarts_the_idle_clock(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    idle_limit = app.config["SESSION_IDLE_MINUTES"] * 60
    age_session(bob, idle=idle_limit - 60, age=2 * idle_limit)
    assert bob.get("/leads").status_code == 200
    with bob.session_transaction() as session:
        assert int(time.time()) - session["seen"] < 5


def test_a_request_that_changes_nothing_sends_no_cookie(app, world):
    """Two requests of one page run at once (a field checked on blur, then "Save"): if the
    older answer carried its copy of the session, it would overwrite the newer one and lose
    the "Saved" message. Only a changed session is sent back."""
    bob = signed_in_client(app, "bob@acme.test")
    bob.get("/leads")  # the idle clock was just restarted: nothing left to change
    unchanged = bob.get("/leads/new")
    assert unchanged.status_code == 200
    assert "Set-Cookie" not in unchanged.headers
    age_session(bob, idle=120)
    assert "Set-Cookie" in bob.get("/leads").headers  # the idle clock moved: sent


def test_a_session_older_than_the_absolute_limit_ends_even_when_busy(app, world):
    bob = signed_in_client(app, "bob@acme.test")
    max_age = app.config["SESSION_MAX_HOURS"] * 3600
    age_session(bob, idle=0, age=max_age - 60)
    assert bob.get("/leads").status_code == 200
    age_session(bob, idle=0, age=max_age + 1)
    assert bob.get("/leads").headers["Location"].startswith("/login")


def test_timeouts_are_settings(app, world):
    app.config["SESSION_IDLE_MINUTES"] = 1
    bob = signed_in_client(app, "bob@acme.test")
    age_session(bob, idle=61, age=61)
    assert bob.get("/leads").status_code == 302


def test_the_api_refuses_a_signed_in_browsers_cookie(app, world):
    alice = signed_in_client(app, "alice@acme.test")
    assert alice.get("/leads").status_code == 200  # the cookie is a live session
    assert alice.get_cookie("session") is not None
    for method, path in (
        ("GET", "/api/leads"),
        ("GET", "/api/auth/session"),
        ("POST", "/api/leads"),
    ):
        response = alice.open(path, method=method, json={"firstName": "A", "lastName": "B"})
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert world.count() == 0
