"""A request that only read ends its transaction with COMMIT, so that PostgreSQL keeps the
connection's prepared statements (psycopg drops them all on ROLLBACK) and plans each list
query once per connection; anything written, flushed or pending still rolls back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, text, update

from app.database import end_read_transaction
from app.extensions import db
from app.models import Lead
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


def test_postgres_plans_the_unfiltered_list_once_but_a_filter_every_time(world):
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
