"""Fixtures: an app with a fresh, migrated database per test, on SQLite and on PostgreSQL.

The schema is built once per database by the real Alembic migrations; each test then gets a
copy (SQLite) or emptied tables (PostgreSQL). PostgreSQL runs when TEST_DATABASE_URL is set
and skips with a reason otherwise. Requests never run inside a held app context.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app import cache, create_app
from app.extensions import db
from app.leads import facets
from tests.support import World, build_world

# The browser tests' fixtures (browser, live_server, browsing), for every module that asks.
pytest_plugins = ("tests.browser_support",)

BACKENDS = ["sqlite", "postgresql"]
PG_URL = os.environ.get("TEST_DATABASE_URL", "")


def pytest_report_header(config: pytest.Config) -> str:
    where = PG_URL.rsplit("@", 1)[-1] if PG_URL else "not set: PostgreSQL tests skip"
    return f"PostgreSQL (TEST_DATABASE_URL): {where}"


def test_config(url: str) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "HTMX_SOURCE": "local",
        "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_ENABLED": False,
    }


def _migrate(url: str) -> None:
    app = create_app(test_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _worker_database(url: str, worker: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database, created afresh."""
    if worker == "master":
        base = sa.make_url(url)
    else:
        base = sa.make_url(url).set(database=f"{sa.make_url(url).database}_{worker}")
    _server_command(base, f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)')
    _server_command(base, f'CREATE DATABASE "{base.database}"')
    return base.render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    base = sa.make_url(url)
    _server_command(base, f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)')


def _server_command(base: sa.URL, sql: str) -> None:
    server = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(sql)
    server.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    if not PG_URL:
        if os.environ.get("PULSE_REQUIRE_POSTGRES"):
            pytest.fail("PULSE_REQUIRE_POSTGRES is set but TEST_DATABASE_URL is not")
        pytest.skip("TEST_DATABASE_URL is not set: no PostgreSQL to test against")
    from app.config import database_url

    url = _worker_database(database_url(PG_URL), worker_id)
    _migrate(url)
    yield url
    if worker_id != "master":
        _drop_database(url)


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    # pytest-xdist provides this fixture; without xdist everything runs in "master".
    return getattr(request.config, "workerinput", {}).get("workerid", "master")


def _empty_postgres(app: Flask) -> None:
    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        path.chmod(0o600)  # as the app creates a database (app/database.py)
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    # Per-process caches are keyed by account id, which every fresh database reuses.
    facets.forget_all()
    cache.forget_all()
    app = create_app(test_config(database_url))
    if database_url.startswith("postgresql"):
        _empty_postgres(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def list_cache_off(app: Flask) -> Iterator[None]:
    """Every GET /api/leads runs its queries (for tests that watch those queries)."""
    from app.api.leads import configure_list_cache

    configure_list_cache(0)
    yield
    configure_list_cache(app.config["LIST_CACHE_MB"])


@pytest.fixture
def world(app: Flask, client) -> World:
    """Two accounts (Acme, Globex) with an admin, a member and a viewer, and API tokens."""
    return build_world(app, client)
