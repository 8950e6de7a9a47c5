"""Admin settings, members: list, change a role, remove (people join by invitation:
tests/test_invitations.py); the last admin stays; removal ends the member's access to that
account only."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Account, Membership, Role, User
from tests.support import (
    Api,
    World,
    add_user,
    assert_problem,
    membership_id,
    role_of,
    token_for,
)
from tests.web_support import assert_site_page, post_form, signed_in_client, text

MEMBERS = "/settings/members"


@pytest.fixture
def alice(app, world):
    """Alice's browser: admin of Acme."""
    return signed_in_client(app, "alice@acme.test")


def members_on(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>([^<\s]+)", page)


# Listing -----------------------------------------------------------------------------------


def test_members_page_lists_email_role_and_since_of_every_member_of_the_account(alice, world):
    response = alice.get(MEMBERS)
    assert response.status_code == 200
    page = text(response)
    assert_site_page(page)
    assert members_on(page) == ["alice@acme.test", "bob@acme.test", "vera@acme.test"]
    assert "carol@globex.test" not in page  # another account's member
    bob = membership_id(world.app, "bob@acme.test")
    assert '<option value="member" selected>Member</option>' in page
    assert f'action="/settings/members/{bob}/role"' in page
    assert f'action="/settings/members/{bob}/remove"' in page
    assert re.search(r"<td>\d{1,2} \w{3} \d{4}</td>", page)  # member since
    assert response.headers["Cache-Control"] == "no-store"


def test_header_links_to_settings_for_admins_only(app, world, alice):
    assert '<a href="/settings/members">Settings</a>' in text(alice.get("/leads"))
    for email in ("bob@acme.test", "vera@acme.test"):
        page = text(signed_in_client(app, email).get("/leads"))
        assert "/settings/" not in page, email
        assert 'href="/password">Password</a>' in page  # every signed-in user


# Changing roles ----------------------------------------------------------------------------


def test_changing_a_role_takes_effect_at_once(app, world, alice):
    bob = signed_in_client(app, "bob@acme.test")
    lead = world.alice.create_lead()
    assert post_form(bob, f"/leads/{lead['id']}/archive").status_code == 303
    response = post_form(
        alice, f"/settings/members/{membership_id(app, 'bob@acme.test')}/role", {"role": "viewer"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == MEMBERS
    assert "bob@acme.test is now viewer." in text(alice.get(MEMBERS))
    assert role_of(app, "bob@acme.test") == "viewer"
    assert post_form(bob, f"/leads/{lead['id']}/unarchive").status_code == 403
    assert_problem(world.bob.delete(f"/api/leads/{lead['id']}/archive"), 403)


def test_a_role_change_refuses_an_unknown_role(app, world, alice):
    url = f"/settings/members/{membership_id(app, 'bob@acme.test')}/role"
    response = post_form(alice, url, {"role": "owner"})
    assert response.status_code == 400
    assert "Choose one of the roles: admin, member, viewer." in text(response)
    assert role_of(app, "bob@acme.test") == "member"


def test_an_admin_may_make_another_admin_then_step_down(app, world, alice):
    url = f"/settings/members/{membership_id(app, 'bob@acme.test')}/role"
    assert post_form(alice, url, {"role": "admin"}).status_code == 303
    mine = f"/settings/members/{membership_id(app, 'alice@acme.test')}/role"
    response = post_form(alice, mine, {"role": "member"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/leads"  # the settings are no longer hers
    assert alice.get(MEMBERS).status_code == 403
    assert role_of(app, "bob@acme.test") == "admin"


def test_the_last_admin_cannot_be_demoted(app, world, alice):
    url = f"/settings/members/{membership_id(app, 'alice@acme.test')}/role"
    response = post_form(alice, url, {"role": "member"}, page=MEMBERS)
    assert response.status_code == 409
    page = text(response)
    assert_site_page(page)
    assert "alice@acme.test is the last admin of Acme and cannot be demoted" in page
    assert "make another member an admin first." in page
    assert role_of(app, "alice@acme.test") == "admin"


def test_the_last_admin_cannot_be_removed(app, world, alice):
    url = f"/settings/members/{membership_id(app, 'alice@acme.test')}/remove"
    response = post_form(alice, url, page=MEMBERS)
    assert response.status_code == 409
    assert "alice@acme.test is the last admin of Acme and cannot be removed" in text(response)
    assert role_of(app, "alice@acme.test") == "admin"
    assert alice.get(MEMBERS).status_code == 200


# Removing ----------------------------------------------------------------------------------


def test_removing_a_member_ends_their_access_to_the_account(app, world, alice):
    bob_browser = signed_in_client(app, "bob@acme.test")
    bob_session = world.session("bob@acme.test")
    assert bob_browser.get("/leads").status_code == 200
    assert bob_session.get("/api/leads").status_code == 200
    assert world.bob.get("/api/leads").status_code == 200  # his API token

    response = post_form(alice, f"/settings/members/{membership_id(app, 'bob@acme.test')}/remove")
    assert response.status_code == 303
    page = text(alice.get(MEMBERS))
    assert "Removed bob@acme.test from Acme; their access to it has ended." in page
    assert "bob@acme.test" not in members_on(page)

    assert bob_browser.get("/leads").headers["Location"].startswith("/login")
    assert_problem(bob_session.get("/api/leads"), 403)  # a member of no account now
    assert_problem(world.bob.get("/api/leads"), 401)  # revoked
    assert world.alice.get("/api/leads").status_code == 200  # nobody else is touched


def test_removal_from_one_account_leaves_the_users_other_accounts_alone(app, world):
    """An admin of B could add anyone by email and remove them again, and so sign them out
    everywhere at will: removal from B must end B's access only."""
    alice_browser = signed_in_client(app, "alice@acme.test")
    in_globex = signed_in_client(app, "alice@acme.test")
    post_form(in_globex, "/account", {"account": world.globex})
    acme_session, globex_session = world.session("alice@acme.test"), None
    globex_session = world.session("alice@acme.test", world.globex)
    globex_token = Api(world.client, token_for(app, "alice@acme.test", "Globex"), "alice")
    assert globex_token.get("/api/leads").status_code == 200
    carol = signed_in_client(app, "carol@globex.test")

    removed = post_form(
        carol, f"/settings/members/{membership_id(app, 'alice@acme.test', 'Globex')}/remove"
    )
    assert removed.status_code == 303

    assert alice_browser.get("/leads").status_code == 200  # signed in, in Acme
    assert '<span class="account-name">Acme</span>' in text(in_globex.get("/leads"))
    assert acme_session.get("/api/leads").status_code == 200
    assert world.alice.get("/api/leads").status_code == 200  # her API token in Acme
    assert_problem(globex_session.get("/api/leads"), 403)
    assert_problem(globex_token.get("/api/leads"), 401)


def test_a_removed_members_api_token_stays_dead_when_they_are_added_again(app, world, alice):
    add_user(app, "erin@acme.example", [("Acme", Role.MEMBER)])
    erin = Api(world.client, token_for(app, "erin@acme.example", "Acme"), "erin@acme.example")
    assert erin.get("/api/leads").status_code == 200
    post_form(alice, f"/settings/members/{membership_id(app, 'erin@acme.example')}/remove")
    assert_problem(erin.get("/api/leads"), 401)
    invitation = post_form(
        alice, "/settings/invitations", {"email": "erin@acme.example", "role": "member"}
    )
    link = html.unescape(
        re.search(r"http://localhost(/invitation\?token=[^<]+)", text(invitation))[1]
    )
    erin_browser = signed_in_client(app, "erin@acme.example")
    token = link.split("token=")[1]
    assert post_form(erin_browser, "/invitation", {"token": token}, page=link).status_code == 303
    assert_problem(erin.get("/api/leads"), 401)
    assert erin_browser.get("/leads").status_code == 200


def test_a_member_removed_from_their_primary_account_keeps_working_in_another(app, world):
    carol = signed_in_client(app, "carol@globex.test")
    globex_alice = membership_id(app, "alice@acme.test", "Globex")
    assert (
        post_form(carol, f"/settings/members/{globex_alice}/role", {"role": "admin"}).status_code
        == 303
    )
    acme_bob = membership_id(app, "bob@acme.test")
    alice = signed_in_client(app, "alice@acme.test")
    assert (
        post_form(alice, f"/settings/members/{acme_bob}/role", {"role": "admin"}).status_code == 303
    )
    bob = signed_in_client(app, "bob@acme.test")
    response = post_form(bob, f"/settings/members/{membership_id(app, 'alice@acme.test')}/remove")
    assert response.status_code == 303
    with app.app_context():
        primary = db.session.scalar(
            select(Account.name)
            .join(Membership)
            .join(User)
            .where(User.email == "alice@acme.test", Membership.is_primary)
        )
    assert primary == "Globex"
    alice = signed_in_client(app, "alice@acme.test")
    assert '<span class="account-name">Globex</span>' in text(alice.get("/leads"))


def test_an_admin_who_leaves_an_account_carries_on_in_their_other_one(app, world, alice):
    url = f"/settings/members/{membership_id(app, 'bob@acme.test')}/role"
    post_form(alice, url, {"role": "admin"})
    response = post_form(alice, f"/settings/members/{membership_id(app, 'alice@acme.test')}/remove")
    assert response.status_code == 303
    assert response.headers["Location"] == "/leads"  # Acme's settings are no longer hers
    page = text(alice.get("/leads"))
    assert "You left Acme." in page
    assert '<span class="account-name">Globex</span>' in page
    assert membership_id(app, "alice@acme.test") is None


# Who may ----------------------------------------------------------------------------------


def test_another_accounts_member_is_not_found(app, world, alice):
    carol = membership_id(app, "carol@globex.test", "Globex")
    for action, data in (("role", {"role": "viewer"}), ("remove", {})):
        response = post_form(alice, f"/settings/members/{carol}/{action}", data)
        assert response.status_code == 404
        assert "No such member." in text(response)
    assert role_of(app, "carol@globex.test", "Globex") == "admin"


@pytest.mark.parametrize("email", ["bob@acme.test", "vera@acme.test"])
def test_members_and_viewers_are_refused_every_member_setting(app, world: World, email):
    browser = signed_in_client(app, email)
    assert browser.get(MEMBERS).status_code == 403
    target = membership_id(app, "alice@acme.test")
    for url, data in [
        ("/settings/invitations", {"email": "dana@acme.example", "role": "admin"}),
        ("/settings/invitations", {}),  # an invalid form is refused too, not shown again
        (f"/settings/members/{target}/role", {"role": "viewer"}),
        (f"/settings/members/{target}/remove", {}),
    ]:
        response = post_form(browser, url, data)
        assert response.status_code == 403, url
        assert "Not allowed for the" in text(response)
    assert role_of(app, "alice@acme.test") == "admin"
    assert membership_id(app, "dana@acme.example") is None
