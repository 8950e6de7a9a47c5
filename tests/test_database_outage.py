"""PostgreSQL stopped, unreachable or dropping connections: requests fail fast with 503 (problem+
json on the API, the error page in the browser), /healthz says so, and the same app recovers
by itself once the database is back. The outage is played by a TCP proxy (tests/tcp_proxy.py)
between the app and the real server, which is never touched."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text as sql

from app import cache, create_app
from app.db_deadlines import FAIL_FAST_SECONDS
from app.extensions import db
from app.leads import facets
from tests.conftest import _empty_postgres
from tests.conftest import test_config as config_for
from tests.support import World, assert_problem, build_world
from tests.tcp_proxy import TcpProxy
from tests.web_support import signed_in_client, text

CONNECT_TIMEOUT = 2  # seconds (libpq's minimum)
STATEMENT_TIMEOUT = 1  # seconds: a request then waits at most 2 s for an answer
HEALTHZ_TIMEOUT = 1.5  # seconds (a new connection still takes libpq's 2 s minimum)
RECOVERY = 5.0  # seconds: the longest the app may take to serve again once the database is back


@dataclass
class Outage:
    world: World
    browser: FlaskClient
    proxy: TcpProxy
    lead_id: int

    @property
    def app(self) -> Flask:
        return self.world.app


@pytest.fixture
def outage(postgres_url: str) -> Iterator[Outage]:
    """A world on PostgreSQL, reached through a proxy that the test can cut."""
    target = sa.make_url(postgres_url)
    facets.forget_all()
    cache.forget_all()
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        url = target.set(host="127.0.0.1", port=proxy.port)
        config = config_for(url.render_as_string(hide_password=False))
        app = create_app(
            config
            | {
                "DATABASE_CONNECT_TIMEOUT": CONNECT_TIMEOUT,
                "DATABASE_STATEMENT_TIMEOUT": STATEMENT_TIMEOUT,
                "HEALTHZ_TIMEOUT": HEALTHZ_TIMEOUT,
            }
        )
        _break_connections_on_demand(app, proxy)
        _empty_postgres(app)
        world = build_world(app, app.test_client())
        lead_id = world.alice.create_lead()["id"]
        browser = signed_in_client(app, "alice@acme.test")
        yield Outage(world, browser, proxy, lead_id)
        with app.app_context():
            db.engine.dispose()


def _break_connections_on_demand(app: Flask, proxy: TcpProxy) -> None:
    """While BREAK_CONNECTIONS is set, each request's connection passes the pool's ping and
    runs a query, then dies before the request's own queries; while BREAK_AFTER_RESPONSE is
    set, it dies once the response is ready (before the session's final rollback)."""

    @app.before_request
    def break_the_connection() -> None:
        if app.config.get("BREAK_CONNECTIONS"):
            db.session.execute(sql("SELECT 1"))
            proxy.drop_connections()

    @app.before_request
    def run_a_slow_statement() -> None:
        if app.config.get("SLOW_STATEMENT"):
            db.session.execute(sql("SELECT pg_sleep(3)"))

    @app.after_request
    def break_it_once_answered(response):
        if app.config.get("BREAK_AFTER_RESPONSE"):
            proxy.drop_connections()
        return response


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def assert_unavailable(outage: Outage, *, within: float) -> None:
    """Every kind of request answers 503 quickly, with Retry-After, in its own format."""
    api, elapsed = timed(lambda: outage.world.alice.get("/api/leads"))
    assert_problem(api, 503)
    assert api.headers["Retry-After"]
    assert elapsed < within
    write = outage.world.alice.post("/api/leads", json={"firstName": "A", "lastName": "B"})
    assert_problem(write, 503)
    page = outage.browser.get(f"/leads/{outage.lead_id}")
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "not reachable" in text(page)
    health = outage.world.client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] == "unreachable"


def assert_recovers(outage: Outage) -> float:
    """The same app serves again within RECOVERY seconds; returns how long it took."""
    started = time.perf_counter()
    while outage.world.client.get("/healthz").status_code != 200:
        assert time.perf_counter() - started < RECOVERY, "the app did not recover by itself"
        time.sleep(0.1)
    assert outage.world.alice.get(f"/api/leads/{outage.lead_id}").status_code == 200
    assert outage.browser.get(f"/leads/{outage.lead_id}").status_code == 200
    assert (
        outage.world.alice.post("/api/leads", json={"firstName": "C", "lastName": "D"}).status_code
        == 201
    )
    return time.perf_counter() - started


def test_a_stopped_database_answers_503_and_the_app_recovers_when_it_returns(outage):
    assert outage.world.client.get("/healthz").status_code == 200
    outage.proxy.cut()  # connection refused, as while PostgreSQL restarts
    assert_unavailable(outage, within=1.0)
    outage.proxy.restore()
    assert assert_recovers(outage) < RECOVERY


def test_a_network_that_drops_packets_answers_503_within_seconds_and_recovers(outage):
    """A partition drops packets and closes nothing: every request hung until gunicorn killed
    its worker (about 30 s), and /healthz took 28 s."""
    assert outage.world.client.get("/healthz").status_code == 200
    outage.proxy.blackhole()  # the pooled connections stay open, and silent
    assert_unavailable(outage, within=STATEMENT_TIMEOUT + 1 + 1.0)
    # A server that did not answer is not asked again at once: no worker queues behind it.
    api, api_seconds = timed(lambda: outage.world.alice.get("/api/leads"))
    page, page_seconds = timed(lambda: outage.browser.get("/leads"))
    assert (api.status_code, page.status_code) == (503, 503)
    assert api_seconds < 0.5 and page_seconds < 0.5
    time.sleep(FAIL_FAST_SECONDS)
    health, elapsed = timed(lambda: outage.world.client.get("/healthz"))
    assert health.status_code == 503
    assert elapsed < CONNECT_TIMEOUT + 0.5  # its own timeout (libpq connects in 2 s at least)
    outage.proxy.restore()
    assert assert_recovers(outage) < FAIL_FAST_SECONDS + 1


def test_a_write_whose_begin_gets_no_answer_is_a_503(outage, monkeypatch):
    """A writer's BEGIN is sent from an event, past SQLAlchemy's own error handling (a 500)."""
    from app import database

    begin = database._begin_on_server

    def partition_then_begin(connection):
        outage.proxy.blackhole()  # after the request's reads, just before its BEGIN
        begin(connection)

    monkeypatch.setattr(database, "_begin_on_server", partition_then_begin)
    write = outage.world.alice.post("/api/leads", json={"firstName": "A", "lastName": "B"})
    monkeypatch.setattr(database, "_begin_on_server", begin)
    assert_problem(write, 503)
    outage.proxy.restore()
    assert_recovers(outage)
    assert outage.world.count() == 2  # the lead of the fixture, and the one made on recovery


def test_a_statement_over_the_statement_timeout_is_cancelled_as_busy(outage):
    outage.app.config["SLOW_STATEMENT"] = True
    response, elapsed = timed(lambda: outage.world.alice.get("/api/leads"))
    outage.app.config["SLOW_STATEMENT"] = False
    problem = assert_problem(response, 503)
    assert problem["detail"] == "The database is busy; try again in a moment."
    assert response.headers["Retry-After"] == "1"
    assert elapsed < STATEMENT_TIMEOUT + 1.0  # cancelled by the server, not the client
    assert outage.world.alice.get("/api/leads").status_code == 200  # the connection lives on


def test_connections_carry_keepalives_a_user_timeout_and_a_statement_timeout(outage):
    """The kernel's own bounds, for connections idle in the pool and in operator commands."""
    with outage.app.app_context():
        raw = db.engine.raw_connection()
        try:
            connection = raw.driver_connection
            shown = connection.execute("SHOW statement_timeout").fetchone()[0]
            sock = socket.socket(fileno=os.dup(connection.fileno()))
            try:
                options = {
                    name: sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name))
                    for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_USER_TIMEOUT")
                }
                keepalive = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            finally:
                sock.close()
        finally:
            raw.close()
    assert shown == "1s"
    assert keepalive == 1
    assert options == {
        "TCP_KEEPIDLE": 5,
        "TCP_KEEPINTVL": 2,
        "TCP_KEEPCNT": 3,
        "TCP_USER_TIMEOUT": 10_000,
    }


def test_an_unreachable_database_fails_within_the_connect_timeout(outage):
    outage.proxy.stall()  # connections open, nothing ever answers
    assert_unavailable(outage, within=CONNECT_TIMEOUT + 1.5)
    outage.proxy.restore()
    assert_recovers(outage)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/leads", None),
        ("GET", "/api/leads/{id}", None),
        ("POST", "/api/leads", {"firstName": "A", "lastName": "B"}),
        ("PATCH", "/api/leads/{id}", {"company": "Globex"}),
    ],
)
def test_a_connection_broken_in_the_middle_of_a_request_is_a_503(outage, method, path, body):
    outage.app.config["BREAK_CONNECTIONS"] = True
    url = path.format(id=outage.lead_id)
    response = outage.world.alice.request(method, url, **({"json": body} if body else {}))
    outage.app.config["BREAK_CONNECTIONS"] = False
    assert_problem(response, 503)
    assert outage.world.alice.get(url if method == "GET" else "/api/leads").status_code == 200
    assert outage.world.count() == 1  # the broken write left nothing behind


def test_a_browser_page_whose_connection_breaks_is_the_503_page(outage):
    outage.app.config["BREAK_CONNECTIONS"] = True
    page = outage.browser.get("/leads")
    outage.app.config["BREAK_CONNECTIONS"] = False
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert outage.browser.get("/leads").status_code == 200


@pytest.mark.parametrize("browser", [False, True])
def test_a_connection_lost_once_the_response_is_ready_does_not_spoil_it(outage, browser):
    path = f"/leads/{outage.lead_id}" if browser else f"/api/leads/{outage.lead_id}"
    get = outage.browser.get if browser else outage.world.alice.get
    outage.app.config["BREAK_AFTER_RESPONSE"] = True
    response = get(path)
    outage.app.config["BREAK_AFTER_RESPONSE"] = False
    assert response.status_code == 200
    assert get(path).status_code == 200  # and the next request finds a live connection


@pytest.mark.parametrize("check", ["idle for long", "closed by the server", "none"])
def test_a_connection_that_died_while_idle_costs_no_request(outage, monkeypatch, check):
    """A restart while the app is idle leaves dead connections in the pool. One idle for
    longer than IDLE_PING_SECONDS, or whose socket shows that the server closed it, is
    checked before use and replaced; each check alone is enough. (Without either, the request
    on the dead connection would fail: the last case shows that it does.)"""
    from app import database

    url = f"/api/leads/{outage.lead_id}"
    assert outage.world.alice.get(url).status_code == 200
    outage.proxy.drop_connections()  # the pooled connection dies while idle
    time.sleep(0.2)  # the closing reaches the app's end of the socket
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0 if check == "idle for long" else 3600)
    if check != "closed by the server":
        monkeypatch.setattr(database, "_closed_by_server", lambda connection: False)
    response = outage.world.alice.get(url)
    assert response.status_code == (503 if check == "none" else 200)
    assert outage.world.alice.get(url).status_code == 200  # recovered either way
