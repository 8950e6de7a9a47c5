"""On PostgreSQL, a request that only reads runs outside any transaction (autocommit: under
READ COMMITTED every statement takes its own snapshot anyway), which spares two round trips
and keeps the connection's prepared statements (psycopg drops them all on ROLLBACK); anything
that may write, lock or stream runs in a transaction, so it commits or rolls back as one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert, literal_column, select, text, update
from sqlalchemy.dialects import postgresql

from app import create_app
from app.database import _only_reads
from app.extensions import db
from app.leads import bulk, service
from app.models import Account, Lead, Role
from app.permissions import Actor
from tests.conftest import test_config as config_for
from tests.web_support import post_form, signed_in_client


def _postgres_only(world) -> None:
    if world.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL's autocommit (SQLite reads in a deferred transaction)")


@contextmanager
def server_transactions(world) -> Iterator[list[tuple[str, str]]]:
    """Each statement run while the block runs, with the server's transaction state after it
    ("IDLE": no transaction open, "INTRANS": inside one)."""
    seen: list[tuple[str, str]] = []
    with world.app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        status = cursor.connection.info.transaction_status.name
        seen.append((" ".join(statement.split()), status))

    def commit(conn) -> None:
        seen.append(("COMMIT", ""))

    event.listen(engine, "after_cursor_execute", record)
    event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", record)
        event.remove(engine, "commit", commit)


def test_postgres_reads_run_outside_any_transaction(world, list_cache_off):
    _postgres_only(world)
    lead = world.alice.create_lead(firstName="Ana", lastName="Reader")
    world.alice.get("/api/leads")  # notes the token's use (a write of its own) beforehand
    browser = signed_in_client(world.app, "alice@acme.test")
    browser.get("/leads")
    with server_transactions(world) as statements:
        for path in ("/api/leads", f"/api/leads/{lead['id']}", "/api/leads/999999"):
            assert world.alice.get(path).status_code in (200, 404)
        assert world.alice.get("/api/leads?search=reader&sort=lastName").status_code == 200
        assert browser.get("/leads?search=reader").status_code == 200
        assert browser.get(f"/leads/{lead['id']}/edit").status_code == 200
    assert len(statements) > 6
    assert {status for _, status in statements} == {"IDLE"}, statements


def test_postgres_runs_a_write_and_its_reads_in_one_transaction(world):
    _postgres_only(world)
    lead = world.alice.create_lead(firstName="Ana", lastName="Writer")
    browser = signed_in_client(world.app, "alice@acme.test")
    with server_transactions(world) as statements:
        patched = world.alice.patch(f"/api/leads/{lead['id']}", json={"firstName": "Bo"})
        archived = post_form(browser, f"/leads/{lead['id']}/archive")
    assert patched.status_code == 200 and archived.status_code in (200, 302, 303)
    locks = [i for i, (sql, _) in enumerate(statements) if sql.endswith("FOR UPDATE")]
    assert len(locks) == 2, statements
    for lock in locks:  # from the row lock to the end of its transaction
        end = statements.index(("COMMIT", ""), lock)
        transaction = statements[lock:end]
        assert {status for _, status in transaction} == {"INTRANS"}, transaction
        assert any(sql.startswith("UPDATE leads") for sql, _ in transaction), transaction
        assert any(sql.startswith("INSERT INTO audit_events") for sql, _ in transaction)
    assert world.alice.get(f"/api/leads/{lead['id']}").json["firstName"] == "Bo"


def test_a_refused_write_changes_nothing(world):
    lead = world.alice.create_lead(firstName="Ana", lastName="Writer")
    response = world.alice.patch(
        f"/api/leads/{lead['id']}", json={"firstName": "Bo"}, headers={"If-Match": '"0-0"'}
    )
    assert response.status_code == 412
    assert world.alice.get(f"/api/leads/{lead['id']}").json["firstName"] == "Ana"


def _first_name(world, lead_id: int) -> str:
    with world.app.app_context():
        return db.session.scalar(select(Lead.first_name).where(Lead.id == lead_id))


@pytest.mark.parametrize("how", ["pending", "flushed", "statement"])
def test_a_transaction_that_changed_anything_is_not_committed(world, how):
    lead_id = world.alice.create_lead(firstName="Ana", lastName="Kept")["id"]
    with world.app.test_request_context():
        lead = db.session.get(Lead, lead_id)
        if how == "statement":
            db.session.execute(update(Lead).where(Lead.id == lead_id).values(first_name="Bo"))
        else:
            lead.first_name = "Bo"
            if how == "flushed":
                db.session.flush()
        db.session.remove()  # the end of a request that did not commit
    assert _first_name(world, lead_id) == "Ana"


def test_changes_made_outside_a_service_still_commit_or_roll_back_as_one(world):
    """Code that writes without begin_write (a CLI script, a test helper) still gets a
    transaction: the first statement that may write opens it."""
    with world.app.app_context():
        db.session.add(Account(name="Half", public_id="90000001"))
        db.session.flush()
        db.session.execute(update(Account).where(Account.name == "Acme").values(name="Acme 2"))
        db.session.rollback()
        assert db.session.scalar(select(Account.id).where(Account.name == "Half")) is None
        assert db.session.scalar(select(Account.id).where(Account.name == "Acme")) is not None
        db.session.add(Account(name="Whole", public_id="90000002"))
        db.session.commit()
        assert db.session.scalar(select(Account.id).where(Account.name == "Whole")) is not None
        db.session.remove()


def test_statements_that_need_no_transaction_still_run(world):
    """VACUUM refuses to run inside a transaction; the bulk load's ANALYZE step runs it."""
    with world.app.app_context():
        bulk.refresh_statistics()
        db.session.remove()


def _prepared(world) -> list[tuple[str, int]]:
    """The statements prepared on the app's (only) pooled connection, with their generic plans."""
    with world.app.app_context():
        query = text("SELECT statement, generic_plans FROM pg_prepared_statements")
        return [(row.statement, row.generic_plans) for row in db.session.execute(query)]


def test_postgres_plans_the_unfiltered_list_once_but_a_filter_every_time(world, list_cache_off):
    if world.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL's prepared statements")
    lead = world.alice.create_lead(firstName="Ana", lastName="Planned", processStage="Qualified")
    for _ in range(12):  # psycopg prepares on the 5th run, PostgreSQL goes generic on the 6th
        assert world.alice.get("/api/leads").status_code == 200
        assert world.alice.get(f"/api/leads/{lead['id']}").status_code == 200
        assert world.alice.get("/api/leads?processStage=Qualified").status_code == 200
    prepared = _prepared(world)
    pages = [plans for sql, plans in prepared if "LIMIT 10 OFFSET 0" in sql]
    assert pages and pages[0] > 0, prepared
    assert any("FROM api_tokens" in sql and plans > 0 for sql, plans in prepared), prepared
    assert any("FROM audit_events" in sql for sql, _ in prepared), prepared
    # A filter's best plan depends on how common its value is: never a generic plan for it.
    assert not [sql for sql, _ in prepared if "process_stage" in sql.split("WHERE", 1)[-1]]


def test_postgres_prepares_nothing_when_told_not_to(world, database_url):
    """Behind PgBouncer in transaction mode, prepared statements must stay off."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's prepared statements")
    app = create_app(config_for(database_url) | {"DATABASE_PREPARED_STATEMENTS": False})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.alice.token}"}
    for _ in range(12):
        assert client.get("/api/leads", headers=headers).status_code == 200
    with app.app_context():
        prepared = db.session.execute(text("SELECT name FROM pg_prepared_statements")).all()
        db.session.remove()
        db.engine.dispose()
    assert prepared == []


def test_a_server_side_cursor_still_streams(world):
    world.alice.create_lead(firstName="Ana", lastName="Streamed")
    with world.app.app_context():
        streamed = select(Lead.last_name).execution_options(stream_results=True)
        assert db.session.execute(streamed).scalars().all() == ["Streamed"]


@pytest.mark.parametrize(
    ("statement", "reads"),
    [
        (select(Lead.id).where(Lead.id == 1), True),
        (select(Lead.id).union(select(Lead.id)), True),
        (text("SELECT 1"), False),  # SQL text could be anything
        (update(Lead).values(first_name="x"), False),
        (select(Lead.id).with_for_update(), False),  # locks rows: needs a transaction
        (select(Lead.id).where(Lead.id.in_(select(Lead.id).with_for_update())), False),
        (select(insert(Account).values(name="x").returning(Account.id).cte("made")), False),
        (select(literal_column("1")).select_from(select(Lead.id).cte("ids")), True),
    ],
)
def test_only_a_select_without_writes_counts_as_a_read(statement, reads):
    assert _only_reads(statement.compile(dialect=postgresql.dialect())) is reads


def test_a_write_leaves_the_accounts_counts_current_for_the_rest_of_the_request(world):
    """The UI's loaded account must not show the counts from before a write it just made."""
    with world.app.test_request_context():
        account = db.session.scalar(select(Account).where(Account.name == "Acme"))
        before = (account.live_leads, account.data_version)
        actor = Actor(email="alice@acme.test", role=Role.ADMIN)
        service.create(account, {"first_name": "Ana", "last_name": "Counted"}, actor)
        assert (account.live_leads, account.data_version) == (before[0] + 1, before[1] + 1)
        db.session.remove()


def test_an_operators_engine_options_keep_the_apps_own():
    """Replacing execution_options wholesale would keep autocommit but lose the flag that makes
    writes open their transaction: every write would then commit statement by statement."""
    from app.config import merge_engine_options
    from app.database import POSTGRES_AUTOCOMMIT

    given = {"pool_size": 3, "execution_options": {"logging_token": "web"}}
    merged = merge_engine_options(dict(POSTGRES_AUTOCOMMIT), given)
    assert merged["pool_size"] == 3
    assert merged["execution_options"] == (
        POSTGRES_AUTOCOMMIT["execution_options"] | {"logging_token": "web"}
    )
