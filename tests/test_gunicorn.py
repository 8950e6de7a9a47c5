"""gunicorn.conf.py: settings from the environment, and a real gunicorn that logs JSON lines
(access log on stdout, the rest on stderr) and gives each preloaded worker its own pool."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"


def settings(monkeypatch, **env: str) -> dict:
    for name in (
        "GUNICORN_BIND",
        "PORT",
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
        "GUNICORN_PRELOAD",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_defaults_suit_one_host_behind_a_proxy(monkeypatch):
    config = settings(monkeypatch)
    assert config["bind"] == "127.0.0.1:8000"
    assert config["workers"] == min(2 * (os.cpu_count() or 1) + 1, 12)
    assert config["threads"] == 1
    assert config["preload_app"] is False
    assert config["accesslog"] == "-"
    assert config["max_requests"] > 0 and 0 < config["max_requests_jitter"] < config["max_requests"]
    assert config["timeout"] >= 30 and config["graceful_timeout"] > 0 and config["keepalive"] > 0
    assert callable(config["post_fork"])
    assert config["control_socket_disable"] is True  # its default path is shared host-wide


def test_the_environment_overrides_the_defaults(monkeypatch):
    config = settings(
        monkeypatch, PORT="9000", WEB_CONCURRENCY="3", GUNICORN_THREADS="4", GUNICORN_PRELOAD="1"
    )
    assert (config["bind"], config["workers"], config["threads"]) == ("0.0.0.0:9000", 3, 4)
    assert config["preload_app"] is True
    assert settings(monkeypatch, GUNICORN_BIND="unix:/run/pulse.sock", PORT="9000")["bind"] == (
        "unix:/run/pulse.sock"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_request(port: int, data: bytes) -> bytes:
    """Send bytes as they are (a malformed request line, a chunked body); the answer's bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def chunked_post(path: str, body: bytes) -> bytes:
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536])
        for i in range(0, len(body), 65536)
    )
    return (
        (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Authorization: Bearer pl_not-a-real-secret\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
        + chunks
        + b"0\r\n\r\n"
    )


def get(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
def test_a_real_gunicorn_logs_json_lines_and_resets_pools_after_fork(sqlite_template, tmp_path):
    database = tmp_path / "served.db"
    shutil.copyfile(sqlite_template, database)
    database.chmod(0o600)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "gunicorn-test-secret-" + "k" * 32,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_PRELOAD": "1",
    }
    out, err = (tmp_path / "stdout.log").open("w+"), (tmp_path / "stderr.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env, stdout=out, stderr=err
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):  # up to 30 s on a busy machine
            try:
                if get(f"{base}/healthz", {}) == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        assert get(f"{base}/healthz", {"X-Request-Id": "probe-1"}) == 200
        assert get(f"{base}/api/leads", {"Authorization": "Bearer pl_not-a-real-secret"}) == 401
        # A malformed request line: gunicorn's warning must not carry its query string.
        answer = raw_request(port, b"GET  /leads?token=query-secret-1 HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
        # A chunked body over 1 MiB is refused, never cut off at the limit and read.
        body = b'{"firstName": "A", "lastName": "B"}' + b" " * (1024 * 1024)
        assert raw_request(port, chunked_post("/api/auth/login", body)).startswith(b"HTTP/1.1 413")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    access = [json.loads(line) for line in Path(out.name).read_text().splitlines()]
    errors = [json.loads(line) for line in Path(err.name).read_text().splitlines()]
    probe = next(line for line in access if line.get("request_id") == "probe-1")
    assert probe["path"] == "/healthz" and probe["status"] == 200 and probe["method"] == "GET"
    assert isinstance(probe["duration_ms"], float) and probe["remote_addr"] == "127.0.0.1"
    refused = next(line for line in access if line["path"] == "/api/leads")
    assert refused["status"] == 401 and len(refused["request_id"]) == 32
    assert sum("a connection pool of its own" in line["message"] for line in errors) == 2
    assert not any("Control socket" in line["message"] for line in errors)
    everything = Path(out.name).read_text() + Path(err.name).read_text()
    assert "pl_not-a-real-secret" not in everything
    assert "query-secret-1" not in everything
    assert any("Invalid request from ip=" in line["message"] for line in errors)
