"""Admin settings, API tokens: create (shown once), list, revoke; revocation holds on the next
request in every worker, because each request checks the token in the database."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import ApiToken
from tests.conftest import test_config as config_for
from tests.support import Api, assert_problem
from tests.web_support import assert_site_page, post_form, signed_in_client, text

TOKENS = "/settings/tokens"
SECRET = re.compile(r'<code class="secret">([^<]+)</code>')


@pytest.fixture
def alice(app, world):
    """Alice's browser: admin of Acme."""
    return signed_in_client(app, "alice@acme.test")


def create(client, name: str, *, read_only: bool = False):
    data = {"name": name, **({"read_only": "y"} if read_only else {})}
    return post_form(client, TOKENS, data, page=TOKENS)


def created_secret(response) -> str:
    found = SECRET.findall(text(response))
    assert len(found) == 1, text(response)
    return html.unescape(found[0])


def token_id(app: Flask, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(ApiToken.id).where(ApiToken.name == name))
        assert found is not None
        return found


def rows(page: str) -> list[list[str]]:
    """The tokens table's cells (text only), one list per token."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


# Creating and listing ----------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works_in_the_api(app, world, alice):
    response = create(alice, "Zapier <sync>")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    assert_site_page(page)
    assert "Your new API token “Zapier &lt;sync&gt;”:" in page
    assert "Copy it now: it is shown only this once." in page
    secret = created_secret(response)
    assert secret.startswith("pl_") and len(secret) >= 43
    api = Api(world.client, secret, "alice@acme.test")
    assert api.create_lead(firstName="Via", lastName="Token")["createdBy"] == "alice@acme.test"
    later = text(alice.get(TOKENS))
    assert secret not in later and 'class="secret"' not in later
    with app.app_context():
        stored = db.session.scalar(select(ApiToken).where(ApiToken.name == "Zapier <sync>"))
        assert stored is not None and secret not in (stored.token_hash, stored.hint)


def test_the_list_shows_name_owner_scope_hint_created_and_last_used(app, world, alice):
    secret = created_secret(create(alice, "etl", read_only=True))
    table = rows(text(alice.get(TOKENS)))
    etl = next(row for row in table if row[0] == "etl")
    assert etl[1:4] == ["alice@acme.test", "Read-only", f"{secret[:7]}…{secret[-4:]}"]
    assert re.fullmatch(r"\d{1,2} \w{3} \d{4}", etl[4])
    assert etl[5] == "Never"
    Api(world.client, secret, "alice@acme.test").list()
    etl = next(row for row in rows(text(alice.get(TOKENS))) if row[0] == "etl")
    assert etl[5] == "just now"
    names = [row[0] for row in table]
    assert "bob@acme.test token" in names  # every live token of the account, whoever owns it
    assert "carol@globex.test token" not in names


def test_a_read_only_token_reads_but_never_writes(app, world, alice):
    lead = world.alice.create_lead()
    api = Api(world.client, created_secret(create(alice, "reader", read_only=True)), "alice")
    assert api.get(f"/api/leads/{lead['id']}").status_code == 200
    assert_problem(api.post("/api/leads", json={"firstName": "A", "lastName": "B"}), 403)
    assert_problem(api.patch(f"/api/leads/{lead['id']}", json={"company": "X"}), 403)
    assert_problem(api.delete(f"/api/leads/{lead['id']}"), 403)
    assert world.count() == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "This field is required."), ("   ", "This field is required."), ("x" * 101, "100")],
)
def test_creating_refuses_a_missing_or_long_name(app, world, alice, name, message):
    before = len(rows(text(alice.get(TOKENS))))
    response = create(alice, name)
    assert response.status_code == 400
    assert 'id="error-name"' in text(response) and message in text(response)
    assert 'class="secret"' not in text(response)
    assert len(rows(text(alice.get(TOKENS)))) == before


# Revoking ----------------------------------------------------------------------------------


def test_revoking_refuses_the_token_from_its_next_request(app, world, alice):
    assert world.bob.get("/api/leads").status_code == 200
    response = post_form(alice, f"/settings/tokens/{token_id(app, 'bob@acme.test token')}/revoke")
    assert response.status_code == 303
    assert response.headers["Location"] == TOKENS
    page = text(alice.get(TOKENS))
    assert "Revoked the API token bob@acme.test token." in page
    assert "bob@acme.test token" not in [row[0] for row in rows(page)]
    assert_problem(world.bob.get("/api/leads"), 401)
    assert world.alice.get("/api/leads").status_code == 200


@pytest.fixture
def second_worker(app: Flask, database_url: str) -> Iterator[Flask]:
    """Another app on the same database: its own engine, pool and sessions, like a second
    gunicorn worker."""
    other = create_app(config_for(database_url))
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_revocation_holds_at_once_in_every_worker(app, world, alice, second_worker):
    there = Api(second_worker.test_client(), world.bob.token, "bob@acme.test")
    for _ in range(3):  # warm: the token, its user and membership have been read over there
        assert there.get("/api/leads").status_code == 200
    post_form(alice, f"/settings/tokens/{token_id(app, 'bob@acme.test token')}/revoke")
    assert_problem(there.get("/api/leads"), 401)
    assert_problem(there.post("/api/leads", json={"firstName": "A", "lastName": "B"}), 401)
    assert world.count() == 0


def test_a_revoked_token_cannot_be_revoked_again_or_from_another_account(app, world, alice):
    bob_token = token_id(app, "bob@acme.test token")
    assert post_form(alice, f"/settings/tokens/{bob_token}/revoke").status_code == 303
    response = post_form(alice, f"/settings/tokens/{bob_token}/revoke")
    assert response.status_code == 404
    assert "No such API token." in text(response)
    carol_token = token_id(app, "carol@globex.test token")
    assert post_form(alice, f"/settings/tokens/{carol_token}/revoke").status_code == 404
    assert world.carol.get("/api/leads").status_code == 200


@pytest.mark.parametrize("email", ["bob@acme.test", "vera@acme.test"])
def test_members_and_viewers_are_refused_every_token_setting(app, world, email):
    browser = signed_in_client(app, email)
    assert browser.get(TOKENS).status_code == 403
    target = token_id(app, "alice@acme.test token")
    for url, data in [
        (TOKENS, {"name": "mine"}),
        (TOKENS, {}),
        (f"/settings/tokens/{target}/revoke", {}),
    ]:
        response = post_form(browser, url, data)
        assert response.status_code == 403, url
        assert 'class="secret"' not in text(response)
    assert world.alice.get("/api/leads").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(ApiToken).where(ApiToken.name == "mine")) is None
