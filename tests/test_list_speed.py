"""The fast list paths return exactly what the spec's plain definition returns.

A reference implementation in Python (filter, search and sort the account's leads as
lead-reference.md defines them) is the oracle; the indexed queries, the two-part sort for
empty values, the trigram search and the cached counts must agree with it on both databases.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db
from app.leads.fields import FIELDS, SEARCHABLE, SORTABLE
from tests.support import World, lead_queries

NAMES = [
    ("Émile", "Zola", "Ümlaut GmbH", "emile@zola.example.com", "Qualified"),
    ("anna", "O'Brien", "acme inc", None, "Initial Contact"),
    ("Anna", "obrien", "ACME Inc", "anna@acme.example.com", None),
    ("Bob", "Smith", None, "bob@50percent.example.com", "Qualified"),
    ("Carl", "Smith", "50% Off Shop", None, "Won"),
    ("Dana", "a_b", "AxB Corp", "dana@axb.example.com", "Lost"),
    ("Eve", "Zed", "émile & co", "eve@zed.example.com", "Initial Contact"),
    ("Finn", "Ng", "Zürich AG", None, None),
]


def _seed(world: World) -> list[dict[str, Any]]:
    leads = []
    for n, (first, last, company, email, stage) in enumerate(NAMES):
        leads.append(
            world.alice.create_lead(
                firstName=first,
                lastName=last,
                company=company,
                email=email,
                processStage=stage,
                numberOfEmployees=None if n % 3 == 0 else n * 10,
                monthlyTransactionVolume=None if n % 4 == 1 else n * 1000.25,
                interestedInSwitching=[True, False, None][n % 3],
                lastContacted=None if n % 2 else f"2024-03-0{n + 1}T10:00:00Z",
                notes=f"note {n} 50% off" if n % 2 else None,
            )
        )
    world.carol.create_lead(firstName="Other", lastName="Account", company="acme inc")
    world.alice.post(f"/api/leads/{leads[-1]['id']}/archive")
    leads[-1]["archived"] = True
    return leads


def _sort_key(lead: dict[str, Any], json_name: str):
    value = lead[json_name]
    if isinstance(value, str):
        value = value.translate({c: c + 32 for c in range(65, 91)})  # lower(), ASCII only
    return value


def _reference_order(leads: list[dict], sort: list[tuple[str, bool]]) -> list[int]:
    """Sort as the spec says: keys in turn, empty values last either way, ties by id."""
    ordered = sorted(leads, key=lambda lead: lead["id"], reverse=sort[0][1])
    for json_name, descending in reversed(sort):
        filled = [lead for lead in ordered if lead[json_name] is not None]
        empty = [lead for lead in ordered if lead[json_name] is None]
        filled.sort(key=lambda lead: _sort_key(lead, json_name), reverse=descending)
        ordered = filled + empty
    return [lead["id"] for lead in ordered]


def _matches(lead: dict[str, Any], words: list[str]) -> bool:
    texts = [str(lead[f.json]).lower() for f in SEARCHABLE if lead[f.json] is not None]
    return all(any(w.lower() in t for t in texts) for w in words)


@pytest.mark.parametrize("json_name", list(SORTABLE))
@pytest.mark.parametrize("descending", [False, True])
def test_every_sort_matches_the_plain_definition(world, json_name, descending):
    leads = [lead for lead in _seed(world) if not lead["archived"]]
    expected = _reference_order(leads, [(json_name, descending)])
    sign = "-" if descending else ""
    pages = [
        world.alice.ids(f"sort={sign}{json_name}&pageSize=3&page={page}") for page in (1, 2, 3)
    ]
    assert [i for page in pages for i in page] == expected


def test_multi_key_sort_matches_the_plain_definition(world):
    leads = [lead for lead in _seed(world) if not lead["archived"]]
    expected = _reference_order(leads, [("processStage", True), ("company", False)])
    assert world.alice.ids("sort=-processStage,company&pageSize=100") == expected


@pytest.mark.parametrize(
    "search",
    [
        "acme",  # trigram path, mixed case in the data
        "ACME inc",  # two words
        "émile",  # accents, and a capital É in the data
        "ÉMILE",
        "zürich",
        "50%",  # % is literal
        "a_b",  # _ is literal
        "a",  # one character: the fallback
        "ng",  # two characters
        "é",  # one non-ASCII character
        "Ü",
        "smith ng",  # a long and a short word
        "o'brien",
        "nothing-matches-this",
    ],
)
def test_search_matches_the_plain_definition(world, search):
    leads = [lead for lead in _seed(world) if not lead["archived"]]
    expected = sorted(
        (lead for lead in leads if _matches(lead, search.split())),
        key=lambda lead: (lead["createdAt"], lead["id"]),
        reverse=True,
    )
    body = world.alice.list(f"search={search}&pageSize=100")
    assert [lead["id"] for lead in body["data"]] == [lead["id"] for lead in expected]
    assert body["totalCount"] == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        "processStage=qualified",
        "processStage=Qualified&processStage=WON",
        "processStage=",
        "company=ACME%20INC",
        "numberOfEmployees=10,40",
        "numberOfEmployees=",
        "monthlyTransactionVolume=2000.5,",
        "interestedInSwitching=true",
        "interestedInSwitching=",
        "lastContacted=2024-03-03",
        "lastContacted=2024-03-01,2024-03-05",
        "search=acme&processStage=initial%20contact",
    ],
)
def test_filtered_counts_equal_the_rows(world, query):
    _seed(world)
    body = world.alice.list(f"{query}&pageSize=100")
    assert body["totalCount"] == len(body["data"])
    again = world.alice.list(f"{query}&pageSize=100")  # the cached count
    assert again["totalCount"] == body["totalCount"]


def test_counts_stay_exact_through_every_kind_of_write(world):
    api = world.alice
    leads = _seed(world)

    def counts() -> tuple[int, int, int]:
        return (
            api.list()["totalCount"],
            api.list("archived=true")["totalCount"],
            api.list("processStage=Qualified")["totalCount"],
        )

    assert counts() == (7, 1, 2)
    new = api.create_lead(processStage="Qualified")
    assert counts() == (8, 1, 3)
    api.post(f"/api/leads/{new['id']}/archive")
    assert counts() == (7, 2, 2)
    api.delete(f"/api/leads/{new['id']}/archive")
    assert counts() == (8, 1, 3)
    api.patch(f"/api/leads/{new['id']}", json={"processStage": "Won"})
    assert counts() == (8, 1, 2)
    refused = api.patch(f"/api/leads/{new['id']}", json={"processStage": "x" * 101})
    assert refused.status_code == 400
    assert counts() == (8, 1, 2)
    api.delete(f"/api/leads/{new['id']}")
    api.delete(f"/api/leads/{leads[-1]['id']}")  # an archived one
    assert counts() == (7, 0, 2)


def _explain(world: World, statement: str, parameters: Any) -> str:
    with world.app.app_context():
        connection = db.session.connection()
        connection.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: show index use
        return "\n".join(
            r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        )


def _statements(world: World, path: str) -> list[tuple[str, Any]]:
    """The SQL statements a request runs on the leads table, as sent to the driver."""
    with lead_queries(world.app) as captured:
        assert world.alice.get(path).status_code == 200
    return captured


@pytest.mark.parametrize(
    "path",
    [
        "/api/leads",
        "/api/leads?processStage=Qualified",
        "/api/leads?sort=-lastContacted",
        "/api/leads?search=acme",
        "/api/leads?lastContacted=2024-03-01,2024-03-09",
    ],
)
def test_postgres_serves_the_list_from_indexes(world, path):
    if world.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("EXPLAIN check for PostgreSQL plans")
    _seed(world)
    with world.app.app_context():
        from app import cache

        cache.forget_all()
    statements = _statements(world, path)
    assert statements
    for statement, parameters in statements:
        plan = _explain(world, statement, parameters)
        assert "Seq Scan on leads" not in plan, plan
        assert "Index" in plan, plan


def test_a_filtered_page_in_the_default_order_reads_no_lead(world):
    """The matches of a date range come sorted by creation from the filter's index alone
    (every sort index ends with created_at): no lead is read until the page's own."""
    _seed(world)
    query_string = "lastContacted=2024-03-01,2024-03-09"
    path = f"/api/leads?{query_string}"
    expected = world.alice.ids(query_string)
    with world.app.app_context():
        from app import cache

        cache.forget_all()
    page_ids = [
        (statement, parameters)
        for statement, parameters in _statements(world, path)
        if "last_contacted >=" in statement and "count(" not in statement
    ]
    assert len(page_ids) == 1  # gathered at once: no walk of the sort order first
    statement, parameters = page_ids[0]
    with world.app.app_context():
        connection = db.session.connection()
        if world.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            assert "COVERING INDEX ix_leads_sort_last_contacted" in str(plan.all())
        else:  # PostgreSQL's planner picks among indexes by statistics a few leads lack
            plan = _explain(world, statement, parameters)
            assert "Seq Scan on leads" not in plan and "Index" in plan, plan
    assert expected and world.alice.ids(query_string) == expected


def _migration():
    path = Path(__file__).parent.parent / "migrations" / "versions" / "0002_list_speed.py"
    spec = importlib.util.spec_from_file_location("migration_0002", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_and_sort_indexes_cover_the_catalogue():
    """A field added to the catalogue needs a migration for its search and sort indexes."""
    migration = _migration()
    assert [f.name for f in SEARCHABLE] == migration.SEARCHED
    text_sorted = [f.name for f in SORTABLE.values() if f.is_text]
    other_sorted = [f.name for f in SORTABLE.values() if not f.is_text and f.name != "id"]
    assert text_sorted == migration.SORTED_TEXT
    assert other_sorted == migration.SORTED_OTHER
    text_columns = [f.name for f in FIELDS if f.is_text]
    assert list(migration.TEXT_COLUMNS) == text_columns


@pytest.mark.parametrize(
    "query",
    [
        "processStage=Qualified",
        "processStage=Won&sort=lastName",
        "interestedInSwitching=true&sort=-lastContacted",
        "numberOfEmployees=10,60&sort=-numberOfEmployees",
        "search=acme&sort=company",
        "search=smith&processStage=Qualified",
        "search=%C3%89MILE",  # ÉMILE: accents and case, tested lead by lead in a walk
        "search=z%C3%BCrich&sort=company",
        "search=50%25",  # % is literal
        "search=a_b",  # _ is literal
        "search=ACME%20inc",
        "lastContacted=2024-03-01,2024-03-09&sort=email",
    ],
)
@pytest.mark.parametrize("page", [1, 2])
def test_walk_and_gather_plans_give_the_same_page(world, monkeypatch, query, page):
    """Both ways of finding a filtered page (plans.py) return what the plain order says."""
    from app.leads import plans

    for _ in range(3):
        _seed(world)  # enough leads that pages of 3 have several matches
    path = f"{query}&pageSize=3&page={page}"
    everything = world.alice.ids(f"{query}&pageSize=100")
    expected = everything[(page - 1) * 3 : page * 3]
    monkeypatch.setattr(plans, "MIN_PREFIX", 1)
    monkeypatch.setattr(plans, "MAX_PREFIX", 1)  # the walk gives up: gather
    assert world.alice.ids(path) == expected
    monkeypatch.setattr(plans, "MIN_PREFIX", 1_000)
    monkeypatch.setattr(plans, "MAX_PREFIX", 1_000)  # the walk sees every lead
    monkeypatch.setattr(plans, "COVERED_GATHER_SHARE", 0)  # and is never skipped
    assert world.alice.ids(path) == expected
