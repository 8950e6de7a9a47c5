"""The operator commands: `flask users create`, `users set-password`, `tokens create`, `demo`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, ApiToken, Membership, User
from tests.support import Api, assert_problem

PASSWORD = "a long and unusual passphrase"


def memberships(app, email: str) -> list[tuple[str, str, bool]]:
    """(account name, role, primary) of each of the user's memberships, oldest first."""
    with app.app_context():
        rows = db.session.execute(
            select(Account.name, Membership.role, Membership.is_primary)
            .join(Membership.account)
            .join(User, Membership.user_id == User.id)
            .where(User.email == email)
            .order_by(Membership.id)
        )
        return [tuple(row) for row in rows]


def count(app, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def public_id(app, name: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Account.public_id).where(Account.name == name))


def create_user(runner, email: str, account: str, *extra: str, password: str = PASSWORD):
    args = ["users", "create", email, "--password", password, "--account", account, *extra]
    return runner.invoke(args=args)


def create_token(runner, email: str, *extra: str):
    return runner.invoke(args=["tokens", "create", email, "--name", "CI job", *extra])


def login(client, email: str, password: str) -> dict[str, Any]:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# users create -------------------------------------------------------------------------------


def test_users_create_makes_user_account_and_primary_admin_membership(app, runner, client):
    result = create_user(runner, "Dana@Example.com", "Initech")
    assert result.exit_code == 0, result.output
    assert memberships(app, "dana@example.com") == [("Initech", "admin", True)]
    assert public_id(app, "Initech") in result.output
    body = login(client, "dana@example.com", PASSWORD)
    assert body["primaryAccount"]["accountName"] == "Initech"


def test_users_create_again_adds_a_second_membership_that_is_not_primary(app, runner, client):
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    result = create_user(runner, "dana@example.com", "Hooli")
    assert result.exit_code == 0, result.output
    assert memberships(app, "dana@example.com") == [
        ("Initech", "admin", True),
        ("Hooli", "admin", False),
    ]
    assert count(app, User) == 1
    body = login(client, "dana@example.com", PASSWORD)
    assert [a["accountName"] for a in body["accounts"]] == ["Initech", "Hooli"]


def test_users_create_in_an_existing_account_makes_a_member_unless_a_role_is_given(app, runner):
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    assert create_user(runner, "erin@example.com", "Initech").exit_code == 0
    assert create_user(runner, "finn@example.com", "Initech", "--role", "viewer").exit_code == 0
    assert memberships(app, "erin@example.com") == [("Initech", "member", True)]
    assert memberships(app, "finn@example.com") == [("Initech", "viewer", True)]
    assert count(app, Account) == 1


def stored(app, email: str) -> tuple[str, int, bool]:
    """The user's password hash, session version and whether the password is temporary."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return user.password_hash, user.session_version, user.must_change_password


def test_users_create_never_changes_or_ignores_an_existing_users_password(app, runner, client):
    """It ignored --password for an existing user, and said nothing: the operator believed a
    password was set that was not."""
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    before = stored(app, "dana@example.com")
    refused = create_user(runner, "dana@example.com", "Hooli", password="another passphrase")
    assert refused.exit_code == 2
    assert "dana@example.com exists already" in refused.output
    assert "never changes a password" in refused.output
    assert "flask --app wsgi users set-password dana@example.com" in refused.output
    assert stored(app, "dana@example.com") == before
    assert memberships(app, "dana@example.com") == [("Initech", "admin", True)]
    temporary = create_user(runner, "dana@example.com", "Hooli", "--temporary")
    assert temporary.exit_code == 2 and stored(app, "dana@example.com") == before


def test_users_create_adds_an_existing_user_with_their_password_or_none(app, runner):
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    assert create_user(runner, "dana@example.com", "Hooli").exit_code == 0  # the same one
    no_password = ["users", "create", "dana@example.com", "--account", "Globex"]
    assert runner.invoke(args=no_password).exit_code == 0
    assert [name for name, _, _ in memberships(app, "dana@example.com")] == [
        "Initech",
        "Hooli",
        "Globex",
    ]


def test_users_create_needs_a_password_for_a_new_user(app, runner):
    result = runner.invoke(args=["users", "create", "dana@example.com", "--account", "Initech"])
    assert result.exit_code == 2 and "--password is needed" in result.output
    assert count(app, User) == 0


def test_users_create_temporary_makes_the_user_choose_their_own(app, runner):
    assert create_user(runner, "dana@example.com", "Initech", "--temporary").exit_code == 0
    assert stored(app, "dana@example.com")[2] is True
    assert create_user(runner, "erin@example.com", "Initech").exit_code == 0
    assert stored(app, "erin@example.com")[2] is False  # the operator's own, by default


def test_users_set_password_sets_it_and_ends_every_session(app, runner, client):
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    token = login(client, "dana@example.com", PASSWORD)["token"]
    _, version, _ = stored(app, "dana@example.com")
    result = runner.invoke(
        args=["users", "set-password", "dana@example.com", "--password", "a fresh passphrase"]
    )
    assert result.exit_code == 0, result.output
    assert "Set a new password for dana@example.com; their sessions have ended." in result.output
    assert stored(app, "dana@example.com")[1:] == (version + 1, False)
    assert_problem(Api(client, token, "dana@example.com").get("/api/leads"), 401)
    login(client, "dana@example.com", "a fresh passphrase")


def test_users_set_password_asks_for_it_twice_and_may_make_it_temporary(app, runner):
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    typed = "typed passphrase\ntyped passphrase\n"
    result = runner.invoke(
        args=["users", "set-password", "dana@example.com", "--temporary"], input=typed
    )
    assert result.exit_code == 0, result.output
    assert "typed passphrase" not in result.output  # hidden input
    assert "They must choose their own at their next sign-in." in result.output
    assert stored(app, "dana@example.com")[2] is True


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("nobody@example.com", "a fine passphrase", "No user nobody@example.com."),
        ("dana@example.com", "short", "Must be at least 10 characters."),
    ],
)
def test_users_set_password_refuses_unknown_users_and_weak_passwords(
    app, runner, email, password, message
):
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    before = stored(app, "dana@example.com")
    result = runner.invoke(args=["users", "set-password", email, "--password", password])
    assert result.exit_code == 2 and message in result.output
    assert stored(app, "dana@example.com") == before


@pytest.mark.parametrize(
    ("email", "password", "extra"),
    [
        ("dana@example.com", "short", ()),
        ("dana@example.com", "", ()),
        ("dana@example.com", "123456789", ()),
        ("dana@example.com", "1234567890", ()),  # long enough, but a common password
        ("dana@example.com", "x" * 1001, ()),
        ("not-an-email", PASSWORD, ()),
        ("dana@example.com", PASSWORD, ("--role", "owner")),
    ],
)
def test_users_create_refuses_weak_passwords_and_bad_input(app, runner, email, password, extra):
    result = create_user(runner, email, "Initech", *extra, password=password)
    assert result.exit_code != 0
    assert count(app, User) == 0
    assert count(app, Membership) == 0


# tokens create ------------------------------------------------------------------------------


def test_tokens_create_prints_a_working_token_alone_on_the_last_line(app, runner, client):
    assert create_user(runner, "dana@example.com", "Initech").exit_code == 0
    result = create_token(runner, "dana@example.com")
    assert result.exit_code == 0, result.output
    token = result.stdout.splitlines()[-1]
    assert token == token.strip() and " " not in token and len(token) > 30
    api = Api(client, token, "dana@example.com")
    assert api.list() == {"data": [], "totalCount": 0, "totalPages": 0, "currentPage": 1}
    session = api.get("/api/auth/session").get_json()
    assert session["primaryAccount"]["accountName"] == "Initech"
    assert api.create_lead()["createdBy"] == "dana@example.com"
    with app.app_context():  # only a hash is stored
        assert db.session.scalar(select(func.count()).where(ApiToken.token_hash == token)) == 0


def test_tokens_create_for_another_account_of_the_user(app, runner, client):
    create_user(runner, "dana@example.com", "Initech")
    create_user(runner, "dana@example.com", "Hooli")
    hooli = public_id(app, "Hooli")
    result = create_token(runner, "dana@example.com", "--account", hooli)
    assert result.exit_code == 0, result.output
    api = Api(client, result.stdout.splitlines()[-1], "dana@example.com")
    assert api.get("/api/auth/session").get_json()["accounts"] == [
        {"accountId": hooli, "accountName": "Hooli"}
    ]
    assert api.create_lead()["accountId"] == hooli


def test_tokens_create_read_only_token_cannot_write(runner, client):
    create_user(runner, "dana@example.com", "Initech")
    result = create_token(runner, "dana@example.com", "--read-only")
    assert result.exit_code == 0, result.output
    api = Api(client, result.stdout.splitlines()[-1], "dana@example.com")
    assert api.list()["totalCount"] == 0
    assert_problem(api.post("/api/leads", json={"firstName": "A", "lastName": "B"}), 403)


@pytest.mark.parametrize(
    ("email", "account"),
    [
        ("dana@example.com", "1"),
        ("dana@example.com", "other"),
        ("dana@example.com", "Hooli"),  # a name, not an id
        ("nobody@example.com", None),
    ],
)
def test_tokens_create_refuses_unknown_user_or_account(app, runner, email, account):
    create_user(runner, "dana@example.com", "Initech")
    create_user(runner, "erin@example.com", "Other")
    if account == "other":
        account = public_id(app, "Other")  # exists, but Dana is not a member
    result = create_token(runner, email, *(("--account", account) if account else ()))
    assert result.exit_code != 0
    assert count(app, ApiToken) == 0


# demo ---------------------------------------------------------------------------------------


def demo(app, runner, *args: str):
    # `demo` is a plain click command without @with_appcontext: only FlaskGroup (the real
    # `flask` CLI) pushes a context for it, the test runner does not, so push one here.
    with app.app_context():
        return runner.invoke(args=["demo", *args])


def all_leads(api: Api, archived: bool) -> tuple[list[dict[str, Any]], int]:
    leads, page, total = [], 1, 0
    while True:
        body = api.list(f"archived={str(archived).lower()}&pageSize=100&page={page}")
        leads += body["data"]
        total = body["totalCount"]
        if page >= body["totalPages"]:
            return leads, total
        page += 1


def test_demo_adds_varied_leads_with_exact_counts_and_a_sign_in(app, runner, client):
    result = demo(app, runner, "--leads", "200", "--account", "Demo Co", "--seed", "1")
    assert result.exit_code == 0, result.output
    match = re.search(r"Sign in as (\S+) with password (\S+)", result.output)
    assert match, result.output
    body = login(client, match[1], match[2])
    assert body["primaryAccount"]["accountName"] == "Demo Co"
    api = Api(client, body["token"], match[1])
    live, live_total = all_leads(api, archived=False)
    archived, archived_total = all_leads(api, archived=True)
    assert live_total + archived_total == 200
    assert (len(live), len(archived)) == (live_total, archived_total)
    assert archived_total > 0
    leads = live + archived
    assert len({lead["id"] for lead in leads}) == 200
    for name in ("processStage", "source", "assignedTo", "company", "lastName"):
        assert len({lead[name] for lead in leads}) >= 4, name
    created = sorted(datetime.fromisoformat(lead["createdAt"][:-1]) for lead in leads)
    assert created[-1] - created[0] > timedelta(days=365)
    assert "200 leads" in result.output


def test_demo_adds_to_an_existing_account_and_keeps_counts_exact(app, runner, client):
    first = demo(app, runner, "--leads", "30", "--account", "Demo Co", "--seed", "1")
    assert first.exit_code == 0, first.output
    email, password = re.search(r"Sign in as (\S+) with password (\S+)", first.output).groups()
    second = demo(app, runner, "--leads", "20", "--account", "Demo Co", "--seed", "2")
    assert second.exit_code == 0, second.output
    assert "Sign in" not in second.output
    assert "now has 50 leads" in second.output
    api = Api(client, login(client, email, password)["token"], email)
    totals = api.list()["totalCount"] + api.list("archived=true")["totalCount"]
    assert totals == 50


@pytest.mark.parametrize("leads", ["-1", "x"])
def test_demo_refuses_a_bad_number_of_leads(app, runner, leads):
    result = demo(app, runner, "--leads", leads, "--account", "Demo Co")
    assert result.exit_code != 0
    assert count(app, Account) == 0
