"""A request that only read ends its transaction with COMMIT, so that PostgreSQL keeps the
connection's prepared statements (psycopg drops them all on ROLLBACK) and plans each list
query once per connection; anything written, flushed or pending still rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert, literal_column, select, text, update
from sqlalchemy.dialects import postgresql

from app import create_app
from app.database import _only_reads, end_read_transaction
from app.extensions import db
from app.leads import service
from app.models import Account, Lead, Role
from app.permissions import Actor
from tests.conftest import test_config as config_for
from tests.web_support import signed_in_client


@contextmanager
def transaction_ends(world) -> Iterator[list[str]]:
    """The names of the transaction ends ("commit", "rollback") while the block runs."""
    ends: list[str] = []
    with world.app.app_context():
        engine = db.engine

    def on_commit(conn) -> None:
        ends.append("commit")

    def on_rollback(conn) -> None:
        ends.append("rollback")

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    try:
        yield ends
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "rollback", on_rollback)


def test_read_requests_end_with_commit(world):
    lead = world.alice.create_lead(firstName="Ana", lastName="Reader")
    world.alice.get("/api/leads")  # notes the token's use (a write of its own) beforehand
    with transaction_ends(world) as ends:
        assert world.alice.get("/api/leads").status_code == 200
        assert world.alice.get(f"/api/leads/{lead['id']}").status_code == 200
        assert world.alice.get("/api/leads?search=reader&sort=lastName").status_code == 200
        assert world.alice.get("/api/leads/999999").status_code == 404
    assert ends == ["commit"] * 4


def test_pages_that_only_read_end_with_commit(world):
    lead = world.alice.create_lead(firstName="Ana", lastName="Reader")
    browser = signed_in_client(world.app, "alice@acme.test")
    browser.get("/leads")
    with transaction_ends(world) as ends:
        assert browser.get("/leads?search=reader").status_code == 200
        assert browser.get("/leads", headers={"HX-Request": "true"}).status_code == 200
        assert browser.get(f"/leads/{lead['id']}").status_code == 200
        assert browser.get(f"/leads/{lead['id']}/edit").status_code == 200
    assert ends == ["commit"] * 4


def test_a_refused_write_still_rolls_back(world):
    lead = world.alice.create_lead(firstName="Ana", lastName="Writer")
    with transaction_ends(world) as ends:
        response = world.alice.patch(
            f"/api/leads/{lead['id']}", json={"firstName": "Bo"}, headers={"If-Match": '"0-0"'}
        )
    assert response.status_code == 412
    assert "rollback" in ends
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
        end_read_transaction()
        db.session.remove()
    assert _first_name(world, lead_id) == "Ana"


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
