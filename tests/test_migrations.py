"""Migrations: upgrade, downgrade to nothing and upgrade again on fresh SQLite and PostgreSQL
databases; and the models and the migrations describe the same schema."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from app import create_app
from app.database import is_managed_schema_name
from app.extensions import db
from tests.conftest import _drop_database, _server_command
from tests.conftest import test_config as config_for

HEAD = "0004"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app over a database with no tables at all."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        base = sa.make_url(request.getfixturevalue("postgres_url"))
        url = base.set(database=f"{base.database}_migrations").render_as_string(False)
        _drop_database(url)
        _server_command(base, f'CREATE DATABASE "{base.database}_migrations"')
    app = create_app(config_for(url))
    yield app
    with app.app_context():
        db.engine.dispose()
    if request.param == "postgresql":
        _drop_database(url)


def differences(app: Flask) -> list:
    """What Alembic's autogenerate would change to make the database match the models."""
    with app.app_context(), db.engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect indexes on expressions (lower(x)): Alembic leaves them out of
        # the comparison there, and PostgreSQL compares them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": is_managed_schema_name}
        )
        return compare_metadata(context, db.metadata)


def tables(app: Flask) -> set[str]:
    with app.app_context():
        names = set(sa.inspect(db.engine).get_table_names())
    return {name for name in names if is_managed_schema_name(name, "table")}


def revision(app: Flask) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_upgrade_downgrade_to_base_and_upgrade_again(empty_app):
    models = set(db.metadata.tables)
    with empty_app.app_context():
        upgrade()
    assert revision(empty_app) == HEAD
    assert tables(empty_app) == models | {"alembic_version"}
    with empty_app.app_context():
        downgrade(revision="base")
    assert revision(empty_app) is None
    with empty_app.app_context():
        left = set(sa.inspect(db.engine).get_table_names())
    assert left <= {"alembic_version"}  # everything else is gone, search tables included
    with empty_app.app_context():
        upgrade()
    assert revision(empty_app) == HEAD
    assert differences(empty_app) == []


def test_the_models_and_the_migrations_describe_the_same_schema(app):
    assert revision(app) == HEAD
    assert differences(app) == []


def test_the_comparison_notices_a_difference(app):
    """The check above can fail: a column the models lack is reported."""
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE idempotency_keys ADD COLUMN stray INTEGER")
    try:
        found = differences(app)
        assert [(d[0], d[3].name) for d in found] == [("remove_column", "stray")]
    finally:
        with app.app_context(), db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE idempotency_keys DROP COLUMN stray")
