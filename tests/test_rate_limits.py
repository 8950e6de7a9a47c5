"""Throttling: sign-in per email and per client IP (the page and the API share the counters), the
API per token with RateLimit headers, 429 with Retry-After, ProxyFix only when configured, and
counters in Redis shared by separate processes (memory counts per process)."""

from __future__ import annotations

import multiprocessing
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db
from tests.conftest import test_config as config_for
from tests.support import PASSWORD, assert_problem
from tests.web_support import assert_site_page, csrf_token, text

REDIS = "redis://127.0.0.1:6379/15"
LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_SIGN_IN_PER_EMAIL": "3/minute",
    "RATELIMIT_SIGN_IN_PER_IP": "5/minute",
    "RATELIMIT_API_PER_TOKEN": "4/minute",
}
WRONG = "wrong password!"


@pytest.fixture
def limited(app: Flask, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Apps on the test database with throttling on (small limits, settings to override)."""
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        made.append(create_app(config_for(database_url) | LIMITS | settings))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def web_login(client: FlaskClient, email: str, password: str = WRONG, **kwargs: Any):
    token = csrf_token(text(client.get("/login", **kwargs)))
    data = {"email": email, "password": password, "csrf_token": token}
    return client.post("/login", data=data, **kwargs)


def api_login(client: FlaskClient, email: str, password: str = WRONG, **kwargs: Any):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_retry_after(response, limit_seconds: int = 60) -> None:
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= limit_seconds + 1


# Sign-in -----------------------------------------------------------------------------------


def test_sign_in_page_refuses_a_fourth_try_for_one_email_with_a_clear_page(limited, world):
    browser = limited().test_client()
    for _ in range(3):
        assert web_login(browser, "bob@acme.test").status_code == 400
    response = web_login(browser, "bob@acme.test", PASSWORD)  # even the right password now
    assert_retry_after(response)
    page = text(response)
    assert_site_page(page)
    assert "Too Many Requests" in page
    assert f"Too many sign-in attempts. Wait {response.headers['Retry-After']} seconds" in page
    assert browser.get("/leads").status_code == 302  # not signed in
    assert web_login(browser, "vera@acme.test", PASSWORD).status_code == 302  # another email


def test_the_per_email_limit_ignores_case_and_spaces(limited, world):
    browser = limited().test_client()
    for email in ("bob@acme.test", " BOB@acme.test", "Bob@Acme.Test "):
        assert web_login(browser, email).status_code == 400
    assert web_login(browser, "bob@ACME.test").status_code == 429


def test_the_page_and_the_api_share_the_per_email_count(limited, world):
    client = limited().test_client()
    assert web_login(client, "bob@acme.test").status_code == 400
    assert web_login(client, "bob@acme.test").status_code == 400
    assert api_login(client, "bob@acme.test").status_code == 401
    response = api_login(client, "bob@acme.test", PASSWORD)
    assert_problem(response, 429)
    assert_retry_after(response)
    assert "Too many sign-in attempts." in response.get_json()["detail"]


def test_one_client_address_is_limited_across_emails(limited, world):
    client = limited().test_client()
    for n in range(5):
        assert api_login(client, f"guess{n}@acme.test").status_code == 401
    assert api_login(client, "alice@acme.test", PASSWORD).status_code == 429
    elsewhere = {"environ_base": {"REMOTE_ADDR": "198.51.100.7"}}
    assert api_login(client, "alice@acme.test", PASSWORD, **elsewhere).status_code == 200


def test_showing_the_sign_in_page_is_never_limited(limited, world):
    client = limited().test_client()
    for _ in range(12):
        assert client.get("/login").status_code == 200


def test_password_changes_count_against_the_sign_in_limit_per_address(limited, world):
    client = limited().test_client()
    assert web_login(client, "bob@acme.test", PASSWORD).status_code == 302
    for _ in range(4):
        token = csrf_token(text(client.get("/password")))
        data = {"current": WRONG, "password": "x" * 12, "confirm": "x" * 12, "csrf_token": token}
        assert client.post("/password", data=data).status_code == 400
    token = csrf_token(text(client.get("/password")))
    data = {"current": PASSWORD, "password": "y" * 12, "confirm": "y" * 12, "csrf_token": token}
    assert client.post("/password", data=data).status_code == 429


LONE_SURROGATE = "\ud800"  # valid JSON (an escape), but not a character: not encodable


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_lone_surrogate_in_a_sign_in_is_a_400_and_counts_against_the_limit(limited, world, field):
    client = limited().test_client()
    bad = {"email": "bob@acme.test", "password": WRONG}
    bad[field] = f"bob{LONE_SURROGATE}"
    for _ in range(2):
        response = client.post("/api/auth/login", json=bad)
        assert_problem(response, 400, field)
        assert response.get_json()["errors"][field] == [
            "Contains characters that are not valid text."
        ]
    token = csrf_token(text(client.get("/login")))
    # Flask-WTF fills forms from a JSON body too.
    page = client.post("/login", json=bad, headers={"X-CSRFToken": token})
    assert page.status_code == 400
    assert "Contains characters that are not valid text." in text(page)
    assert_retry_after(client.post("/api/auth/login", json=bad))


def test_the_429_log_line_names_the_email_by_a_keyed_hash_only(limited, world, caplog):
    """An unsalted sha256(email) in a log is reversed with a dictionary of addresses."""
    import hashlib
    import logging

    caplog.set_level(logging.INFO, logger="flask-limiter")
    client = limited().test_client()
    for _ in range(4):
        api_login(client, "Bob@acme.test")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "exceeded" in logged
    assert hashlib.sha256(b"bob@acme.test").hexdigest() not in logged
    assert "bob@acme.test" not in logged.lower()
    other = limited(SECRET_KEY="another-secret-key-for-this-test-only").test_client()
    caplog.clear()
    for _ in range(4):
        api_login(other, "bob@acme.test")
    again = "\n".join(record.getMessage() for record in caplog.records)
    keys = {line.split("(")[1].split(")")[0] for line in (logged, again) if "(" in line}
    assert len(keys) == 2  # the key depends on SECRET_KEY: no table works across installs


def test_without_limits_sign_in_is_never_refused(limited, world):
    client = limited(RATELIMIT_ENABLED=False).test_client()
    for _ in range(6):
        response = api_login(client, "bob@acme.test")
        assert response.status_code == 401
        assert "RateLimit-Limit" not in response.headers


# The API, per token -----------------------------------------------------------------------


def test_api_requests_are_limited_per_token_with_rate_limit_headers(limited, world):
    client = limited().test_client()
    for remaining in (3, 2, 1, 0):
        response = client.get("/api/leads", headers=bearer(world.bob.token))
        assert response.status_code == 200
        for prefix in ("X-RateLimit", "RateLimit"):
            assert response.headers[f"{prefix}-Limit"] == "4"
            assert response.headers[f"{prefix}-Remaining"] == str(remaining)
        assert 0 <= int(response.headers["RateLimit-Reset"]) <= 61
        assert int(response.headers["X-RateLimit-Reset"]) > 1_600_000_000  # a Unix time
        assert "Retry-After" not in response.headers
    response = client.get("/api/leads", headers=bearer(world.bob.token))
    assert_problem(response, 429)
    assert_retry_after(response)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert "Too many requests with this token." in response.get_json()["detail"]
    assert client.get("/api/leads", headers=bearer(world.alice.token)).status_code == 200


def test_one_token_has_one_count_across_every_api_route(limited, world):
    client = limited().test_client()
    lead = world.bob.create_lead()
    for path in ("/api/leads", "/api/auth/session", f"/api/leads/{lead['id']}", "/api/leads"):
        assert client.get(path, headers=bearer(world.bob.token)).status_code == 200
    response = client.get("/api/auth/session", headers=bearer(world.bob.token))
    assert response.status_code == 429


def test_the_api_limit_is_a_setting(limited, world):
    client = limited(RATELIMIT_API_PER_TOKEN="2/minute").test_client()
    assert (
        client.get("/api/leads", headers=bearer(world.bob.token)).headers["RateLimit-Limit"] == "2"
    )
    client.get("/api/leads", headers=bearer(world.bob.token))
    assert client.get("/api/leads", headers=bearer(world.bob.token)).status_code == 429


def test_a_bad_limit_setting_stops_the_app_from_starting(database_url):
    with pytest.raises(RuntimeError, match="RATELIMIT_API_PER_TOKEN must be a rate limit"):
        create_app(config_for(database_url) | {"RATELIMIT_API_PER_TOKEN": "lots"})


# Client addresses behind a proxy -----------------------------------------------------------


@pytest.mark.parametrize(("hops", "separate"), [(0, False), (1, True)])
def test_x_forwarded_for_is_trusted_only_when_configured(limited, world, hops, separate):
    client = limited(PROXY_FIX_HOPS=hops).test_client()

    def attempt(forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        return api_login(client, f"{uuid.uuid4().hex}@acme.test", headers=headers).status_code

    assert [attempt("203.0.113.1") for _ in range(5)] == [401] * 5
    # Another client behind the proxy: its own count only if the proxy's header is trusted.
    assert attempt("203.0.113.2") == (401 if separate else 429)


# Several processes -------------------------------------------------------------------------


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


def _worker(database_url: str, storage: str, token: str, requests: int, queue: Any) -> None:
    """One server process: its own app, sending requests with the token."""
    app = create_app(config_for(database_url) | LIMITS | {"RATELIMIT_STORAGE_URI": storage})
    client = app.test_client()
    queue.put(
        [client.get("/api/leads", headers=bearer(token)).status_code for _ in range(requests)]
    )


def run_processes(database_url: str, storage: str, *, processes: int, requests: int) -> list[int]:
    """The statuses that separate processes got for the same (unknown) token, which the API
    refuses with 401 while the limit allows, then with 429. Such requests never reach the
    database: these tests need none, and run once rather than per database."""
    token = f"unknown-{uuid.uuid4().hex}"  # a fresh counter
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args = (database_url, storage, token, requests, queue)
    workers = [context.Process(target=_worker, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    statuses = [status for _ in workers for status in queue.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=30)
    return sorted(statuses)


@pytest.mark.parametrize(
    ("storage", "allowed"), [("memory://", 8), (REDIS, 4)], ids=["memory", "redis"]
)
def test_two_processes_share_one_limit_only_with_redis(tmp_path, storage, allowed):
    if storage.startswith("redis") and not _redis_reachable():
        pytest.skip("no Redis at 127.0.0.1:6379")
    statuses = run_processes(f"sqlite:///{tmp_path}/unused.db", storage, processes=2, requests=5)
    assert statuses == [401] * allowed + [429] * (10 - allowed)


def test_an_unreachable_redis_never_fails_requests(tmp_path):
    # In a process of its own: the limiter remembers a dead store for a while.
    url = f"sqlite:///{tmp_path}/unused.db"
    statuses = run_processes(url, "redis://127.0.0.1:1/0", processes=1, requests=5)
    assert statuses == [401] * 4 + [429]  # counted in the process's memory meanwhile
