"""The browser defences, proven in real Chromium: CSP and headers, forgery, an XSS corpus.

Every test runs on SQLite and PostgreSQL (the `app` fixture) against the app on a real port.

- A tour of every UI action sees 0 Content-Security-Policy violations (a
  `securitypolicyviolation` listener installed before any script of the page), 0 console
  errors, and the security headers on every response.
- Pages on other origins (another port: same site, other origin; `localhost`: another site)
  post forms to the app and call it with fetch() while the victim is signed in in the same
  browser: nothing changes, nothing is read, and the API never honours the session cookie.
- Leads whose text fields hold an XSS corpus are shown everywhere they appear (list, htmx
  fragments, filter menus, lead page and timeline, edit form, field checks, error pages, flash
  messages), with the CSP and without it: no dialog opens, no payload runs, `{{7*7}}` stays text.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from sqlalchemy import make_url, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.extensions import db
from app.leads import facets
from app.leads.fields import FIELDS, Kind
from app.models import Account
from tests import browser_support
from tests.browser_support import Browsing, sign_in
from tests.support import PASSWORD, World

try:
    from playwright.sync_api import Dialog, Page, Route, expect
    from playwright.sync_api import Response as PageResponse
except ImportError as error:
    browser_support.unavailable(f"Playwright is not installed ({error})")

pytestmark = pytest.mark.browser
expect.set_options(timeout=browser_support.TIMEOUT_MS)

ROWS = "#lead-results tbody tr"
TEXT_FIELDS = [f.json for f in FIELDS if f.kind is Kind.TEXT and f.writable]
TEXT_LABELS = [f.label for f in FIELDS if f.kind is Kind.TEXT and f.writable]
TABLE_TEXT = [f.json for f in FIELDS if f.in_table and f.kind is Kind.TEXT]

# Recorded on window and reported to the test as they happen, for every document of the page.
WATCH_CSP = """
(() => {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    const violation = {
      directive: event.effectiveDirective,
      blocked: event.blockedURI,
      source: event.sourceFile,
      line: event.lineNumber,
      column: event.columnNumber,
      sample: event.sample,
      page: location.href,
    };
    window.__cspViolations.push(violation);
    if (window.__reportCspViolation) window.__reportCspViolation(violation);
  }, true);
})();
"""


@dataclass
class Watch:
    """What the app's responses and the page did: CSP violations, dialogs, security headers."""

    origin: str
    violations: list[dict[str, Any]] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    header_problems: list[str] = field(default_factory=list)
    responses: int = 0
    documents: int = 0  # full pages, each of which must carry the CSP
    places: int = 0  # places checked for payloads (assert_inert)

    def attach(self, page: Page) -> Page:
        page.expose_binding("__reportCspViolation", lambda _, v: self.violations.append(v))
        page.add_init_script(WATCH_CSP)
        page.on("dialog", self._dialog)
        page.on("response", self._response)
        return page

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type} {dialog.message!r} on {dialog.page.url}")
        dialog.dismiss()

    def _response(self, response: PageResponse) -> None:
        if not response.url.startswith(self.origin + "/"):
            return
        self.responses += 1
        headers = response.headers  # names in lower case
        csp = headers.get("content-security-policy", "")
        where = f"{response.request.method} {response.url} ({response.status})"
        if response.request.resource_type == "document":
            self.documents += 1
            if "script-src 'self'" not in csp or "'unsafe-inline'" in csp:
                self.header_problems.append(f"{where}: no strict CSP: {csp!r}")
        if "frame-ancestors 'none'" not in csp:
            self.header_problems.append(f"{where}: CSP without frame-ancestors 'none': {csp!r}")
        if headers.get("x-content-type-options") != "nosniff":
            self.header_problems.append(f"{where}: X-Content-Type-Options is not nosniff")
        if headers.get("referrer-policy") != "strict-origin-when-cross-origin":
            self.header_problems.append(f"{where}: Referrer-Policy is not strict-origin-when…")

    def numbers(self) -> dict[str, int]:
        return {
            "pages": self.documents,
            "responses_checked": self.responses,
            "csp_violations": len(self.violations),
            "header_problems": len(self.header_problems),
            "dialogs": len(self.dialogs),
        }

    def assert_clean(self, page: Page) -> None:
        on_page = page.evaluate("window.__cspViolations || []")
        assert not self.violations and not on_page, f"CSP violations: {self.violations + on_page}"
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert not self.header_problems, "\n".join(self.header_problems)
        assert self.documents > 0 and self.responses >= self.documents


FIGURES: dict[str, dict[str, Any]] = {}  # database -> test -> numbers


def record(app: Flask, test: str, numbers: dict[str, Any]) -> None:
    """Keep a test's numbers in test-artifacts/ for the issue's closing note."""
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    FIGURES.setdefault(database, {})[test] = numbers
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    browser_support.ARTIFACTS.mkdir(exist_ok=True)
    path = browser_support.ARTIFACTS / f"browser-security-{worker}.json"
    path.write_text(json.dumps(FIGURES, indent=2, ensure_ascii=False) + "\n")


def watched_page(browsing: Browsing, **kwargs: Any) -> tuple[Page, Watch]:
    watch = Watch(browsing.base_url)
    return watch.attach(browsing.new_page(**kwargs)), watch


def forget_facets(app: Flask) -> None:
    """The filter menus cache values per account id, which every test's database reuses."""
    with app.app_context():
        for account in db.session.scalars(select(Account)):
            facets.forget(account)


def problems_since(browsing: Browsing, start: int) -> list[str]:
    """The console errors and failed requests logged since `start`, taken off the record."""
    found = browsing.problems[start:]
    del browsing.problems[start:]
    return found


# 1. A tour of every UI action ---------------------------------------------------------------


def seed_tour(app: Flask, world: World) -> None:
    """25 leads in Acme (3 pages), three of them at Zephyr Labs; 3 in Globex."""
    stages = ("New", "Contacted", "Qualified", "Proposal", "Won")
    for n in range(25):
        world.alice.create_lead(
            firstName=f"Tour{n:02d}",
            lastName=f"Lead{(n * 7) % 25:02d}",
            company="Zephyr Labs" if n % 8 == 3 else f"Firm {n}",
            processStage=stages[n % 5],
            source=("Website", "Referral", "Event")[n % 3],
            **({"assignedTo": "ana.lopez@example.com"} if n % 2 else {}),
        )
    for n in range(3):
        world.carol.create_lead(firstName=f"Globex{n}", lastName="Person")
    forget_facets(app)


def open_menu_and_choose(page: Page, name: str, link: str) -> None:
    menu = page.locator(f"#menu-{name}")
    menu.locator("summary").click()
    menu.get_by_role("link", name=link, exact=True).click()


def test_every_ui_action_without_csp_violations_or_console_errors(
    app: Flask, world: World, browsing: Browsing
) -> None:
    seed_tour(app, world)
    page, watch = watched_page(browsing)

    # Sign in: sent to the form with `next`, a wrong password first, then the right one.
    page.goto("/leads")
    page.wait_for_url(re.compile(r"/login\?next="))
    browsing.allow_status(400, "/login")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".field-error")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/leads")
    expect(page.locator(ROWS)).to_have_count(10)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies[app.config["SESSION_COOKIE_NAME"]]
    assert session["httpOnly"] and session["sameSite"] == "Lax", session

    # Search: "/" jumps to the box; the results change in place; clearing brings all back.
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page.locator("#search-input")).to_be_focused()
    page.keyboard.type("zephyr")
    page.wait_for_url(re.compile(r"search=zephyr"))
    expect(page.locator(ROWS)).to_have_count(3)
    page.locator("#search-input").fill("")
    expect(page.locator(ROWS)).to_have_count(10)

    # Sort both ways, add a secondary sort from a header's hover control, then reset.
    last_name = page.locator('#lead-results th[data-field="lastName"]')
    last_name.locator("a.sort-link").click()
    expect(last_name).to_have_attribute("aria-sort", "ascending")
    last_name.locator("a.sort-link").click()
    expect(last_name).to_have_attribute("aria-sort", "descending")
    company = page.locator('#lead-results th[data-field="company"]')
    company.hover()
    company.locator("a.then-sort").click()
    expect(page.locator(".sort-summary")).to_contain_text("then Company")
    page.locator(".sort-summary").get_by_role("link", name="Reset").click()
    expect(page.locator(".sort-summary")).to_have_count(0)

    # Filter menus: a stage, a source, "Mine"; a menu closes with Escape; clear them all.
    open_menu_and_choose(page, "processStage", "Qualified")
    page.wait_for_url(re.compile(r"processStage=Qualified"))
    expect(page.locator(f"{ROWS} td.col-processStage")).to_have_text(["Qualified"] * 5)
    open_menu_and_choose(page, "source", "Website")
    page.wait_for_url(re.compile(r"source=Website"))
    open_menu_and_choose(page, "assignedTo", "Mine")
    page.wait_for_url(re.compile(r"assignedTo=alice"))
    menu = page.locator("#menu-source")
    menu.locator("summary").click()
    expect(menu).to_have_js_property("open", True)
    page.keyboard.press("Escape")
    expect(menu).to_have_js_property("open", False)
    page.locator("#lead-results .filters a.clear").click()
    expect(page.locator(ROWS)).to_have_count(10)
    expect(page.locator("#lead-pager .count")).to_contain_text("of 25")

    # Archived and active; pages; page sizes; the browser's Back and Forward.
    switch = page.get_by_role("navigation", name="Active or archived")
    switch.get_by_role("link", name="Archived").click()
    expect(page.locator("#lead-results .empty")).to_contain_text("No archived leads")
    switch = page.get_by_role("navigation", name="Active or archived")
    switch.get_by_role("link", name="Active").click()
    expect(page.locator(ROWS)).to_have_count(10)
    pager = page.locator("#lead-pager")
    pager.get_by_role("link", name="Next").click()
    expect(pager.locator('a[aria-current="page"]')).to_have_text("2")
    pager.get_by_role("link", name="3", exact=True).click()
    expect(page.locator(ROWS)).to_have_count(5)
    pager.get_by_role("link", name="Previous").click()
    expect(pager.locator('a[aria-current="page"]')).to_have_text("2")
    pager.get_by_role("link", name="25", exact=True).click()
    expect(page.locator(ROWS)).to_have_count(25)
    pager.get_by_role("link", name="10", exact=True).click()
    expect(page.locator(ROWS)).to_have_count(10)
    page.go_back()
    expect(page.locator(ROWS)).to_have_count(25)
    page.go_forward()
    expect(page.locator(ROWS)).to_have_count(10)

    # A lead's page from the list; then a new lead: a field flagged when left, an error on
    # Save, then fixed.
    page.locator(ROWS).first.locator("td.col-lastName a").click()
    page.wait_for_url(re.compile(r"/leads/\d+$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New lead").click()
    page.wait_for_url("**/leads/new")
    page.get_by_label("Email", exact=True).fill("not-an-email")
    page.get_by_label("Email", exact=True).press("Tab")
    expect(page.locator("#error-email")).to_be_visible()
    browsing.allow_status(400, "/leads")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.error")).to_be_visible()
    expect(page.locator("#error-firstName")).to_be_visible()
    page.get_by_label("First name").fill("Tess")
    page.get_by_label("Last name").fill("Tourist")
    page.get_by_label("Email", exact=True).fill("tess@example.com")
    page.get_by_label("Email", exact=True).press("Tab")
    expect(page.locator("#error-email")).to_have_count(0)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/leads/\d+$"))
    lead_url = page.url
    expect(page.locator(".flash-success")).to_have_text("Added Tess Tourist.")

    # Edit: a bad phone flagged when left, then fixed; save a change.
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Phone").fill("12")
    page.get_by_label("Phone").press("Tab")
    expect(page.locator("#error-phone")).to_be_visible()
    page.get_by_label("Phone").fill("+1 555 010 9999")
    page.get_by_label("Phone").press("Tab")
    expect(page.locator("#error-phone")).to_have_count(0)
    page.get_by_label("Company").fill("Initech")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(lead_url)
    expect(page.locator(".flash-success")).to_have_text("Saved Tess Tourist.")

    # Log contact, archive, unarchive.
    page.get_by_role("button", name="Log contact").click()
    expect(page.locator(".flash-success")).to_have_text("Logged contact with Tess Tourist.")
    page.get_by_role("button", name="Archive", exact=True).click()
    expect(page.locator(".flash-success")).to_have_text("Archived Tess Tourist.")
    page.get_by_role("button", name="Unarchive").click()
    expect(page.locator(".flash-success")).to_contain_text("Restored Tess Tourist")

    # Delete: the confirmation, Cancel, then for good.
    page.get_by_role("link", name="Delete").click()
    page.wait_for_url(f"{lead_url}/delete")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(lead_url)
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete for good").click()
    page.wait_for_url("**/leads")
    expect(page.locator(".flash-success")).to_have_text("Deleted Tess Tourist.")

    # An expired CSRF token on an htmx request: a clear "reload" message, not a silent click.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New lead").click()
    page.wait_for_url("**/leads/new")
    page.evaluate(
        """() => {
          document.body.setAttribute("hx-headers", JSON.stringify({"X-CSRFToken": "old"}));
          document.querySelectorAll("input[name=csrf_token]").forEach((i) => { i.value = "old"; });
        }"""
    )
    start = len(browsing.problems)
    page.get_by_label("Email", exact=True).fill("x")
    page.get_by_label("Email", exact=True).press("Tab")
    expect(page.get_by_role("alert")).to_have_text(
        "This page has expired. Reload the page, then try again."
    )
    expected = problems_since(browsing, start)  # htmx logs the refused request
    assert expected and all("400" in p or "htmx:responseError" in p for p in expected), expected

    # An error page.
    browsing.allow_status(404, "/leads/999999999")
    page.goto("/leads/999999999")
    expect(page.locator(".error-page h1")).to_have_text("Not Found")

    # The account switcher (Alice is in Acme and Globex), there and back.
    page.goto("/leads")
    page.locator("#account-select").select_option(label="Globex")
    expect(page.locator(".flash-success")).to_have_text("Now working in Globex.")
    expect(page.locator(ROWS)).to_have_count(3)
    page.locator("#account-select").select_option(label="Acme")
    expect(page.locator(".flash-success")).to_have_text("Now working in Acme.")
    expect(page.locator(ROWS)).to_have_count(10)

    # Every other page the header links to (settings, password), where there are such links.
    nav_links = page.locator("header.site-header a").evaluate_all(
        "links => links.map((a) => a.getAttribute('href'))"
    )
    for href in nav_links:
        response = page.goto(href)
        assert response is not None and response.ok, href
        for tab in page.locator("nav.settings-tabs a").evaluate_all(
            "links => links.map((a) => a.getAttribute('href'))"
        ):
            response = page.goto(tab)
            assert response is not None and response.ok, tab

    # Sign out: back on the sign-in form, and the list asks for it again.
    page.goto("/leads")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    expect(page.locator(".flash-success")).to_have_text("You are signed out.")
    page.goto("/leads")
    page.wait_for_url(re.compile(r"/login\?next="))

    problems = browsing.problems
    record(app, "tour", watch.numbers() | {"console_errors": len(problems)})
    watch.assert_clean(page)
    browsing.assert_clean()


# 2. Forgery from other origins ---------------------------------------------------------------


def _attacker_app(request: Request) -> Response:
    """An attacker's site: /form posts a hidden form to `action` as soon as it loads."""
    if request.path == "/form":
        fields = json.loads(request.args.get("fields", "{}"))
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in fields.items()
        )
        action = html.escape(request.args["action"])
        body = (
            f'<!doctype html><title>You won!</title><form id="f" method="post" action="{action}">'
            f'{inputs}</form><script>document.getElementById("f").submit()</script>'
        )
    else:
        body = "<!doctype html><title>Cute cats</title><p>Nothing to see here.</p>"
    return Response(body, mimetype="text/html")


@pytest.fixture
def attacker() -> Iterator[int]:
    """The attacker's site on its own port (another origin); yields the port."""
    server = make_server("127.0.0.1", 0, Request.application(_attacker_app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="attacker", daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


FETCHES = """async ({app, leadId}) => {
  const results = {};
  const attempt = async (name, path, init) => {
    try {
      const response = await fetch(app + path, {credentials: "include", ...init});
      const body = await response.text();
      results[name] = {type: response.type, status: response.status, body: body.slice(0, 200)};
    } catch (error) {
      results[name] = {error: String(error)};
    }
  };
  const json = {"Content-Type": "application/json"};
  const lead = JSON.stringify({firstName: "Forged", lastName: "ByFetch"});
  await attempt("read the API's list", "/api/leads", {});
  await attempt("read a lead", `/api/leads/${leadId}`, {});
  await attempt("read the session", "/api/auth/session", {});
  await attempt("read a page and its CSRF token", "/leads", {});
  await attempt("create by JSON (preflighted)", "/api/leads", {method: "POST", headers: json,
    body: lead});
  await attempt("create as text/plain (no preflight)", "/api/leads", {method: "POST",
    mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: lead});
  await attempt("delete by the API", `/api/leads/${leadId}`, {method: "DELETE"});
  await attempt("archive by a form body", `/leads/${leadId}/archive`, {method: "POST",
    mode: "no-cors", body: new URLSearchParams({reason: "forged"})});
  return results;
}"""


@dataclass(frozen=True)
class Seen:
    """A request as the app received it, and its answer."""

    method: str
    path: str
    origin: str | None  # the Origin header: who sent it
    with_session: bool  # it carried the victim's session cookie
    status: int
    allow_origin: str | None  # Access-Control-Allow-Origin in the answer


def log_requests(app: Flask) -> list[Seen]:
    """Every request the app serves from now on, as the app saw it (WSGI middleware)."""
    seen: list[Seen] = []
    inner = app.wsgi_app

    def logged(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            allow = dict(headers).get("Access-Control-Allow-Origin")
            seen.append(
                Seen(
                    environ["REQUEST_METHOD"],
                    environ["PATH_INFO"],
                    environ.get("HTTP_ORIGIN"),
                    f"{app.config['SESSION_COOKIE_NAME']}=" in environ.get("HTTP_COOKIE", ""),
                    int(status.split()[0]),
                    allow,
                )
            )
            return start_response(status, headers, *exc_info)

        return inner(environ, start)

    app.wsgi_app = logged  # type: ignore[method-assign]
    return seen


def lead_state(world: World, lead_id: int) -> tuple[dict[str, Any], int, int]:
    """The lead as the API shows it, and the numbers of leads and audit entries."""
    response = world.alice.get(f"/api/leads/{lead_id}")
    assert response.status_code == 200, response.get_json()
    lead = response.get_json()
    return lead, world.count(), world.audit_count()


def test_pages_on_other_origins_cannot_forge_requests_or_read_anything(
    app: Flask, world: World, browsing: Browsing, attacker: int
) -> None:
    lead = world.alice.create_lead(firstName="Victoria", lastName="Victim", company="Acme")
    lead_id = lead["id"]
    before = lead_state(world, lead_id)
    app_origin = browsing.base_url
    victim = browsing.new_page()
    sign_in(victim)
    forged_posts = [
        (f"/leads/{lead_id}/archive", {}),
        (f"/leads/{lead_id}/contact", {}),
        (f"/leads/{lead_id}", {"firstName": "Forged", "lastName": "Name", "version": "1"}),
        (f"/leads/{lead_id}/delete", {}),
        ("/leads", {"firstName": "Forged", "lastName": "Lead"}),
        ("/account", {"account": world.globex}),
        ("/logout", {}),
        ("/login", {"email": "bob@acme.test", "password": PASSWORD}),  # a login CSRF
    ]
    fetched: dict[str, dict[str, Any]] = {}
    requests = log_requests(app)
    same_site, cross_site = f"http://127.0.0.1:{attacker}", f"http://localhost:{attacker}"
    for evil_origin in (same_site, cross_site):
        for action, fields in forged_posts:
            evil = victim.context.new_page()  # the same browser: the victim's cookies
            query = urlencode({"action": app_origin + action, "fields": json.dumps(fields)})
            with evil.expect_navigation(url=app_origin + action):
                evil.goto(f"{evil_origin}/form?{query}")
            expect(evil.locator("body")).to_contain_text("CSRF check failed")
            evil.close()
        evil = victim.context.new_page()
        evil.goto(f"{evil_origin}/")
        fetched[evil_origin] = evil.evaluate(FETCHES, {"app": app_origin, "leadId": lead_id})
        evil.close()

    after = lead_state(world, lead_id)
    victim.goto("/leads")
    still_signed_in = urlsplit(victim.url).path == "/leads"
    forged = [r for r in requests if r.origin in (same_site, cross_site)]
    posts = [r for r in forged if r.method == "POST" and not r.path.startswith("/api/")]
    api = [r for r in forged if r.path.startswith("/api/")]
    readable = {
        f"{origin}: {name}": result
        for origin, results in fetched.items()
        for name, result in results.items()
        if "error" not in result and result["type"] != "opaque"
    }
    record(
        app,
        "forgery",
        {
            "forged_posts_received": len(posts),
            "refused_by_csrf_check": sum(r.status == 400 for r in posts),
            "fetches": sum(len(results) for results in fetched.values()),
            "fetches_read": len(readable),
            "api_requests_with_session_cookie": sum(r.with_session for r in api),
            "api_answers": sorted({r.status for r in api}),
            "cors_grants": sum(r.allow_origin is not None for r in forged),
            "lead_changed": after != before,
            "victim_signed_out": not still_signed_in,
        },
    )
    # Every forged form (and the fetch() with a form body) reached the app and met the CSRF
    # check (400): from the same site with the victim's session cookie, from another site
    # without it (SameSite=Lax).
    for origin, cookie in ((same_site, True), (cross_site, False)):
        received = [r for r in posts if r.origin == origin]
        expected = [action for action, _ in forged_posts] + [f"/leads/{lead_id}/archive"]
        assert sorted(r.path for r in received) == sorted(expected), received
        assert {r.status for r in received} == {400}, received
        assert all(r.with_session is cookie for r in received), received
    # fetch() from the other origins read nothing (it failed, or got an opaque answer), no
    # answer let another origin read it, and the API answered 401 even to the session cookie.
    assert not readable, readable
    assert all(r.allow_origin is None for r in forged), forged
    assert api and {r.status for r in api} == {401}, api
    assert any(r.with_session for r in api if r.origin == same_site), api
    # Nothing changed, and the victim is still signed in, in the same account.
    assert after == before
    assert still_signed_in, victim.url
    expect(victim.locator(".user-email")).to_have_text("alice@acme.test")
    expect(victim.locator("#account-select")).to_have_value(world.acme)
    expect(victim.locator(ROWS)).to_have_count(1)
    browsing.assert_clean()


# 3. An XSS corpus in every field --------------------------------------------------------------

# Each payload fills every text field of one lead; `window.__xss` would be set by any that ran.
PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "' onmouseover='alert(1)",
    "{{7*7}}",
    "${7*7}",
    "{{config.SECRET_KEY}}",
    '<a href="javascript:alert(1)">x</a>',
    '<iframe srcdoc="<script>alert(1)</script>">',
    "data:text/html,<script>alert(1)</script>",
    '<img src=x onerror="window.__xss=1">',
    "</textarea><script>window.__xss=1</script>",
    "</title><svg/onload=window.__xss=1>",
    '" autofocus onfocus="window.__xss=1',
    "'\"><body onload=window.__xss=1>",
    "\u202egnp.exe.js",  # right-to-left override: shows reversed, stays text
    "Zo\u00eb \u200b\u200d\ufeff \U0001f469\u200d\U0001f4bb \u2066admin\u2069",
)
# URLs that must never become a lead's picture, and one that may, with quotes in it.
BAD_PICTURES = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:msgbox(1)",
    "//evil.example/x.png",
    "https:evil.example",
    "http://",
)
QUOTED_PICTURE = 'https://pics.example/a.png?"onerror="window.__xss=1'
# Anything that would mean a payload became markup or code.
INJECTED = """() => {
  const found = [];
  for (const element of document.querySelectorAll("*")) {
    const tag = element.tagName.toLowerCase();
    if (["iframe", "svg", "object", "embed", "frame"].includes(tag)) found.push(tag);
    if (tag === "script" && !element.src) found.push("inline script");
    if (tag === "img" && element.getAttribute("src") === "x") found.push("img src=x");
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith("on") || name === "srcdoc" || name === "autofocus") {
        found.push(`${tag}[${name}]`);
      }
      if (["href", "src", "action", "formaction"].includes(name) &&
          /^\\s*(javascript|data|vbscript):/i.test(attribute.value)) {
        found.push(`${tag}[${name}=${attribute.value}]`);
      }
    }
  }
  return found;
}"""
ROW_TEXTS = """(names) => [...document.querySelectorAll("#lead-results tbody tr")].map((row) => ({
  id: Number(row.querySelector("td.col-lastName a").getAttribute("href").split("/").pop()),
  cells: Object.fromEntries(names.map((name) =>
    [name, row.querySelector(`td.col-${name}`).textContent.trim()])),
}))"""
FIELD_TEXTS = """() => Object.fromEntries([...document.querySelectorAll(".group dl > div")].map(
  (div) => [div.querySelector("dt").textContent, div.querySelector("dd").textContent.trim()]))"""


def payload_lead(payload: str, picture: str | None = None) -> dict[str, Any]:
    fields = {name: payload for name in TEXT_FIELDS}
    fields |= {"email": "payload@example.com", "assignedTo": "ana.lopez@example.com"}
    return fields | ({"imgSrc": picture} if picture else {})


def seed_payloads(app: Flask, world: World) -> dict[int, str]:
    """One lead per payload, created with the one before it and changed to its own by a PATCH,
    so the timeline shows both as old → new; returns each lead's payload by id."""
    leads: dict[int, str] = {}
    for n, payload in enumerate(PAYLOADS):
        previous = PAYLOADS[n - 1]
        created = world.alice.create_lead(**payload_lead(previous, QUOTED_PICTURE if n else None))
        changed = world.alice.patch(f"/api/leads/{created['id']}", json=payload_lead(payload))
        assert changed.status_code == 200, changed.get_json()
        assert changed.get_json()["firstName"] == payload  # kept as sent, escaped on output
        leads[created["id"]] = payload
    forget_facets(app)
    return leads


def test_dangerous_values_are_refused_where_they_could_act(world: World) -> None:
    """Pictures only over http(s), and addresses only as addresses: refused with 400."""
    for picture in BAD_PICTURES:
        response = world.alice.post(
            "/api/leads", json={"firstName": "A", "lastName": "B", "imgSrc": picture}
        )
        assert response.status_code == 400, (picture, response.get_json())
        assert "imgSrc" in response.get_json()["errors"], picture
    for payload in PAYLOADS:
        for name in ("email", "assignedTo", "phone", "imgSrc", "lastContacted"):
            body = {"firstName": "A", "lastName": "B", name: payload}
            response = world.alice.post("/api/leads", json=body)
            assert response.status_code == 400, (name, payload, response.get_json())
    assert world.count() == 0


def assert_inert(page: Page, watch: Watch, where: str) -> None:
    """No payload ran or became markup here, and no dialog opened."""
    watch.places += 1
    assert page.evaluate("typeof window.__xss") == "undefined", f"a payload ran on {where}"
    assert page.evaluate(INJECTED) == [], f"markup from a payload on {where}"
    assert "test-secret-key" not in page.content(), f"a template was evaluated on {where}"
    assert not watch.dialogs, f"dialogs on {where}: {watch.dialogs}"


HOVER_ALL = """() => {
  for (const element of document.querySelectorAll("body *")) {
    for (const type of ["pointerover", "mouseover", "mouseenter", "mousemove", "focus"]) {
      element.dispatchEvent(new MouseEvent(type, {bubbles: type !== "mouseenter"}));
    }
  }
}"""


def hover_around(page: Page, *, mouse: bool = False) -> None:
    """Hover every element (dispatched events run any inline handler a payload might have
    added); with `mouse`, also move the real mouse across the page in a few passes."""
    page.evaluate(HOVER_ALL)
    if not mouse:
        return
    size = page.viewport_size or {"width": 1280, "height": 900}
    for y in range(20, size["height"], 120):
        page.mouse.move(1, y)
        page.mouse.move(size["width"] - 1, y, steps=2)


@contextmanager
def htmx_swap(page: Page) -> Iterator[None]:
    """Wait for the htmx swap that the block starts to settle (faster than polling the DOM)."""
    page.evaluate(
        """() => { window.__settled = new Promise((resolve) => document.addEventListener(
             "htmx:afterSettle", () => resolve(true), {once: true})); }"""
    )
    yield
    timeout = browser_support.TIMEOUT_MS
    settled = page.evaluate(
        f"() => Promise.race([window.__settled, new Promise((r) => setTimeout(r, {timeout}))])"
    )
    assert settled, "no htmx swap"


def pictures(route: Route) -> None:
    """Lead pictures come from other hosts: answer here, with bytes that are not an image (a
    payload that became an `onerror` attribute would fire)."""
    route.fulfill(status=200, content_type="image/png", body=b"not a picture")


def xss_page(browsing: Browsing, *, csp: bool) -> tuple[Page, Watch]:
    if csp:
        page, watch = watched_page(browsing)
    else:  # defence in depth: escaping alone, with the CSP switched off in the browser
        context = browsing.browser.new_context(base_url=browsing.base_url, bypass_csp=True)
        context.set_default_timeout(browser_support.TIMEOUT_MS)
        browsing.contexts.append(context)
        watch = Watch(browsing.base_url)
        page = watch.attach(context.new_page())
        page.on("console", lambda message: browsing._console(page, message))
        page.on("pageerror", lambda e: browsing.problems.append(f"page error: {e}"))
    page.route("https://pics.example/**", pictures)
    sign_in(page)
    return page, watch


@pytest.mark.parametrize("csp", [True, False], ids=["with-csp", "csp-bypassed"])
def test_xss_corpus_never_runs(app: Flask, world: World, browsing: Browsing, csp: bool) -> None:
    leads = seed_payloads(app, world)
    page, watch = xss_page(browsing, csp=csp)
    # Without the CSP a payload that escaped would run, so that pass goes everywhere; with the
    # CSP (which would block it and report a violation) a sample of each place is enough.
    step = 3 if csp else 1

    # The list: every payload shown as the very text it is.
    page.goto("/leads?pageSize=50")
    rows = page.evaluate(ROW_TEXTS, TABLE_TEXT)
    assert {row["id"] for row in rows} == set(leads)
    for row in rows:
        assert set(row["cells"].values()) == {leads[row["id"]]}, row
    # Template syntax stays text: "{{7*7}}" and "${7*7}" never become 49.
    assert "49" not in {cell for row in rows for cell in row["cells"].values()}
    hover_around(page, mouse=True)
    page.locator(f"{ROWS} td.col-company").first.click()
    assert_inert(page, watch, "the list")

    # Filter menus list the payloads; choosing one fills the results by htmx.
    for name, payload in (("processStage", PAYLOADS[5]), ("source", PAYLOADS[1])):
        menu = page.locator(f"#menu-{name}")
        menu.locator("summary").click()
        menu.locator("a").last.hover()
        with htmx_swap(page):
            menu.get_by_role("link", name=payload, exact=True).click()
        expect(page.locator(f"#menu-{name} summary strong")).to_have_text(payload)
        expect(page.locator(ROWS)).to_have_count(1)
        assert_inert(page, watch, f"the {name} menu")
        with htmx_swap(page):
            page.locator("#lead-results .filters a.clear").click()
        expect(page.locator(ROWS)).to_have_count(len(leads))

    # Searching for a payload: the htmx fragment echoes a search that finds nothing, and shows
    # the lead a search finds.
    search = page.locator("#search-input")
    for n, payload in enumerate(PAYLOADS[::step]):
        with htmx_swap(page):
            search.fill(payload + " nowhere")
        expect(page.locator("#lead-results .empty")).to_contain_text(f"“{payload} nowhere”")
        if n % 3 == 0:
            with htmx_swap(page):
                search.fill(payload)
            expect(page.locator(f"{ROWS} td.col-firstName")).to_contain_text([payload])
        assert_inert(page, watch, f"the search for {payload!r}")

    # Bad list settings are echoed on the error page as text.
    browsing.allow_status(400, "/leads")
    page.goto("/leads?" + urlencode({"sort": PAYLOADS[1], "pageSize": PAYLOADS[13]}))
    expect(page.locator(".notice.error")).to_contain_text(PAYLOADS[1])
    assert_inert(page, watch, "the list's error page")

    # Each lead's page: the title, every field, the timeline's old → new values.
    for n, (lead_id, payload) in enumerate(list(leads.items())[::step]):
        page.goto(f"/leads/{lead_id}")
        assert page.title().startswith(f"{payload} {payload} ·")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"{payload} {payload}")
        texts = page.evaluate(FIELD_TEXTS)
        assert {texts[label] for label in TEXT_LABELS} == {payload}, texts
        previous = PAYLOADS[PAYLOADS.index(payload) - 1]
        timeline = page.locator(".timeline").text_content() or ""
        assert f"from {previous} to {payload}" in timeline, timeline
        hover_around(page, mouse=n == 0)
        page.locator(".timeline").click()
        assert_inert(page, watch, f"the page of the {payload!r} lead")

    # Each edit form shows the payloads as values; field checks and a failed save echo them.
    for n, (lead_id, payload) in enumerate(list(leads.items())[::step]):
        page.goto(f"/leads/{lead_id}/edit")
        expect(page.get_by_label("Company")).to_have_value(payload)
        expect(page.get_by_label("Notes")).to_have_value(payload)
        if n % 3 == 0:
            page.get_by_label("Email", exact=True).fill(payload)
            with htmx_swap(page):
                page.get_by_label("Email", exact=True).press("Tab")
            expect(page.locator("#error-email")).to_be_visible()
            expect(page.get_by_label("Email", exact=True)).to_have_value(payload)
        assert_inert(page, watch, f"the edit form of the {payload!r} lead")
    browsing.allow_status(400, f"/leads/{lead_id}")
    page.get_by_label("Email", exact=True).fill(payload)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.error")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_have_value(payload)
    expect(page.get_by_label("First name")).to_have_value(payload)
    assert_inert(page, watch, "the form with its errors")

    # Flash messages after saving, archiving, adding and deleting, with payload names.
    first_id, first = next(iter(leads.items()))
    page.goto(f"/leads/{first_id}/edit")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_have_text(f"Saved {first} {first}.")
    page.get_by_role("button", name="Archive", exact=True).click()
    expect(page.locator(".flash-success")).to_have_text(f"Archived {first} {first}.")
    assert_inert(page, watch, "the flash messages")
    page.goto("/leads/new")
    page.get_by_label("First name").fill(PAYLOADS[12])
    page.get_by_label("Last name").fill(PAYLOADS[14])
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_have_text(f"Added {PAYLOADS[12]} {PAYLOADS[14]}.")
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Delete {PAYLOADS[12]} {PAYLOADS[14]}?"
    )
    page.get_by_role("button", name="Delete for good").click()
    expect(page.locator(".flash-success")).to_have_text(f"Deleted {PAYLOADS[12]} {PAYLOADS[14]}.")
    hover_around(page, mouse=True)
    assert_inert(page, watch, "the list after deleting")

    problems = browsing.problems
    numbers = watch.numbers() | {"payloads": len(PAYLOADS), "places_checked": watch.places}
    # Any of these would have failed an assert_inert above: none ran, none became markup.
    numbers |= {"executions": 0, "injected_elements": 0, "console_errors": len(problems)}
    record(app, f"xss-{'with-csp' if csp else 'csp-bypassed'}", numbers)
    watch.assert_clean(page)
    browsing.assert_clean()
