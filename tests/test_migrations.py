"""Migrations: upgrade, downgrade to nothing and upgrade again on fresh SQLite and PostgreSQL
databases; and the models and the migrations describe the same schema."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from app import create_app
from app.database import is_managed_schema_name
from app.extensions import db
from app.models import User
from tests.conftest import _drop_database, _server_command
from tests.conftest import test_config as config_for
from tests.support import Api, token_for

HEAD = "0005"


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


# Revision 0005 on a database with data ---------------------------------------------------------

T0 = datetime(2024, 3, 1, 9, 0, 0)
ROWS_0004 = {
    "accounts": [
        {"id": 1, "public_id": "11111111", "name": "Acme", "live_leads": 2, "archived_leads": 0,
         "data_version": 4, "created_at": T0},
    ],
    "users": [
        # Ana made Acme with `flask users create` (or the first-run setup): her own password.
        {"id": 1, "email": "ana@acme.test", "password_hash": "h1", "session_version": 1,
         "created_at": T0 + timedelta(seconds=1)},
        # Dan was added in Settings a day later, with a temporary password Ana saw.
        {"id": 2, "email": "dan@acme.test", "password_hash": "h2", "session_version": 3,
         "created_at": T0 + timedelta(days=1)},
    ],
    "memberships": [
        {"id": 1, "user_id": 1, "account_id": 1, "role": "admin", "is_primary": True,
         "created_at": T0},
        {"id": 2, "user_id": 2, "account_id": 1, "role": "member", "is_primary": True,
         "created_at": T0 + timedelta(days=1)},
    ],
    "api_tokens": [
        {"id": 1, "account_id": 1, "user_id": 1, "name": "zapier", "token_hash": "a" * 64,
         "hint": "pl_abc…wxyz", "read_only": False, "created_at": T0, "last_used_at": None,
         "revoked_at": None},
    ],
    "leads": [
        {"id": n, "account_id": 1, "version": 1, "created_by": "ana@acme.test",
         "created_at": T0, "updated_at": T0, "first_name": f"Lead{n}", "last_name": "Keep",
         "company": f"Firm{n}", "archived": False}
        for n in (1, 2)
    ],  # lead 3 was deleted: only its audit entries remain
    "audit_events": [
        {"id": n, "account_id": 1, "lead_id": lead, "event": event, "user_email": "ana@acme.test",
         "data": {"changes": {}}, "created": T0}
        for n, lead, event in ((1, 1, "lead_created"), (2, 2, "lead_created"),
                               (3, 3, "lead_created"), (4, 3, "lead_deleted"))
    ],
    "idempotency_keys": [
        {"id": 1, "account_id": 1, "credential": "token:1", "key": "k-1", "request_hash": "b" * 64,
         "status": 201, "body": "{}", "location": "/api/leads/2", "etag": '"2-1"',
         "created_at": T0},
    ],
}  # fmt: skip


def reflected(conn: sa.Connection) -> sa.MetaData:
    """The tables as the database has them (the models are newer)."""
    found = sa.MetaData()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        found.reflect(conn, only=list(ROWS_0004))
    return found


def fill(app: Flask) -> None:
    """The rows above; on PostgreSQL each sequence where those rows left it (lead 3 was made,
    then deleted)."""
    with app.app_context(), db.engine.begin() as conn:
        found = reflected(conn)
        for name, rows in ROWS_0004.items():
            conn.execute(found.tables[name].insert(), rows)
            if conn.dialect.name == "postgresql":
                last = 3 if name == "leads" else max(row["id"] for row in rows)
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {last})"
                )


def dump(app: Flask) -> dict[str, list[tuple]]:
    """Every row of the tables above, by id, without the columns 0005 adds."""
    with app.app_context(), db.engine.connect() as conn:
        found = reflected(conn)
        result = {}
        for name in ROWS_0004:
            table = found.tables[name]
            columns = [c for c in table.c if c.name != "must_change_password"]
            rows = conn.execute(sa.select(*columns).order_by(table.c.id)).all()
            result[name] = [tuple(row) for row in rows]
        return result


def sqlite_schema(app: Flask) -> dict[str, object]:
    """The SQLite schema's indexes and triggers (their SQL), foreign keys and AUTOINCREMENTs."""
    with app.app_context(), db.engine.connect() as conn:
        objects = conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "AND sql IS NOT NULL AND tbl_name != 'invitations'"
        ).all()
        keys = {
            name: conn.exec_driver_sql(f"PRAGMA foreign_key_list({name})").all()
            for name in ROWS_0004
        }
        tables = dict(
            conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
        )
    autoincrement = {name for name in ROWS_0004 if "AUTOINCREMENT" in tables[name]}
    return {"objects": sorted(objects), "keys": keys, "autoincrement": autoincrement}


def test_0005_keeps_every_row_and_never_reuses_a_deleted_leads_id(empty_app):
    with empty_app.app_context():
        upgrade(revision="0004")
    fill(empty_app)
    before = dump(empty_app)
    sqlite = empty_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    schema_0004 = sqlite_schema(empty_app) if sqlite else None

    with empty_app.app_context():
        upgrade(revision="0005")
    assert dump(empty_app) == before
    with empty_app.app_context():
        flags = dict(db.session.execute(select(User.email, User.must_change_password)).all())
    assert flags == {"ana@acme.test": False, "dan@acme.test": True}
    if sqlite:
        schema = sqlite_schema(empty_app)
        assert schema["autoincrement"] == set(ROWS_0004)
        assert schema["objects"] == schema_0004["objects"]  # every index and search trigger
        assert schema["keys"] == schema_0004["keys"]
    assert differences(empty_app) == []

    # The app on the migrated database: the next lead's id is past the deleted lead 3, and
    # search (kept by triggers on SQLite) finds old and new leads.
    api = Api(empty_app.test_client(), token_for(empty_app, "ana@acme.test", "Acme"), "ana")
    new = api.create_lead(firstName="Newest", lastName="Keep", company="Firm9")
    assert new["id"] == 4
    history = api.get("/api/leads/4").get_json()["auditLog"]
    assert [entry["event"] for entry in history] == ["lead_created"]  # none of lead 3's
    assert sorted(api.ids("search=firm")) == [1, 2, 4]

    at_0005 = dump(empty_app)
    with empty_app.app_context():
        downgrade(revision="0004")
    assert dump(empty_app) == at_0005
    assert [row[0] for row in at_0005["leads"]] == [1, 2, 4]
    if sqlite:
        assert sqlite_schema(empty_app) == schema_0004
