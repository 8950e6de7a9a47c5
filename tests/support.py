"""Test helpers: people, accounts and tokens, and a small API client that sends a token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from werkzeug.test import TestResponse

from app.auth.accounts import add_member, get_or_create_account
from app.auth.passwords import hash_password
from app.auth.tokens import create_api_token
from app.extensions import db
from app.models import Account, AuditEvent, Lead, Membership, Role, User

PASSWORD = "correct horse battery staple"


@cache
def password_hash() -> str:
    """One Argon2 hash for every test user: hashing per user would slow the suite down."""
    return hash_password(PASSWORD)


@contextmanager
def lead_queries(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """The statements on the leads table (SQL as sent to the driver, and its parameters) run
    while the block runs."""
    seen: list[tuple[str, Any]] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM leads" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@dataclass
class Api:
    """Requests to the JSON API as one caller (bearer token, optional X-Account-Id)."""

    client: FlaskClient
    token: str
    email: str
    account_id: str | None = None  # sent as X-Account-Id when set
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {self.token}", **self.headers}
        if self.account_id is not None:
            headers["X-Account-Id"] = self.account_id
        headers.update(kwargs.pop("headers", {}))
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)

    def create_lead(self, **fields: Any) -> dict[str, Any]:
        """Create a lead (first and last name default) and return it as the API shows it."""
        body = {"firstName": "Test", "lastName": "Lead", **fields}
        response = self.post("/api/leads", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def list(self, query: str = "") -> dict[str, Any]:
        response = self.get(f"/api/leads{'?' + query if query else ''}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def ids(self, query: str = "") -> list[int]:
        return [lead["id"] for lead in self.list(query)["data"]]

    def as_account(self, account_id: str | None) -> Api:
        return Api(self.client, self.token, self.email, account_id, dict(self.headers))


@dataclass
class World:
    app: Flask
    client: FlaskClient
    acme: str  # public account ids
    globex: str
    alice: Api  # admin of Acme (primary), member of Globex; API token in Acme
    bob: Api  # member of Acme
    vera: Api  # viewer of Acme
    carol: Api  # admin of Globex
    session_tokens: dict[str, str] = field(default_factory=dict)

    def session(self, email: str, account_id: str | None = None) -> Api:
        """The API as this person with a session token from POST /api/auth/login."""
        response = self.client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.get_json()
        return Api(self.client, response.get_json()["token"], email, account_id)

    def count(self, model: type = Lead) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(model)) or 0

    def audit_count(self) -> int:
        return self.count(AuditEvent)


def add_user(app: Flask, email: str, memberships: list[tuple[str, Role]]) -> int:
    """A user with the test password in the named accounts (created if needed)."""
    with app.app_context():
        user = User(email=email, password_hash=password_hash())
        db.session.add(user)
        db.session.flush()
        for name, role in memberships:
            account, _ = get_or_create_account(name)
            add_member(user, account, role)
        db.session.commit()
        return user.id


def _membership(column: Any, email: str, account: str) -> Any:
    return (
        select(column)
        .join(User, Membership.user_id == User.id)
        .join(Account, Membership.account_id == Account.id)
        .where(User.email == email, Account.name == account)
    )


def membership_id(app: Flask, email: str, account: str = "Acme") -> int | None:
    """The id of the user's membership in the named account (None if not a member)."""
    with app.app_context():
        return db.session.scalar(_membership(Membership.id, email, account))


def role_of(app: Flask, email: str, account: str = "Acme") -> str | None:
    """The user's role in the named account (None if not a member)."""
    with app.app_context():
        return db.session.scalar(_membership(Membership.role, email, account))


def token_for(app: Flask, email: str, account_name: str, *, read_only: bool = False) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        account = db.session.scalar(select(Account).where(Account.name == account_name))
        assert user is not None and account is not None
        _, secret = create_api_token(user, account, f"{email} token", read_only=read_only)
        db.session.commit()
        return secret


def public_id(app: Flask, account_name: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Account.public_id).where(Account.name == account_name))


def build_world(app: Flask, client: FlaskClient) -> World:
    add_user(app, "alice@acme.test", [("Acme", Role.ADMIN), ("Globex", Role.MEMBER)])
    add_user(app, "bob@acme.test", [("Acme", Role.MEMBER)])
    add_user(app, "vera@acme.test", [("Acme", Role.VIEWER)])
    add_user(app, "carol@globex.test", [("Globex", Role.ADMIN)])

    def api(email: str, account: str) -> Api:
        return Api(client, token_for(app, email, account), email)

    return World(
        app=app,
        client=client,
        acme=public_id(app, "Acme"),
        globex=public_id(app, "Globex"),
        alice=api("alice@acme.test", "Acme"),
        bob=api("bob@acme.test", "Acme"),
        vera=api("vera@acme.test", "Acme"),
        carol=api("carol@globex.test", "Globex"),
    )


PROBLEM_JSON = "application/problem+json"


def assert_problem(response: TestResponse, status: int, *names: str) -> dict[str, Any]:
    """An RFC 9457 problem with this status; `names` must each be listed in its `errors`."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and isinstance(body["title"], str)
    assert isinstance(body["detail"], str) and body["detail"]
    for name in names:
        assert name in body.get("errors", {}), body
    return body
