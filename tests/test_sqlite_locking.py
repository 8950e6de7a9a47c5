"""SQLite under several workers: WAL, a configurable busy timeout, foreign keys on, writers that
take the lock up front, and a lock that outlasts the timeout answers 503, never 500; the
database's files are readable by their owner only."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.extensions import db
from tests.conftest import test_config as config_for
from tests.support import World, assert_problem, build_world
from tests.web_support import post_form, signed_in_client, text

NEW_LEAD = {"firstName": "Ada", "lastName": "Lovelace"}


@pytest.fixture
def sqlite_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Apps over one fresh SQLite file, with settings of the test's choosing."""
    path = tmp_path / "locking.db"
    shutil.copyfile(sqlite_template, path)
    path.chmod(0o600)
    apps: list[Flask] = []

    def make(**settings: object) -> Flask:
        app = create_app(config_for(f"sqlite:///{path}") | settings)
        app.config["DATABASE_PATH"] = str(path)
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def locked(sqlite_app) -> Iterator[tuple[World, Callable[[], sqlite3.Connection]]]:
    """A world whose app waits 200 ms for the write lock, and a way to take that lock."""
    app = sqlite_app(SQLITE_BUSY_TIMEOUT_MS=200)
    world = build_world(app, app.test_client())
    world.alice.get("/api/leads")  # notes the token's first use now, not under the lock
    holders: list[sqlite3.Connection] = []

    def hold_write_lock() -> sqlite3.Connection:
        holder = sqlite3.connect(app.config["DATABASE_PATH"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holders.append(holder)
        return holder

    yield world, hold_write_lock
    for holder in holders:
        holder.close()


def pragma(app: Flask, name: str) -> object:
    with app.app_context():
        return db.session.execute(sql(f"PRAGMA {name}")).scalar()


def test_app_connections_use_wal_foreign_keys_and_the_configured_busy_timeout(sqlite_app):
    app = sqlite_app(SQLITE_BUSY_TIMEOUT_MS=1234)
    assert pragma(app, "journal_mode") == "wal"
    assert pragma(app, "foreign_keys") == 1
    assert pragma(app, "busy_timeout") == 1234
    assert pragma(app, "synchronous") == 1  # NORMAL
    assert pragma(sqlite_app(), "busy_timeout") == 5000  # the default


def test_foreign_keys_are_enforced(sqlite_app):
    app = sqlite_app()
    with app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(
            sql(
                "INSERT INTO memberships (user_id, account_id, role, is_primary, created_at) "
                "VALUES (999, 999, 'admin', 0, '2024-01-01')"
            )
        )
        db.session.commit()


def test_a_lock_held_past_the_busy_timeout_answers_503_with_retry_after(locked):
    world, hold_write_lock = locked
    hold_write_lock()
    started = time.perf_counter()
    response = world.alice.post("/api/leads", json=NEW_LEAD)
    waited = time.perf_counter() - started
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert "busy" in body["detail"]
    assert 0.2 <= waited < 5  # it waited for the lock (the busy timeout), then gave up
    assert world.count() == 0


def test_a_browser_write_under_a_held_lock_gets_the_busy_page(locked):
    world, hold_write_lock = locked
    lead = world.alice.create_lead()
    browser = signed_in_client(world.app, "alice@acme.test")
    page = f"/leads/{lead['id']}"
    token_page = browser.get(page)
    assert token_page.status_code == 200
    hold_write_lock()
    response = post_form(browser, f"{page}/contact", page=page)
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "1"
    assert "busy" in text(response)


def test_a_writer_waits_for_a_lock_released_within_the_busy_timeout(sqlite_app):
    app = sqlite_app(SQLITE_BUSY_TIMEOUT_MS=5000)
    world = build_world(app, app.test_client())
    world.alice.get("/api/leads")
    holder = sqlite3.connect(
        app.config["DATABASE_PATH"], isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, holder.rollback).start()
    try:
        response = world.alice.post("/api/leads", json=NEW_LEAD)
    finally:
        holder.close()
    assert response.status_code == 201


def test_readers_are_not_blocked_by_an_open_write_transaction(locked):
    world, hold_write_lock = locked
    world.alice.create_lead()
    holder = hold_write_lock()
    holder.execute("UPDATE leads SET first_name = 'uncommitted'")
    started = time.perf_counter()
    listing = world.alice.list()
    assert time.perf_counter() - started < 1  # no waiting for the writer
    assert [lead["firstName"] for lead in listing["data"]] == ["Test"]


def test_a_new_database_and_its_wal_files_are_readable_by_their_owner_only(tmp_path):
    """Created 0644 under the usual umask before: anyone on the host could read the leads."""
    path = tmp_path / "instance" / "fresh.db"
    path.parent.mkdir()
    umask = os.umask(0o022)
    try:
        app = create_app(config_for(f"sqlite:///{path}"))
        with app.app_context(), db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (text TEXT)")  # a write: -wal and -shm
            conn.exec_driver_sql("INSERT INTO notes VALUES ('private')")
            modes = {s: stat.S_IMODE(os.stat(f"{path}{s}").st_mode) for s in ("", "-wal", "-shm")}
        with app.app_context():
            db.engine.dispose()
    finally:
        os.umask(umask)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
