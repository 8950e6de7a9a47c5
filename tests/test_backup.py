"""`flask backup PATH`: a consistent copy of the live SQLite database that a fresh app can serve
(every committed lead, nothing uncommitted); PostgreSQL is pointed to pg_dump."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent
from tests.conftest import test_config as config_for
from tests.support import Api, World


def on_sqlite(world: World) -> Path:
    url = world.app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's backup; PostgreSQL backs up with pg_dump")
    return Path(url.removeprefix("sqlite:///"))


def backup(world: World, *args: str):
    return world.app.test_cli_runner().invoke(args=["backup", *args])


def test_a_backup_taken_during_a_write_holds_every_committed_lead(world, tmp_path):
    live = on_sqlite(world)
    leads = [world.alice.create_lead(firstName=f"Lead{n}", company="Acme") for n in range(30)]
    world.alice.post(f"/api/leads/{leads[0]['id']}/archive")
    writer = sqlite3.connect(live, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE leads SET first_name = 'uncommitted'")
    writer.execute("DELETE FROM audit_events")
    try:
        result = backup(world, str(tmp_path / "copy.db"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.output
    copy = tmp_path / "copy.db"
    assert copy.stat().st_mode & 0o777 == 0o600  # as private as the live database
    with sqlite3.connect(copy) as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    restored = create_app(config_for(f"sqlite:///{copy}"))
    api = Api(restored.test_client(), world.alice.token, world.alice.email)
    found = api.list("pageSize=100")["data"] + api.list("pageSize=100&archived=true")["data"]
    assert sorted(lead["id"] for lead in found) == [lead["id"] for lead in leads]
    assert {lead["firstName"] for lead in found} == {f"Lead{n}" for n in range(30)}
    with restored.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 31
        db.engine.dispose()


def test_a_backup_never_overwrites_a_file_without_force(world, tmp_path):
    on_sqlite(world)
    world.alice.create_lead()
    (tmp_path / "backups").mkdir()
    target = tmp_path / "backups" / "existing.db"
    target.write_bytes(b"keep me")
    refused = backup(world, str(target))
    assert refused.exit_code == 2
    assert "--force" in refused.output
    assert target.read_bytes() == b"keep me"
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind
    forced = backup(world, str(target), "--force")
    assert forced.exit_code == 0, forced.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT count(*) FROM leads").fetchone() == (1,)


def test_a_backup_into_a_missing_directory_is_refused(world, tmp_path):
    on_sqlite(world)
    result = backup(world, str(tmp_path / "nowhere" / "copy.db"))
    assert result.exit_code == 2
    assert "No directory" in result.output


def test_on_postgresql_the_backup_command_points_to_pg_dump(world, tmp_path):
    if not world.app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    result = backup(world, str(tmp_path / "copy.dump"))
    assert result.exit_code == 1
    assert "pg_dump --format=custom" in result.output
    assert "pg_restore" in result.output
    assert not (tmp_path / "copy.dump").exists()
