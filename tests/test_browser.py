"""End to end in real Chromium: sign in, search, sort, page, filter, and a lead's whole life.

Every test runs on SQLite and PostgreSQL (the `app` fixture) against the app served on a real
port, and fails if any page logs a console error, throws, or loses a request.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import make_url, select

from app.extensions import db
from app.leads import facets
from app.models import Account
from tests import browser_support
from tests.browser_support import Browsing, screenshot, sign_in
from tests.support import World

try:
    from playwright.sync_api import Locator, Page, Route, expect
except ImportError as error:
    browser_support.unavailable(f"Playwright is not installed ({error})")

pytestmark = pytest.mark.browser
expect.set_options(timeout=browser_support.TIMEOUT_MS)

FIRST_NAMES = (
    "Ada Ben Cleo Dev Eli Fay Gus Hana Ivo Jun Kai Lea Max Nia Oto Pia Quin Rae Sol Tia Uma "
    "Vik Wen Xia Yan"
)
LAST_NAMES = (
    "Abbott Baker Chen Dalton Evans Fischer Garcia Hughes Ibarra Jensen Kowalski Lopez Moreau "
    "Nakamura Olsen Patel Quigley Rossi Schmidt Tanaka Ueda Vasquez Walsh Xu Young"
)
STAGES = ("New", "Contacted", "Qualified", "Proposal", "Won")
SEARCH_COMPANY = "Zephyr Labs"  # three of the leads work there
ROWS = "#lead-results tbody tr"
CLIPPED_CELLS = """() => [...document.querySelectorAll("#lead-results tbody td")]
    .filter((td) => td.scrollWidth > td.clientWidth + 1)
    .map((td) => `${td.dataset.label}: ${td.textContent.trim()}`)"""


def seed_leads(app: Flask, world: World) -> list[dict[str, Any]]:
    """25 leads in Acme (3 pages of 10), created out of alphabetical order, 5 per stage."""
    firsts, lasts = FIRST_NAMES.split(), LAST_NAMES.split()
    leads = []
    for n in range(25):
        i = (n * 7) % 25  # creation order differs from name order, so sorting shows
        leads.append(
            world.alice.create_lead(
                firstName=firsts[i],
                lastName=lasts[i],
                email=f"{firsts[i].lower()}.{lasts[i].lower()}@example.com",
                company=SEARCH_COMPANY if i % 8 == 3 else f"{lasts[i]} GmbH",
                processStage=STAGES[i % len(STAGES)],
                source=("Website", "Referral", "Event")[i % 3],
                **({"assignedTo": "ana.lopez@example.com"} if i % 2 else {}),
            )
        )
    # The filter menus cache values per account id, and every test's database reuses id 1.
    with app.app_context():
        facets.forget(db.session.scalar(select(Account).where(Account.name == "Acme")))
    return leads


def showing(first: int, last: int, total: int) -> str:
    """The pager's count line, "Showing 1 to 10 of 25" with an en dash."""
    return f"Showing {first}\N{EN DASH}{last} of {total}"


def database_name(app: Flask) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()


def last_names(leads: list[dict[str, Any]], *, reverse: bool = False) -> list[str]:
    return sorted((lead["lastName"] for lead in leads), key=str.lower, reverse=reverse)


def shown_last_names(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(f"{ROWS} td.col-lastName").all_inner_texts()]


def expect_last_names(page: Page, names: list[str]) -> None:
    expect(page.locator(f"{ROWS} td.col-lastName")).to_have_text(names)


def expect_no_reload(page: Page) -> None:
    """The marker set on window before the interaction is still there: no page load happened."""
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def slowly(route: Route) -> None:
    """Hold a request back a moment, so the next one starts while it is in flight."""
    time.sleep(0.3)
    route.continue_()


def field_value(page: Page, label: str) -> Locator:
    """The <dd> of a field on the lead page."""
    return (
        page.locator(".group dl > div")
        .filter(has=page.locator("dt", has_text=re.compile(f"^{re.escape(label)}$")))
        .locator("dd")
    )


def test_list_search_sort_page_and_filter_without_page_loads(
    app: Flask, world: World, browsing: Browsing
) -> None:
    leads = seed_leads(app, world)
    page = browsing.new_page()
    restores: list[str] = []
    page.on(
        "request",
        lambda r: (
            restores.append(r.url)
            if r.headers.get("hx-history-restore-request") == "true"
            else None
        ),
    )

    sign_in(page)
    newest_first = [lead["lastName"] for lead in reversed(leads)]
    expect_last_names(page, newest_first[:10])
    expect(page.locator("#lead-pager .count")).to_have_text(showing(1, 10, 25))
    screenshot(page, f"list-{database_name(app)}")
    page.evaluate("window.__marker = 1")

    # Search: the table changes in place and the URL records the search.
    page.get_by_label("Search").fill("zephyr")
    page.wait_for_url(re.compile(r"/leads\?(.*&)?search=zephyr"))
    zephyr = [lead["lastName"] for lead in reversed(leads) if lead["company"] == SEARCH_COMPANY]
    assert len(zephyr) == 3
    expect_last_names(page, zephyr)
    expect(page.locator("#lead-pager .count")).to_have_text(showing(1, 3, 3))  # counted later
    expect_no_reload(page)

    page.get_by_label("Search").fill("")
    expect_last_names(page, newest_first[:10])
    expect_no_reload(page)

    # Sort by a column, both ways.
    header = page.locator('#lead-results th[data-field="lastName"]')
    header.locator("a.sort-link").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect_last_names(page, last_names(leads)[:10])
    assert "sort=lastName" in page.url
    header.locator("a.sort-link").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    descending = last_names(leads, reverse=True)
    expect_last_names(page, descending[:10])
    assert "sort=-lastName" in page.url
    expect_no_reload(page)
    sorted_url = page.url

    # Next page, then the browser's Back button: htmx asks the server for the earlier page.
    page.locator("#lead-pager").get_by_role("link", name="Next").click()
    page.wait_for_url(re.compile(r"page=2"))
    expect_last_names(page, descending[10:20])
    expect(page.locator('#lead-pager a[aria-current="page"]')).to_have_text("2")
    page.go_back()
    page.wait_for_url(sorted_url)
    expect_last_names(page, descending[:10])
    expect(page.locator('#lead-pager a[aria-current="page"]')).to_have_text("1")
    expect(page.locator('th[data-field="lastName"]')).to_have_attribute("aria-sort", "descending")
    assert restores == [sorted_url]
    expect_no_reload(page)

    # Filter by process stage from its menu of links.
    menu = page.locator("#menu-processStage")
    menu.locator("summary").click()
    menu.get_by_role("link", name="Qualified", exact=True).click()
    page.wait_for_url(re.compile(r"processStage=Qualified"))
    qualified = [lead for lead in leads if lead["processStage"] == "Qualified"]
    expect_last_names(page, last_names(qualified, reverse=True))
    expect(page.locator(f"{ROWS} td.col-processStage")).to_have_text(["Qualified"] * 5)
    expect(page.locator("#menu-processStage summary")).to_have_text("Process stage: Qualified")
    expect(page.locator("#lead-pager .count")).to_have_text(showing(1, 5, 5))
    assert "sort=-lastName" in page.url
    expect_no_reload(page)

    browsing.assert_clean()


def test_phone_width_list(app: Flask, world: World, browsing: Browsing) -> None:
    seed_leads(app, world)
    page = browsing.new_page(width=390, height=844)
    sign_in(page)
    expect(page.locator(ROWS)).to_have_count(10)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the list is {width}px wide on a 390px phone"
    clipped = page.evaluate(CLIPPED_CELLS)
    assert clipped == [], f"cut off on a phone, where the cards show every value: {clipped}"
    screenshot(page, f"list-phone-{database_name(app)}")
    browsing.assert_clean()


def test_lead_life_from_new_to_deleted(app: Flask, world: World, browsing: Browsing) -> None:
    seed_leads(app, world)
    page = browsing.new_page()
    sign_in(page)

    # New lead: a bad email is flagged as soon as the field is left, even while the check of
    # the field before it is still on its way; Save shows every error.
    page.locator("main").get_by_role("link", name="New lead").click()
    page.wait_for_url("**/leads/new")
    page.route("**/leads/fields/lastName", slowly)
    page.get_by_label("Last name").fill("Testerson")
    page.get_by_label("Email", exact=True).fill("not-an-email")
    page.get_by_label("Email", exact=True).press("Tab")
    email_error = page.locator("#error-email")
    expect(email_error).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Last name")).not_to_have_attribute("aria-invalid", "true")
    page.unroute("**/leads/fields/lastName")
    browsing.allow_status(400, "/leads")  # the invalid form comes back with its errors as 400
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_have_text("Please correct the fields marked below.")
    expect(page.locator("#row-firstName .field-error")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_attribute("aria-invalid", "true")
    expect(email_error).to_be_visible()
    expect(page.get_by_label("Last name")).to_have_value("Testerson")

    page.get_by_label("First name").fill("Quinby")
    page.get_by_label("Email", exact=True).fill("quinby@example.com")
    page.get_by_label("Email", exact=True).press("Tab")
    expect(email_error).to_have_count(0)
    expect(page.locator("#row-firstName .field-error")).to_have_count(0)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/leads/\d+$"))
    lead_url = page.url
    lead_id = int(lead_url.rsplit("/", 1)[1])
    expect(page.locator(".flash-success")).to_have_text("Added Quinby Testerson.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Quinby Testerson")
    expect(field_value(page, "Email")).to_have_text("quinby@example.com")
    expect(page.locator(".timeline > li")).to_have_count(1)
    expect(page.locator(".timeline > li").first).to_contain_text("created this lead")

    # Edit: the change shows, and the timeline says what changed.
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Company").fill("Initech")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(lead_url)
    expect(page.locator(".flash-success")).to_have_text("Saved Quinby Testerson.")
    expect(field_value(page, "Company")).to_have_text("Initech")
    expect(page.locator(".timeline > li")).to_have_count(2)
    expect(page.locator(".timeline > li").first).to_contain_text("set Company to Initech")
    screenshot(page, f"detail-{database_name(app)}")

    # Log contact: Last contacted is filled, and the timeline has it.
    expect(field_value(page, "Last contacted")).to_have_text("—")
    page.get_by_role("button", name="Log contact").click()
    expect(page.locator(".flash-success")).to_have_text("Logged contact with Quinby Testerson.")
    expect(field_value(page, "Last contacted")).to_contain_text("(just now)")
    expect(page.locator(".timeline > li")).to_have_count(3)
    expect(page.locator(".timeline > li").first).to_contain_text("set Last contacted to")

    # Archive: gone from the active list, found under the Archived switch, and restored.
    page.get_by_role("button", name="Archive", exact=True).click()
    expect(page.locator(".flash-success")).to_have_text("Archived Quinby Testerson.")
    expect(page.locator(".subtitle .badge", has_text="Archived")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
    page.wait_for_url("**/leads")
    expect(page.locator(ROWS)).to_have_count(10)
    expect(page.locator(ROWS, has_text="Testerson")).to_have_count(0)
    page.get_by_role("navigation", name="Active or archived").get_by_role(
        "link", name="Archived"
    ).click()
    page.wait_for_url(re.compile(r"archived=true"))
    expect_last_names(page, ["Testerson"])
    page.locator(ROWS).get_by_role("link", name="Testerson").click()
    page.wait_for_url(lead_url)
    page.get_by_role("button", name="Unarchive").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Restored Quinby Testerson from the archive."
    )
    expect(page.get_by_role("button", name="Archive", exact=True)).to_be_visible()
    expect(page.locator(".timeline > li").first).to_contain_text("restored this lead")

    # Delete: a confirmation page, then back on the list without the lead.
    page.get_by_role("link", name="Delete").click()
    page.wait_for_url(f"{lead_url}/delete")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete Quinby Testerson?")
    page.get_by_role("button", name="Delete for good").click()
    page.wait_for_url("**/leads")
    expect(page.locator(".flash-success")).to_have_text("Deleted Quinby Testerson.")
    expect(page.locator(ROWS)).to_have_count(10)
    expect(page.locator(ROWS, has_text="Testerson")).to_have_count(0)
    assert world.alice.get(f"/api/leads/{lead_id}").status_code == 404

    browsing.assert_clean()


def test_list_works_without_javascript(app: Flask, world: World, browsing: Browsing) -> None:
    leads = seed_leads(app, world)
    page = browsing.new_page(javascript=False)
    sign_in(page)
    expect(page.locator(ROWS)).to_have_count(10)
    # Without app.js the account switcher shows its own submit button.
    expect(page.get_by_role("button", name="Switch")).to_be_visible()

    with page.expect_navigation():
        page.locator('th[data-field="lastName"] a.sort-link').click()
    assert "sort=lastName" in page.url
    expect(page.locator('th[data-field="lastName"]')).to_have_attribute("aria-sort", "ascending")
    ascending = last_names(leads)
    assert shown_last_names(page) == ascending[:10]

    # The search form keeps the sort in hidden fields.
    page.get_by_label("Search").fill("zephyr")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert re.search(r"search=zephyr", page.url) and "sort=lastName" in page.url
    zephyr = [lead for lead in leads if lead["company"] == SEARCH_COMPANY]
    assert shown_last_names(page) == last_names(zephyr)
    expect(page.locator("#lead-pager .count")).to_have_text(showing(1, 3, 3))

    page.get_by_label("Search").fill("")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert shown_last_names(page) == ascending[:10]
    with page.expect_navigation():
        page.locator("#lead-pager").get_by_role("link", name="Next").click()
    assert "page=2" in page.url and "sort=lastName" in page.url
    assert shown_last_names(page) == ascending[10:20]
    expect(page.locator("#lead-pager .count")).to_have_text(showing(11, 20, 25))

    # The filter menus are <details>: they open without a script too.
    page.locator("#menu-processStage summary").click()
    with page.expect_navigation():
        page.locator("#menu-processStage").get_by_role("link", name="Won", exact=True).click()
    assert "processStage=Won" in page.url and "page=" not in page.url
    won = [lead for lead in leads if lead["processStage"] == "Won"]
    assert shown_last_names(page) == last_names(won)

    browsing.assert_clean()
