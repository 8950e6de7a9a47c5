"""Properties over generated input: whatever a client sends, the API never fails with a 5xx,
refuses cleanly (nothing changed) or stores exactly what it answers."""

from __future__ import annotations

import json
import math
from datetime import UTC, timedelta, timezone
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.leads.fields import BY_JSON, FILTERABLE, SORTABLE, Field, Kind
from tests.support import Api, assert_problem

pytestmark = pytest.mark.slow

# The `world` fixture is built once per test and shared by its examples: each example starts
# from the state the previous ones left, which is fine for properties that hold in any state.
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Query strings ------------------------------------------------------------------------------

PARAMS = ["page", "pageSize", "search", "sort", "archived", *FILTERABLE, *BY_JSON, "auditLog"]

numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.integers(min_value=-(2**31), max_value=2**31),
    st.integers(min_value=0, max_value=200),
).map(str)
decimals = st.decimals(allow_nan=True, allow_infinity=True).map(str)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])).map(
        lambda d: d.isoformat()
    ),
    st.datetimes().map(lambda d: d.isoformat()),
)
scalars = st.one_of(numbers, decimals, dates, st.sampled_from(["", "true", "false", "null"]))
sort_values = st.lists(
    st.tuples(st.sampled_from(["", "-", "+", "--"]), st.sampled_from([*SORTABLE, "notes", "x"])),
    min_size=1,
    max_size=6,
).map(lambda keys: ",".join(sign + name for sign, name in keys))
values = st.one_of(
    scalars,
    st.text(max_size=40),
    st.lists(st.one_of(scalars, st.just("")), min_size=2, max_size=3).map(",".join),
    sort_values,
)


@st.composite
def query_strings(draw) -> str:
    """A query string of real and made-up parameters; some values are raw, invalid UTF-8."""
    parts = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        key = draw(st.one_of(st.sampled_from(PARAMS), st.text(max_size=12)))
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            value = quote_from_bytes(draw(st.binary(max_size=12)), safe="")
        else:
            value = quote(draw(values), safe=",")
        parts.append(f"{quote(key, safe='')}={value}")
    return "&".join(parts)


@pytest.fixture
def seeded(world) -> Api:
    """A few varied leads, so that filters, search and sort have something to work on."""
    api = world.alice
    api.create_lead(firstName="Ada", company="Acme", numberOfEmployees=50, source="Website")
    api.create_lead(
        firstName="Ben",
        monthlyTransactionVolume=125000.5,
        interestedInSwitching=True,
        lastContacted="2024-03-01T10:00:00Z",
    )
    api.create_lead(firstName="Cy", email="cy@example.com", archived=True)
    return api


@SETTINGS
@given(query=query_strings())
def test_list_answers_200_or_a_400_problem_for_any_query_string(seeded, query):
    response = seeded.get(f"/api/leads?{query}")
    assert response.status_code in (200, 400), (query, response.get_data(as_text=True))
    if response.status_code == 400:
        assert assert_problem(response, 400)["errors"]
        return
    body = response.get_json()
    assert set(body) == {"data", "totalCount", "totalPages", "currentPage"}
    assert 0 <= len(body["data"]) <= body["totalCount"] <= 3  # the seeded leads at most
    assert body["currentPage"] >= 1
    assert math.ceil(body["totalCount"] / 100) <= body["totalPages"] <= body["totalCount"]
    assert all("auditLog" not in lead for lead in body["data"])


# JSON bodies --------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def plausible(field: Field) -> st.SearchStrategy[Any]:
    """Values near the field's rules: valid ones, edge cases and near misses."""
    limit = field.max_length or 100
    match field.kind:
        case Kind.EMAIL:
            return st.one_of(st.emails(), st.text(max_size=30))
        case Kind.PHONE:
            return st.from_regex(r"\+?[0-9 ().\-a]{0,20}", fullmatch=True)
        case Kind.URL:
            return st.one_of(
                st.sampled_from(
                    ["https://example.com/a.png", "javascript:alert(1)", "http://", "ftp://e.com"]
                ),
                st.text(max_size=30).map(lambda t: "https://e.com/" + t),
            )
        case Kind.INTEGER:
            return st.one_of(st.integers(-5, 10**8), st.integers(), st.floats(0, 100))
        case Kind.MONEY:
            return st.one_of(
                st.integers(-5, 10**14),
                st.floats(-1, 1e14, allow_nan=False).map(lambda x: round(x, 2)),
                st.floats(-1, 1e15, allow_nan=False),
            )
        case Kind.BOOLEAN:
            return st.one_of(st.booleans(), st.none())
        case Kind.DATETIME:
            return st.one_of(dates, st.text(max_size=25))
    return st.one_of(
        st.text(max_size=min(limit, 40)),
        st.integers(limit - 1, limit + 1).map(lambda n: "x" * n),
        st.text(st.characters(max_codepoint=0x1F), max_size=3),
    )


field_values = {f.json: st.one_of(plausible(f), json_values) for f in BY_JSON.values()}
names = st.text(min_size=1, max_size=30)
lead_bodies = st.one_of(
    st.fixed_dictionaries(
        {"firstName": names, "lastName": names},
        optional={k: val for k, val in field_values.items() if k not in ("firstName", "lastName")},
    ),
    st.fixed_dictionaries({}, optional={**field_values, "auditLog": json_values}),
    st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    json_values,
)


def send(api: Api, method: str, path: str, body: Any):
    data = json.dumps(body)  # floats as Python writes them (none is NaN or infinite)
    return api.request(method, path, data=data, content_type="application/json")


def read(api: Api, lead_id: int) -> dict[str, Any]:
    body = api.get(f"/api/leads/{lead_id}").get_json()
    body.pop("auditLog")
    return body


@SETTINGS
@given(body=lead_bodies)
def test_create_never_fails_and_stores_what_it_answers(world, body):
    counts = world.count(), world.audit_count()
    response = send(world.alice, "POST", "/api/leads", body)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
        assert (world.count(), world.audit_count()) == counts
        return
    assert response.status_code == 201
    lead = response.get_json()
    assert read(world.alice, lead["id"]) == lead
    assert (world.count(), world.audit_count()) == (counts[0] + 1, counts[1] + 1)


@pytest.fixture
def patched(world) -> dict[str, Any]:
    return world.alice.create_lead(company="Acme", numberOfEmployees=5, lastContacted="2024-03-01")


@SETTINGS
@given(body=lead_bodies)
def test_update_never_fails_and_changes_nothing_when_refused(world, patched, body):
    path = f"/api/leads/{patched['id']}"
    before, counts = read(world.alice, patched["id"]), (world.count(), world.audit_count())
    response = send(world.alice, "PATCH", path, body)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
        assert read(world.alice, patched["id"]) == before
        assert (world.count(), world.audit_count()) == counts
        return
    assert response.status_code == 200
    assert read(world.alice, patched["id"]) == response.get_json()
    assert world.count() == counts[0]
