"""What the safety benchmarks share: a fresh database with an API token, a gunicorn of 4 workers
started with gunicorn.conf.py, and a small keep-alive JSON client (http.client, one per thread).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123"
# The limiter stays on (its cost is part of every request) but never refuses the benchmark.
SERVER_ENV = {"SECRET_KEY": SECRET_KEY, "RATELIMIT_API_PER_TOKEN": "10000000/minute"}


def database_from_args(name: str, *, sqlite: bool = True) -> tuple[str, str, float | None]:
    """(SQLAlchemy URL, "sqlite" or "postgresql", --seconds) from `--sqlite` or `--postgres`."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    if sqlite:
        group.add_argument("--sqlite", action="store_true", help=f"bench/data/{name}.db")
    group.add_argument("--postgres", metavar="URL", help="a database to DROP and create afresh")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    if args.postgres:
        from app.config import database_url

        return database_url(args.postgres), "postgresql", args.seconds
    path = ROOT / "bench" / "data" / f"{name}.db"
    return f"sqlite:///{path}", "sqlite", args.seconds


@dataclass(frozen=True)
class Setup:
    url: str
    token: str
    account_id: int


def prepare(url: str, demo_leads: int = 0) -> Setup:
    """Create the database afresh, migrate it, add an account, an admin, an API token."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth.accounts import add_member, create_user, get_or_create_account
    from app.auth.tokens import create_api_token
    from app.demo import add_demo_leads
    from app.extensions import db
    from app.models import Role
    from bench.load import fresh_database

    fresh_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        account, _ = get_or_create_account("Bench")
        user = create_user("bench@pulse.example", "bench password 4 pulse")
        add_member(user, account, Role.ADMIN)
        _, token = create_api_token(user, account, "bench")
        db.session.commit()
        if demo_leads:
            add_demo_leads(account, demo_leads, seed=1)
        account_id = account.id
        db.engine.dispose()
    return Setup(url, token, account_id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(url: str, log: Path, workers: int = 4, **env: str) -> Iterator[str]:
    """gunicorn -w 4 -c gunicorn.conf.py serving `url`; its output goes to `log`."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", str(workers)]
    environment = {
        **os.environ,
        **SERVER_ENV,
        "DATABASE_URL": url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        **env,
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "wsgi:app"], cwd=ROOT, env=environment, stdout=output, stderr=output
        )
        try:
            base = f"127.0.0.1:{port}"
            _wait_until_up(base, server)
            yield base
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def _wait_until_up(base: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if Client(base, "").request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not come up")


class Client:
    """One keep-alive connection, reopened after an error; JSON in, (status, headers, body) out."""

    def __init__(self, host: str, token: str, timeout: float = 30) -> None:
        self.host, self.timeout = host, timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, timeout=self.timeout)
        sent = {**self.headers, **(headers or {})}
        data = None if body is None else json.dumps(body)
        if data is not None:
            sent["Content-Type"] = "application/json"
        try:
            self.connection.request(method, path, body=data, headers=sent)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            raise
        payload = (
            json.loads(raw) if raw and "json" in response.getheader("Content-Type", "") else None
        )
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def count_in_log(log: Path, text: str) -> int:
    return sum(text in line for line in log.read_text(errors="replace").splitlines())


def server_latencies(log: Path) -> list[float]:
    """Seconds each request took inside gunicorn, from its JSON access log."""
    seconds = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == "gunicorn.access" and "duration_ms" in entry:
            seconds.append(entry["duration_ms"] / 1000)
    return seconds
