"""Invitations: an admin adds people by a single-use link that expires, never by a password.

The admin's answer is the same whether or not the email has a user anywhere; the membership
exists only once the invitee accepts, as someone new who chooses their password, or as the
signed-in user of that email. Pending invitations are listed, sent again (a fresh link that
kills the old one) and revoked; unusable links get a clear page. And the takeover this
replaces: no password an admin of one account chose or saw opens another account.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import Invitation, Role, User
from app.sqltypes import utcnow
from tests.support import (
    PASSWORD,
    Api,
    World,
    add_user,
    assert_problem,
    membership_id,
    role_of,
)
from tests.web_support import assert_site_page, csrf_token, post_form, signed_in_client, text

MEMBERS = "/settings/members"
LINK = re.compile(r'<code class="secret">http://localhost(/invitation\?token=[^<]+)</code>')
CHOSEN = "a passphrase of my own"


@pytest.fixture
def alice(app: Flask, world: World) -> FlaskClient:
    """Alice's browser: admin of Acme (and a member of Globex)."""
    return signed_in_client(app, "alice@acme.test")


@pytest.fixture
def carol(app: Flask, world: World) -> FlaskClient:
    """Carol's browser: admin of Globex."""
    return signed_in_client(app, "carol@globex.test")


def invite(admin: FlaskClient, email: str, role: str = "member") -> TestResponse:
    return post_form(admin, "/settings/invitations", {"email": email, "role": role}, page=MEMBERS)


def link_of(response: TestResponse) -> str:
    """The invitation link a page shows (path and query), which it shows once."""
    found = LINK.findall(text(response))
    assert len(found) == 1, text(response)
    return html.unescape(found[0])


def invited(admin: FlaskClient, email: str, role: str = "member") -> str:
    response = invite(admin, email, role)
    assert response.status_code == 200, text(response)
    return link_of(response)


def join(link: str, password: str = CHOSEN, confirm: str | None = None, *, app: Flask):
    """Someone new, in a browser of their own, opens the link and chooses a password."""
    browser = app.test_client()
    page = browser.get(link)
    token = link.split("token=", 1)[1]
    data = {"token": token, "password": password, "confirm": confirm or password}
    form_page = page if page.status_code == 200 else browser.get("/login")
    data["csrf_token"] = csrf_token(text(form_page))
    return browser, browser.post("/invitation", data=data)


def accept(browser: FlaskClient, link: str) -> TestResponse:
    """A signed-in user accepts on the link's page."""
    token = link.split("token=", 1)[1]
    return post_form(browser, "/invitation", {"token": token}, page=link)


def user_exists(app: Flask, email: str) -> bool:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email)) is not None


def scrubbed(response: TestResponse) -> str:
    """A page without its one-time secrets (CSRF token, link), the invited address and the
    list of invitations (which holds both)."""
    page = re.sub(
        r"<section aria-labelledby=\"invitations-title\"[^>]*>.*?</section>",
        "",
        text(response),
        flags=re.S,
    )
    page = re.sub(r'value="[^"]{20,}"', 'value=""', page)
    page = re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": ""', page)  # signed with a time
    page = re.sub(r"token(=|%3D)[\w-]+", "token=", page)
    return page.replace("erin@globex.example", "E").replace("nobody@new.example", "E")


# Inviting -------------------------------------------------------------------------------------


def test_an_invitation_shows_a_link_once_and_creates_nobody(app, world, alice):
    response = invite(alice, "Dana@Acme.example", "viewer")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    assert "The invitation link for dana@acme.example (viewer):" in page
    assert "password" not in page.split('id="invitation-link"')[1].split("</div>")[0].lower()
    link = link_of(response)
    assert len(link.split("token=")[1]) >= 43  # 256 bits
    assert not user_exists(app, "dana@acme.example")
    assert role_of(app, "dana@acme.example", "Acme") is None
    listed = text(alice.get(MEMBERS))
    assert "dana@acme.example" in listed and "Viewer" in listed and "alice@acme.test" in listed
    assert link.split("token=")[1] not in listed  # shown once only
    with app.app_context():
        stored = db.session.scalar(select(Invitation))
        assert stored.token_hash != link.split("token=")[1] and len(stored.token_hash) == 64
        assert stored.expires_at - stored.created_at == timedelta(days=7)


def test_the_answer_is_the_same_whether_or_not_the_email_has_a_user(app, world, alice):
    add_user(app, "erin@globex.example", [("Globex", Role.ADMIN)])
    known = invite(alice, "erin@globex.example")
    unknown = invite(alice, "nobody@new.example")
    assert known.status_code == unknown.status_code == 200
    assert scrubbed(known) == scrubbed(unknown)
    # and the link's page, opened by someone who is not signed in, tells nothing either
    known_page = app.test_client().get(link_of(known))
    unknown_page = app.test_client().get(link_of(unknown))
    assert known_page.status_code == unknown_page.status_code == 200
    assert scrubbed(known_page) == scrubbed(unknown_page)


def test_inviting_a_member_of_the_account_is_refused(app, world, alice):
    add_user(app, "erin@acme.example", [("Acme", Role.MEMBER)])
    response = invite(alice, "ERIN@acme.example", "admin")
    assert response.status_code == 409
    assert "erin@acme.example is already a member of Acme." in text(response)
    assert role_of(app, "erin@acme.example", "Acme") == "member"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "", "role": "member"}, "email", "This field is required."),
        ({"email": "not an email", "role": "member"}, "email", "Must be a valid email address."),
        ({"email": "x" * 250 + "@acme.example", "role": "member"}, "email", "254"),
        ({"email": "dana@acme.example", "role": "owner"}, "role", "Not a valid choice."),
    ],
)
def test_inviting_refuses_bad_input_and_keeps_it(app, world, alice, data, field, message):
    response = post_form(alice, "/settings/invitations", data, page=MEMBERS)
    assert response.status_code == 400
    page = text(response)
    assert f'id="error-{field}"' in page and message in page
    with app.app_context():
        assert db.session.scalar(select(Invitation)) is None


def test_inviting_again_replaces_the_earlier_link(app, world, alice):
    first = invited(alice, "dana@acme.example", "viewer")
    second = invited(alice, "dana@acme.example", "admin")
    assert first != second
    assert app.test_client().get(first).status_code == 410
    _, joined = join(second, app=app)
    assert joined.status_code == 303
    assert role_of(app, "dana@acme.example", "Acme") == "admin"


def test_send_again_gives_a_fresh_link_and_kills_the_old_one(app, world, alice):
    old = invited(alice, "dana@acme.example", "viewer")
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    response = post_form(alice, f"/settings/invitations/{invitation_id}/resend", page=MEMBERS)
    assert response.status_code == 200
    new = link_of(response)
    assert new != old
    gone = app.test_client().get(old)
    assert gone.status_code == 410 and "This invitation was withdrawn" in text(gone)
    assert app.test_client().get(new).status_code == 200
    assert text(alice.get(MEMBERS)).count("<td>dana@acme.example</td>") == 1  # one pending
    join(new, app=app)
    assert role_of(app, "dana@acme.example", "Acme") == "viewer"


def test_an_expired_invitation_is_marked_and_can_be_sent_again(app, world, alice):
    old = invited(alice, "dana@acme.example")
    with app.app_context():
        db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        invitation_id = db.session.scalar(select(Invitation.id))
    assert '<span class="badge">Expired</span>' in text(alice.get(MEMBERS))
    expired = app.test_client().get(old)
    assert expired.status_code == 410 and "This invitation has expired" in text(expired)
    _, refused = join(old, app=app)
    assert refused.status_code == 410 and not user_exists(app, "dana@acme.example")
    response = post_form(alice, f"/settings/invitations/{invitation_id}/resend", page=MEMBERS)
    assert app.test_client().get(link_of(response)).status_code == 200


def test_revoking_an_invitation_kills_its_link(app, world, alice):
    link = invited(alice, "dana@acme.example")
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    response = post_form(alice, f"/settings/invitations/{invitation_id}/revoke", page=MEMBERS)
    assert response.status_code == 303 and response.headers["Location"] == MEMBERS
    page = text(alice.get(MEMBERS))
    assert "Revoked the invitation for dana@acme.example; its link no longer works." in page
    assert "No pending invitations." in page
    _, refused = join(link, app=app)
    assert refused.status_code == 410 and not user_exists(app, "dana@acme.example")
    again = post_form(alice, f"/settings/invitations/{invitation_id}/revoke", page=MEMBERS)
    assert again.status_code == 404


def test_another_accounts_invitation_is_not_found_and_others_may_not_invite(app, world, carol):
    invited(carol, "gina@globex.example")
    with app.app_context():
        globex = db.session.scalar(select(Invitation.id))
    alice = signed_in_client(app, "alice@acme.test")
    for action in ("resend", "revoke"):
        response = post_form(alice, f"/settings/invitations/{globex}/{action}", page=MEMBERS)
        assert response.status_code == 404 and "No such invitation." in text(response)
    for email in ("bob@acme.test", "vera@acme.test"):
        browser = signed_in_client(app, email)
        for url in ("/settings/invitations", f"/settings/invitations/{globex}/revoke"):
            response = post_form(browser, url, {"email": "x@acme.example", "role": "admin"})
            assert response.status_code == 403, (email, url)
    with app.app_context():
        assert db.session.scalar(select(Invitation.revoked_at)) is None


def test_removing_or_demoting_an_admin_withdraws_the_invitations_they_sent(app, world, alice):
    """Or a removed admin could come back in through a link they kept."""
    carol = signed_in_client(app, "carol@globex.test")
    alice_in_globex = membership_id(app, "alice@acme.test", "Globex")
    post_form(carol, f"/settings/members/{alice_in_globex}/role", {"role": "admin"})
    post_form(alice, "/account", {"account": world.globex})
    kept = invited(alice, "alias@alice.example", "admin")
    post_form(carol, f"/settings/members/{alice_in_globex}/role", {"role": "member"})
    assert app.test_client().get(kept).status_code == 410
    bob = membership_id(app, "bob@acme.test", "Acme")
    post_form(alice, "/account", {"account": world.acme})
    post_form(alice, f"/settings/members/{bob}/role", {"role": "admin"})
    bob_browser = signed_in_client(app, "bob@acme.test")
    link = invited(bob_browser, "alias@bob.example", "admin")
    post_form(alice, f"/settings/members/{bob}/remove")
    assert app.test_client().get(link).status_code == 410


# Accepting as someone new ---------------------------------------------------------------------


def test_someone_new_chooses_their_password_and_joins(app, world, alice):
    link = invited(alice, "dana@acme.example", "member")
    page = app.test_client().get(link)
    assert page.status_code == 200
    shown = text(page)
    assert_site_page(shown)
    assert "alice@acme.test invites <strong>dana@acme.example</strong>" in shown
    assert "<strong>Acme</strong>" in shown and "<strong>member</strong>" in shown
    assert "Choose a password" in shown and "Sign in to join" in shown

    browser, response = join(link, app=app)
    assert response.status_code == 303 and response.headers["Location"] == "/leads"
    welcome = text(browser.get("/leads"))
    assert "Welcome to Acme: you are a member here." in welcome
    assert '<span class="account-name">Acme</span>' in welcome
    assert role_of(app, "dana@acme.example", "Acme") == "member"
    with app.app_context():
        dana = db.session.scalar(select(User).where(User.email == "dana@acme.example"))
        assert dana.must_change_password is False  # her own choice
    signed_in_client(app, "dana@acme.example", CHOSEN)  # the password she chose works
    used = app.test_client().get(link)
    assert used.status_code == 410 and "This invitation has been used" in text(used)
    assert "No pending invitations." in text(alice.get(MEMBERS))


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", None, "Must be at least 10 characters."),
        ("1234567890", None, "Is one of the most common passwords"),
        (CHOSEN, "something else entirely", "The two passwords differ."),
    ],
)
def test_joining_refuses_a_weak_or_mismatched_password(
    app, world, alice, password, confirm, message
):
    link = invited(alice, "dana@acme.example")
    _, response = join(link, password, confirm, app=app)
    assert response.status_code == 400 and message in text(response)
    assert not user_exists(app, "dana@acme.example")
    assert app.test_client().get(link).status_code == 200  # still usable


def test_a_new_password_can_never_take_over_an_existing_user(app, world, alice):
    """Someone holding a link for an email with a user must sign in as that user: choosing a
    password there changes nothing."""
    add_user(app, "erin@globex.example", [("Globex", Role.MEMBER)])
    link = invited(alice, "erin@globex.example")
    browser, response = join(link, "the attacker's passphrase", app=app)
    assert response.status_code == 409
    assert "erin@globex.example already has a sign-in here: sign in with its password" in (
        text(response)
    )
    assert role_of(app, "erin@globex.example", "Acme") is None
    assert browser.get("/leads").status_code == 302  # not signed in
    signed_in_client(app, "erin@globex.example", PASSWORD)  # her password is unchanged
    assert app.test_client().get(link).status_code == 200  # hers to accept, signed in


# Accepting as an existing user -----------------------------------------------------------------


def test_an_existing_user_signs_in_from_the_link_and_joins(app, world, alice):
    add_user(app, "erin@globex.example", [("Globex", Role.ADMIN)])
    link = invited(alice, "erin@globex.example", "viewer")
    browser = app.test_client()
    sign_in_url = re.search(r'href="(/login\?next=[^"]+)"', text(browser.get(link)))[1]
    token = csrf_token(text(browser.get(html.unescape(sign_in_url))))
    data = {"email": "erin@globex.example", "password": PASSWORD, "csrf_token": token}
    response = browser.post(html.unescape(sign_in_url), data=data)
    assert response.headers["Location"] == link  # back to the invitation
    page = text(browser.get(link))
    assert ">Join Acme</button>" in page and "Choose a password" not in page
    response = accept(browser, link)
    assert response.status_code == 303
    assert '<span class="account-name">' not in (shown := text(browser.get("/leads")))
    assert f'<option value="{world.acme}" selected>Acme</option>' in shown
    assert role_of(app, "erin@globex.example", "Acme") == "viewer"
    assert role_of(app, "erin@globex.example", "Globex") == "admin"  # untouched
    assert accept(browser, link).status_code == 410  # once


def test_someone_removed_from_every_account_can_still_accept(app, world, alice):
    carol = signed_in_client(app, "carol@globex.test")
    add_user(app, "erin@globex.example", [("Globex", Role.MEMBER)])
    post_form(
        carol, f"/settings/members/{membership_id(app, 'erin@globex.example', 'Globex')}/remove"
    )
    link = invited(alice, "erin@globex.example")
    erin = signed_in_client(app, "erin@globex.example")
    notice = text(erin.get("/login"))
    assert "You are signed in as erin@globex.example, but you are not a member of any" in notice
    assert accept(erin, link).status_code == 303
    assert erin.get("/leads").status_code == 200


def test_an_invitation_for_someone_else_says_to_sign_out_first(app, world, alice):
    link = invited(alice, "dana@acme.example")
    bob = signed_in_client(app, "bob@acme.test")
    page = text(bob.get(link))
    assert (
        "This invitation is for dana@acme.example, and you are signed in as bob@acme.test" in page
    )
    assert f'<input type="hidden" name="next" value="{html.escape(link)}">' in page
    refused = accept(bob, link)
    assert refused.status_code == 403
    assert role_of(app, "dana@acme.example", "Acme") is None
    signed_out = post_form(bob, "/logout", {"next": link}, page=link)
    assert signed_out.headers["Location"] == link
    assert "Choose a password" in text(bob.get(link))


def test_a_member_already_keeps_their_role_when_accepting(app, world, alice):
    link = invited(alice, "dana@acme.example", "viewer")
    add_user(app, "dana@acme.example", [("Acme", Role.ADMIN)])  # the operator's CLI, meanwhile
    dana = signed_in_client(app, "dana@acme.example")
    assert accept(dana, link).status_code == 303
    assert role_of(app, "dana@acme.example", "Acme") == "admin"


# Links that cannot be used ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["", "?token=", "?token=nope", "?token=" + "x" * 500, "?token=%ED%A0%80", "?x=1"]
)
def test_an_unknown_link_gets_a_clear_page_not_an_error(client, world, query):
    response = client.get("/invitation" + query)
    assert response.status_code == 404
    page = text(response)
    assert_site_page(page)
    assert "This invitation link is not valid" in page
    token = csrf_token(text(client.get("/login")))
    posted = client.post("/invitation", data={"token": query[7:], "csrf_token": token})
    assert posted.status_code == 404 and "This invitation link is not valid" in text(posted)


# The takeover this replaces -------------------------------------------------------------------


def test_no_password_an_admin_of_one_account_saw_opens_another(app, world, runner):
    """Globex's admin pre-registers cfo@acme.example (here even accepting her own link, so she
    knows the password), then removes her. Acme's admin adds the same email later, in
    Settings and with the CLI: nothing Globex's admin knows opens Acme."""
    carol = signed_in_client(app, "carol@globex.test")
    own_link = invited(carol, "cfo@acme.example", "admin")
    join(own_link, "carol knows this one", app=app)
    post_form(carol, f"/settings/members/{membership_id(app, 'cfo@acme.example', 'Globex')}/remove")

    alice = signed_in_client(app, "alice@acme.test")
    link_for_the_real_cfo = invited(alice, "cfo@acme.example", "admin")
    refused = runner.invoke(
        args=["users", "create", "cfo@acme.example", "--password", "a new passphrase!",
              "--account", "Acme"]
    )  # fmt: skip
    assert refused.exit_code != 0 and "users set-password" in refused.output
    assert role_of(app, "cfo@acme.example", "Acme") is None

    world.alice.create_lead(firstName="Secret", lastName="Deal")
    login = world.client.post(
        "/api/auth/login", json={"email": "cfo@acme.example", "password": "carol knows this one"}
    )
    assert login.status_code == 200 and login.get_json()["accounts"] == []
    as_cfo = Api(world.client, login.get_json()["token"], "cfo@acme.example", world.acme)
    assert_problem(as_cfo.get("/api/leads"), 403)
    browser = signed_in_client(app, "cfo@acme.example", "carol knows this one")
    assert browser.get("/leads").status_code == 302  # a member of no account
    # Acme's link went to the real CFO, who signs in to use it, with a password of her own
    # from the operator (`flask users set-password`, which ends every session of Carol's).
    assert runner.invoke(
        args=["users", "set-password", "cfo@acme.example", "--password", "the real cfo's own"]
    ).exit_code == 0  # fmt: skip
    assert browser.get("/login").status_code == 200 and "cfo@acme.example" not in text(
        browser.get("/login")
    )
    cfo = signed_in_client(app, "cfo@acme.example", "the real cfo's own")
    assert accept(cfo, link_for_the_real_cfo).status_code == 303
    assert role_of(app, "cfo@acme.example", "Acme") == "admin"
