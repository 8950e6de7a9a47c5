"""The invitation flow in real Chromium: an admin invites, sends again and revokes in Settings,
someone new joins from the link with a password of their own (without JavaScript), and an
existing user signs in from the link and joins. No page logs an error or loses a request."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from app.models import Role
from tests import browser_support
from tests.browser_support import Browsing, screenshot, sign_in
from tests.support import PASSWORD, World, add_user

try:
    from playwright.sync_api import Page, expect
except ImportError as error:
    browser_support.unavailable(f"Playwright is not installed ({error})")

pytestmark = pytest.mark.browser
expect.set_options(timeout=browser_support.TIMEOUT_MS)

CHOSEN = "a passphrase only dana knows"


def invite(admin: Page, email: str, role: str) -> str:
    """Invite from Settings, Members; the link the page shows once."""
    admin.goto("/settings/members")
    form = admin.get_by_role("region", name="Invite someone")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Role").select_option(label=role)
    form.get_by_role("button", name="Create invitation link").click()
    notice = admin.locator("#invitation-link")
    expect(notice).to_contain_text(f"The invitation link for {email}")
    return notice.locator("code.secret").inner_text()


def test_invite_join_as_someone_new_and_as_an_existing_user(
    app: Flask, world: World, browsing: Browsing
) -> None:
    add_user(app, "erin@globex.example", [("Globex", Role.MEMBER)])
    admin = browsing.new_page()
    sign_in(admin, "alice@acme.test")

    # Invite, lose the link, send again: the old link stops working. Revoke another.
    first = invite(admin, "dana@acme.example", "Viewer")
    invitations = admin.get_by_role("region", name="Invitations")
    invitations.get_by_role("button", name="Send again to dana@acme.example").click()
    link = admin.locator("#invitation-link code.secret").inner_text()
    assert link != first and re.fullmatch(r"http://127\.0\.0\.1:\d+/invitation\?token=\S{43}", link)
    invite(admin, "typo@acme.example", "Member")
    screenshot(admin, "members-invitations")
    admin.get_by_role("button", name="Revoke the invitation for typo@acme.example").click()
    expect(admin.locator(".flash-success")).to_contain_text("Revoked the invitation for typo@")
    expect(invitations.locator("tbody tr")).to_have_count(1)

    # Someone new opens the link in a browser without JavaScript and chooses a password.
    newcomer = browsing.new_page(javascript=False)
    browsing.allow_status(410, "/invitation")
    newcomer.goto(first)
    expect(newcomer.locator("h1")).to_have_text("This invitation was withdrawn")
    newcomer.goto(link)
    expect(newcomer.locator("h1")).to_have_text("Join Acme")
    expect(newcomer.locator(".invitation")).to_contain_text("alice@acme.test invites")
    newcomer.get_by_label("Choose a password").fill(CHOSEN)
    newcomer.get_by_label("Repeat the password").fill(CHOSEN)
    screenshot(newcomer, "invitation-new-user")
    newcomer.get_by_role("button", name="Join Acme").click()
    newcomer.wait_for_url("**/leads")
    expect(newcomer.locator(".flash-success")).to_have_text(
        "Welcome to Acme: you are a viewer here."
    )
    expect(newcomer.locator(".user-email")).to_have_text("dana@acme.example")
    newcomer.goto(link)
    expect(newcomer.locator("h1")).to_have_text("This invitation has been used")

    # An existing user signs in from the link, then joins.
    erin_link = invite(admin, "erin@globex.example", "Member")
    erin = browsing.new_page()
    erin.goto(erin_link)
    erin.get_by_role("link", name="Sign in to join").click()
    erin.get_by_label("Email").fill("erin@globex.example")
    erin.get_by_label("Password").fill(PASSWORD)
    erin.get_by_role("button", name="Sign in").click()
    expect(erin.locator("h1")).to_have_text("Join Acme")
    erin.get_by_role("button", name="Join Acme").click()
    erin.wait_for_url("**/leads")
    expect(erin.locator("#account-select")).to_have_value(world.acme)

    # The admin sees both as members, and no pending invitation.
    admin.goto("/settings/members")
    members = admin.get_by_role("region", name="Members")
    expect(members).to_contain_text("dana@acme.example")
    expect(members).to_contain_text("erin@globex.example")
    expect(admin.get_by_role("region", name="Invitations")).to_contain_text(
        "No pending invitations."
    )
    browsing.assert_clean()
