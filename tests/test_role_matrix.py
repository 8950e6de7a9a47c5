"""Every route, for every role, with its own, another account's and a missing object.

MATRIX lists, for every route (method and rule), the roles that may use it and a request that
succeeds for them. A route missing from MATRIX fails `test_every_route_is_in_the_matrix`, so a
new route cannot ship without saying who may use it.

Expected answers: an allowed role gets 2xx/3xx for its own object, and 404 for another
account's object and for a missing one (the two are indistinguishable); a signed-in role that is
not allowed gets 403 whatever the object; nobody signed in gets 401 from the API and a redirect
to the sign-in page elsewhere. A read-only API token is not a browser session: pages treat it
as anonymous.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app import create_app
from app.auth.tokens import create_api_token
from app.extensions import db
from app.models import Account, ApiToken, Invitation, Lead, Membership, Role, User
from app.sqltypes import utcnow
from tests.conftest import test_config as config_for
from tests.support import PASSWORD, World, add_user, token_for
from tests.web_support import csrf_token, text

ANONYMOUS, VIEWER, MEMBER, ADMIN, READ_TOKEN = (
    "anonymous",
    "viewer",
    "member",
    "admin",
    "read-only token",
)
ROLES = (ANONYMOUS, VIEWER, MEMBER, ADMIN, READ_TOKEN)
EVERYONE = frozenset(ROLES)
SIGNED_IN = frozenset({VIEWER, MEMBER, ADMIN})
READERS = SIGNED_IN | {READ_TOKEN}  # on the API: every token and session may read
WRITERS = frozenset({MEMBER, ADMIN})
ADMINS = frozenset({ADMIN})
EMAILS = {VIEWER: "vera@acme.test", MEMBER: "bob@acme.test", ADMIN: "alice@acme.test"}
MISSING_ID = 999_999
LEAD = {"firstName": "Matrix", "lastName": "Lead"}


@dataclass(frozen=True)
class Access:
    """Who may use a route, and a request that succeeds for them."""

    allowed: frozenset[str]
    body: dict[str, str] = field(default_factory=dict)  # form fields, or JSON under /api
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # the answer to an allowed role, when not 2xx/3xx


MATRIX: dict[str, Access] = {
    # Open to everyone
    "GET /": Access(EVERYONE),
    "GET /static/<path:filename>": Access(EVERYONE),
    "GET /healthz": Access(EVERYONE),
    "GET /login": Access(EVERYONE),
    "POST /login": Access(EVERYONE, {"email": "bob@acme.test", "password": PASSWORD}),
    "GET /setup": Access(EVERYONE, status=404),  # gone once a user exists
    "POST /setup": Access(EVERYONE, status=404),
    "POST /api/auth/login": Access(EVERYONE, {"email": "bob@acme.test", "password": PASSWORD}),
    "GET /api/openapi.json": Access(EVERYONE),
    # An invitation link's page: without a valid token, the clear "not valid" page, for all
    # (tests/test_invitations.py accepts real ones)
    "GET /invitation": Access(EVERYONE, status=404),
    "POST /invitation": Access(EVERYONE, {"token": "not-a-real-token"}, status=404),
    # Every signed-in user
    "POST /logout": Access(SIGNED_IN),
    "POST /account": Access(SIGNED_IN, {"account": "{acme}"}),
    "GET /password": Access(SIGNED_IN),
    "POST /password": Access(
        SIGNED_IN,
        {"current": PASSWORD, "password": "matrix passphrase", "confirm": "matrix passphrase"},
    ),
    "GET /leads": Access(SIGNED_IN),
    "GET /leads/count": Access(SIGNED_IN),
    "GET /leads/<id:lead_id>": Access(SIGNED_IN),
    # Members and admins
    "GET /leads/new": Access(WRITERS),
    "POST /leads": Access(WRITERS, LEAD),
    "GET /leads/<id:lead_id>/edit": Access(WRITERS),
    "POST /leads/<id:lead_id>": Access(WRITERS, {**LEAD, "version": "1"}),
    "POST /leads/<id:lead_id>/archive": Access(WRITERS),
    "POST /leads/<id:lead_id>/unarchive": Access(WRITERS),
    "POST /leads/<id:lead_id>/contact": Access(WRITERS),
    "POST /leads/fields/<name>": Access(WRITERS, {"email": "x"}, {"HX-Request": "true"}),
    # Admins
    "GET /leads/<id:lead_id>/delete": Access(ADMINS),
    "POST /leads/<id:lead_id>/delete": Access(ADMINS),
    "GET /settings/members": Access(ADMINS),
    "POST /settings/invitations": Access(ADMINS, {"email": "new@acme.example", "role": "viewer"}),
    "POST /settings/invitations/<id:invitation_id>/resend": Access(ADMINS),
    "POST /settings/invitations/<id:invitation_id>/revoke": Access(ADMINS),
    "POST /settings/members/<id:membership_id>/role": Access(ADMINS, {"role": "member"}),
    "POST /settings/members/<id:membership_id>/remove": Access(ADMINS),
    "GET /settings/tokens": Access(ADMINS),
    "POST /settings/tokens": Access(ADMINS, {"name": "matrix"}),
    "POST /settings/tokens/<id:token_id>/revoke": Access(ADMINS),
    # The API
    "GET /api/auth/session": Access(READERS),
    "GET /api/leads": Access(READERS),
    "GET /api/leads/<lead_id>": Access(READERS),
    "POST /api/leads": Access(WRITERS, LEAD),
    "PATCH /api/leads/<lead_id>": Access(WRITERS, {"notes": "matrix"}),
    "POST /api/leads/<lead_id>/archive": Access(WRITERS),
    "DELETE /api/leads/<lead_id>/archive": Access(WRITERS),
    "DELETE /api/leads/<lead_id>": Access(ADMINS),
}
# Path arguments that are not objects of an account.
FIXED_ARGUMENTS = {"filename": "css/app.css", "name": "email"}
OBJECT_ARGUMENTS = ("lead_id", "membership_id", "token_id", "invitation_id")
VARIANTS = ("own", "foreign", "missing")


def routes(app: Flask) -> dict[str, list[str]]:
    """Every route of the app, "METHOD rule", with the names of its path arguments."""
    return {
        f"{method} {rule.rule}": sorted(rule.arguments)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    }


def cases(arguments: list[str]) -> list[tuple[str, str]]:
    """(role, object variant) pairs for a route: three variants when it takes an object id."""
    variants = VARIANTS if any(a in OBJECT_ARGUMENTS for a in arguments) else ("none",)
    return [(role, variant) for role in ROLES for variant in variants]


def test_every_route_is_in_the_matrix():
    found = routes(create_app(config_for("sqlite://")))
    missing = sorted(set(found) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(found))
    assert not missing, f"routes missing from MATRIX (say who may use them): {missing}"
    assert not stale, f"MATRIX lists routes that no longer exist: {stale}"


# Running one route for every role ------------------------------------------------------------


@dataclass
class Objects:
    """Another account's objects (never to be touched) and makers of fresh own ones."""

    app: Flask
    world: World
    foreign: dict[str, int]
    made: int = 0

    def own(self, argument: str) -> int:
        """A fresh object of Acme, the account every role acts in."""
        self.made += 1
        if argument == "lead_id":
            return self.world.alice.create_lead(**LEAD)["id"]
        email = f"own{self.made}@acme.example"
        if argument == "invitation_id":
            return invitation_in(self.app, "Acme", email)
        user_id = add_user(self.app, email, [("Acme", Role.VIEWER)])
        with self.app.app_context():
            if argument == "membership_id":
                return db.session.scalar(select(Membership.id).where(Membership.user_id == user_id))
            acme = db.session.scalar(select(Account).where(Account.name == "Acme"))
            assert acme is not None
            token, _ = create_api_token(db.session.get(User, user_id), acme, f"own {self.made}")
            db.session.commit()
            return token.id

    def id_for(self, argument: str, variant: str) -> int:
        if variant == "own":
            return self.own(argument)
        return self.foreign[argument] if variant == "foreign" else MISSING_ID


def invitation_in(app: Flask, account_name: str, email: str) -> int:
    """A pending invitation of the account, sent by its first admin."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.name == account_name))
        admin = db.session.scalar(
            select(Membership.user_id).where(
                Membership.account_id == account.id, Membership.role == Role.ADMIN
            )
        )
        now = utcnow()
        invitation = Invitation(
            account_id=account.id,
            email=email,
            role=Role.VIEWER,
            token_hash=secrets.token_hex(32),
            invited_by_id=admin,
            expires_at=now + timedelta(days=7),
        )
        db.session.add(invitation)
        db.session.commit()
        return invitation.id


def _foreign_objects(app: Flask, world: World) -> dict[str, int]:
    lead = world.carol.create_lead(firstName="Foreign", lastName="Lead")["id"]
    with app.app_context():
        carol = select(User.id).where(User.email == "carol@globex.test").scalar_subquery()
        membership = db.session.scalar(select(Membership.id).where(Membership.user_id == carol))
        token = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == carol))
    invitation = invitation_in(app, "Globex", "guest@globex.example")
    return {
        "lead_id": lead,
        "membership_id": membership,
        "token_id": token,
        "invitation_id": invitation,
    }


@pytest.fixture
def objects(app: Flask, world: World) -> Objects:
    return Objects(app, world, _foreign_objects(app, world))


@dataclass
class Caller:
    """One role: a browser (signed in, or not) and the API token or none it sends."""

    client: FlaskClient
    token: str | None

    def send(self, method: str, path: str, access: Access, values: dict[str, str]) -> TestResponse:
        body = {key: value.format(**values) for key, value in access.body.items()}
        headers = dict(access.headers)
        if path.startswith("/api/"):
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            return self.client.open(path, method=method, json=body or None, headers=headers)
        if self.token:  # a token sent to a page: it is not a browser session
            headers["Authorization"] = f"Bearer {self.token}"
        if method != "GET":
            body["csrf_token"] = csrf_token(text(self.client.get("/login")))
        return self.client.open(path, method=method, data=body, headers=headers)


def browser_of(app: Flask, email: str) -> FlaskClient:
    """A browser with the session that signing in gives (without spending a password hash)."""
    client = app.test_client()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None
        uid, version = user.id, user.session_version
    now = int(time.time())
    with client.session_transaction() as session:
        session.update(uid=uid, sv=version, started=now, seen=now)
    return client


def callers(app: Flask, world: World, api: bool) -> dict[str, Caller]:
    read_only = token_for(app, "alice@acme.test", "Acme", read_only=True)
    tokens = {VIEWER: world.vera.token, MEMBER: world.bob.token, ADMIN: world.alice.token}
    found = {
        ANONYMOUS: Caller(app.test_client(), None),
        READ_TOKEN: Caller(app.test_client(), read_only),
    }
    for role, email in EMAILS.items():
        # The API is called with the role's API token; pages with a signed-in browser.
        found[role] = (
            Caller(app.test_client(), tokens[role]) if api else Caller(browser_of(app, email), None)
        )
    return found


def expected(key: str, role: str, variant: str) -> str:
    """What the role must get: "ok", "403", "404", "401" or "login"."""
    if role in MATRIX[key].allowed:
        return "404" if variant in ("foreign", "missing") else "ok"
    api = key.split(" ", 1)[1].startswith("/api/")
    if role == ANONYMOUS or (role == READ_TOKEN and not api):
        return "401" if api else "login"
    return "403"


def outcome(response: TestResponse, access: Access) -> str:
    """What the role got, in the terms of `expected`."""
    status = response.status_code
    if access.status is not None:
        return "ok" if status == access.status else str(status)
    # Sent to sign in first (and back here after); a sign-out goes to plain /login.
    if status in (302, 303) and response.headers["Location"].startswith("/login?next="):
        return "login"
    return "ok" if 200 <= status < 400 else str(status)


def path_for(rule: str, arguments: list[str], objects: Objects, variant: str) -> str:
    path = rule
    for argument in arguments:
        value = (
            objects.id_for(argument, variant)
            if argument in OBJECT_ARGUMENTS
            else FIXED_ARGUMENTS[argument]
        )
        path = path.replace(f"<{argument}>", str(value))
        for converter in ("id", "path"):
            path = path.replace(f"<{converter}:{argument}>", str(value))
    return path


def snapshot(app: Flask, foreign: dict[str, int]) -> tuple[Any, ...]:
    """Another account's objects as they must stay: nothing in Acme may change them."""
    with app.app_context():
        lead = db.session.get(Lead, foreign["lead_id"])
        membership = db.session.get(Membership, foreign["membership_id"])
        token = db.session.get(ApiToken, foreign["token_id"])
        invitation = db.session.get(Invitation, foreign["invitation_id"])
        return (
            (lead.version, lead.archived, lead.notes) if lead else None,
            membership.role if membership else None,
            token.revoked_at if token else "gone",
            (invitation.token_hash, invitation.revoked_at) if invitation else "gone",
        )


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_route_answers_every_role_as_the_matrix_says(app, world, objects, key):
    method, rule = key.split(" ", 1)
    arguments = routes(app)[key]
    access = MATRIX[key]
    before = snapshot(app, objects.foreign)
    by_role = callers(app, world, api=rule.startswith("/api/"))
    failures = []
    for role, variant in cases(arguments):
        path = path_for(rule, arguments, objects, variant)
        response = by_role[role].send(method, path, access, {"acme": world.acme})
        want, got = expected(key, role, variant), outcome(response, access)
        if want != got:
            failures.append(f"{role}, {variant}: {method} {path}: expected {want}, got {got}")
    assert snapshot(app, objects.foreign) == before, "another account's object changed"
    assert not failures, "\n".join(failures)
