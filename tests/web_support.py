"""Helpers for the browser UI tests: a signed-in test client, CSRF tokens, reading pages."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support import PASSWORD

# What htmx sends when it fills the lead list's results region.
FRAGMENT = {"HX-Request": "true", "HX-Target": "lead-results"}
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(1)">'

_TOKEN_INPUT = re.compile(r'<input\b[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')
_TOKEN_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
_LEAD_LINK = re.compile(r'href="/leads/(\d+)"')
_FIELD_ERROR = re.compile(r'<p class="field-error" id="error-(\w+)">(.*?)</p>', re.S)


def csrf_token(page: str) -> str:
    """The CSRF token of a page: a form's hidden input, else the `hx-headers` on <body>."""
    found = _TOKEN_INPUT.search(page) or _TOKEN_HEADER.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def signed_in_client(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    """A browser of its own, signed in through the sign-in form."""
    client = app.test_client()
    token = csrf_token(text(client.get("/login")))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, text(response)
    return client


def post_form(
    client: FlaskClient, url: str, data: dict[str, str] | None = None, *, page: str = "/leads"
) -> TestResponse:
    """POST a form as the browser does, with the CSRF token of `page` (a page of the session)."""
    token = csrf_token(text(client.get(page)))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def ids_in(page: str) -> list[int]:
    """The lead ids a page links to, in order of first appearance."""
    return list(dict.fromkeys(int(found) for found in _LEAD_LINK.findall(page)))


def field_errors(page: str) -> dict[str, str]:
    """The error shown next to each form field, by the field's JSON name."""
    return {name: html.unescape(message) for name, message in _FIELD_ERROR.findall(page)}


class _FormReader(HTMLParser):
    """The values a browser would submit from the lead form (`form.lead-form`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self.in_form = False
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.in_form = "lead-form" in a.get("class", "")
        elif not self.in_form or "name" not in a:
            if tag == "option" and self.select is not None and "selected" in a:
                self.values[self.select] = a.get("value", "")
        elif tag == "input":
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self.select = a["name"]
            self.values[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.values[self.textarea] += data


def form_values(page: str) -> dict[str, str]:
    """The lead form's fields as the browser submits them unchanged (CSRF token included)."""
    reader = _FormReader()
    reader.feed(page)
    values = reader.values
    # A browser drops the newline right after <textarea>; Jinja/WTForms write one there.
    return {k: v.removeprefix("\r\n").removeprefix("\n") for k, v in values.items()}


def assert_site_page(page: str) -> None:
    """A whole page in the site's look: the document, and the header with the app name."""
    assert page.lstrip().startswith("<!doctype html>")
    assert '<a class="brand" href="/">Pulse Leads</a>' in page


def api_errors(response: TestResponse) -> dict[str, str]:
    """The API's error messages by field, joined as the form joins them."""
    body: dict[str, Any] = response.get_json()
    return {name: " ".join(messages) for name, messages in body["errors"].items()}
