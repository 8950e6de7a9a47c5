"""Request ids and structured logs: every response names its request in `X-Request-Id`, and
every log line (the app's and gunicorn's access log) is one JSON object naming the request,
never a token, cookie or password."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger as GunicornLogger
from sqlalchemy import select

from app.extensions import db
from app.logs import AccessJsonFormatter, JsonFormatter
from app.models import User
from tests.support import PASSWORD, World

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("path", ["/healthz", "/api/leads", "/api/nowhere", "/login", "/leads"])
def test_every_response_carries_a_fresh_request_id(client, path):
    first, second = client.get(path), client.get(path)
    assert GENERATED.fullmatch(first.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize(
    "given", ["abc-123", "7f9c2b1e4d5a6b7c8d9e0f1a2b3c4d5e", "Root=1-5e1b:a/b+c.d_e", "x" * 64]
)
def test_a_safe_incoming_request_id_is_echoed(client, given):
    assert client.get("/healthz", headers={"X-Request-Id": given}).headers["X-Request-Id"] == given


@pytest.mark.parametrize("given", ["", "x" * 65, "a b", "<script>", "caf\u00e9", 'a"b', "a;b"])
def test_an_unsafe_incoming_request_id_is_replaced(client, given):
    header = given.encode("utf-8").decode("latin-1")
    answered = client.get("/healthz", headers={"X-Request-Id": header}).headers["X-Request-Id"]
    assert GENERATED.fullmatch(answered)


@pytest.fixture
def json_log():
    """The app's log lines, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_app_log_lines_are_json_with_the_request_and_who_made_it(world: World, json_log):
    app = world.app

    @app.after_request
    def log_something(response):
        logging.getLogger("app.probe").warning("probe %s", "done")
        return response

    response = world.alice.get("/api/leads?search=secret-search", headers={"X-Request-Id": "r-1"})
    assert response.status_code == 200
    (line,) = [entry for entry in json_log() if entry["logger"] == "app.probe"]
    with app.app_context():
        alice_id = db.session.scalar(select(User.id).where(User.email == "alice@acme.test"))
    assert line == {
        "time": line["time"],
        "level": "WARNING",
        "logger": "app.probe",
        "message": "probe done",
        "request_id": "r-1",
        "method": "GET",
        "path": "/api/leads",
        "remote_addr": "127.0.0.1",
        "user": alice_id,
        "account": world.acme,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_a_browser_request_logs_its_user_and_never_the_password(world: World, json_log):
    app = world.app

    @app.after_request
    def log_something(response):
        logging.getLogger("app.probe").warning("probe")
        return response

    login = world.client.get("/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.get_data(as_text=True))
    world.client.post(
        "/login",
        data={"email": "alice@acme.test", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    world.client.get("/leads")
    lines = json_log()
    assert lines[-1]["path"] == "/leads" and lines[-1]["account"] == world.acme
    assert "user" in lines[-1]
    everything = json.dumps(lines)
    assert PASSWORD not in everything and token.group(1) not in everything


def test_an_exception_is_logged_with_its_traceback_in_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "app.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed" and "ValueError: boom" in entry["exception"]


def gunicorn_access_record(headers: list[tuple[str, str]], environ: dict[str, str]):
    """The record gunicorn's access log emits for one request, built by gunicorn's own code."""
    gunicorn = GunicornLogger(Config())
    atoms = gunicorn.atoms(
        SimpleNamespace(status="201 CREATED", headers=[("X-Request-Id", "r-9")], sent=42),
        SimpleNamespace(headers=headers),
        {
            "REMOTE_ADDR": "203.0.113.9",
            "REQUEST_METHOD": "POST",
            "RAW_URI": "/api/leads?token=pl_secret",
            "PATH_INFO": "/api/leads",
            "QUERY_STRING": "token=pl_secret",
            "SERVER_PROTOCOL": "HTTP/1.1",
            **environ,
        },
        timedelta(milliseconds=12, microseconds=345),
    )
    safe = gunicorn.atoms_wrapper_class(atoms)
    fmt = gunicorn.cfg.access_log_format
    return logging.LogRecord("gunicorn.access", logging.INFO, "", 0, fmt, (safe,), None)


def test_the_access_log_is_one_json_object_without_secrets():
    record = gunicorn_access_record(
        [("Authorization", "Bearer pl_secret"), ("Cookie", "session=s3cret")],
        {"pulse.user": "7", "pulse.account": "12345678"},
    )
    line = AccessJsonFormatter().format(record)
    entry = json.loads(line)
    assert entry == {
        "time": entry["time"],
        "level": "INFO",
        "logger": "gunicorn.access",
        "message": "POST /api/leads 201",
        "request_id": "r-9",
        "method": "POST",
        "path": "/api/leads",
        "status": 201,
        "duration_ms": 12.3,
        "remote_addr": "203.0.113.9",
        "user": "7",
        "account": "12345678",
    }
    assert "secret" not in line and "s3cret" not in line
