"""GET /api/leads: paging, sorting, filtering and search."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

import pytest

from app.leads.fields import FILTERABLE, SEARCHABLE, SORTABLE, Field, Kind
from tests.support import Api, assert_problem

ALL = "pageSize=100"


def create_many(api: Api, count: int, **fields: Any) -> list[int]:
    return [api.create_lead(**fields)["id"] for _ in range(count)]


# Paging -------------------------------------------------------------------------------------


def test_list_defaults_to_first_page_of_ten(world):
    ids = create_many(world.alice, 12)
    body = world.alice.list()
    assert len(body["data"]) == 10
    assert (body["totalCount"], body["totalPages"], body["currentPage"]) == (12, 2, 1)
    second = world.alice.list("page=2")
    assert len(second["data"]) == 2
    assert {lead["id"] for lead in body["data"] + second["data"]} == set(ids)


def test_list_accepts_page_sizes_from_1_to_100(world):
    create_many(world.alice, 3)
    for size, shown in [(1, 1), (2, 2), (100, 3)]:
        body = world.alice.list(f"pageSize={size}")
        assert (len(body["data"]), body["totalPages"]) == (shown, math.ceil(3 / size)), size


BAD_PAGING = {
    "pageSize": [
        "0",
        "101",
        "-1",
        "x",
        "1.5",
        "",
        "10&pageSize=20",
        "99999999999999999999999",
        "9" * 5000,  # more digits than int() converts
        "%D9%A3",  # an Arabic-Indic digit three
    ],
    "page": ["0", "-1", "x", "1.5", "", "1&page=2", "%D9%A3"],
}


@pytest.mark.parametrize("param", BAD_PAGING)
def test_list_refuses_bad_paging_parameters(world, param):
    for value in BAD_PAGING[param]:
        response = world.alice.get(f"/api/leads?{param}={value}")
        assert assert_problem(response, 400, param)["errors"][param], value[:30]


def test_list_past_the_last_page_is_empty_with_true_totals(world):
    create_many(world.alice, 3)
    body = world.alice.list("page=5&pageSize=2")
    assert body == {"data": [], "totalCount": 3, "totalPages": 2, "currentPage": 5}


def test_list_total_pages_is_count_divided_by_page_size_rounded_up(world):
    assert world.alice.list() == {"data": [], "totalCount": 0, "totalPages": 0, "currentPage": 1}
    create_many(world.alice, 5)
    for size in range(1, 7):
        body = world.alice.list(f"pageSize={size}")
        assert (body["totalCount"], body["totalPages"]) == (5, math.ceil(5 / size))


def test_list_counts_stay_exact_after_every_kind_of_write(world):
    api = world.alice
    queries = [
        "",
        "archived=true",
        "source=Website",
        "search=kestrel",
        "source=Website&archived=true",
    ]

    def counts() -> list[int]:
        return [api.list(query)["totalCount"] for query in queries]

    ids = [api.create_lead(firstName="Kestrel", source="Website")["id"] for _ in range(3)]
    assert counts() == [3, 0, 3, 3, 0]
    api.patch(f"/api/leads/{ids[0]}", json={"source": "Referral"})
    assert counts() == [3, 0, 2, 3, 0]
    api.post(f"/api/leads/{ids[1]}/archive")
    assert counts() == [2, 1, 1, 2, 1]
    api.patch(f"/api/leads/{ids[1]}", json={"firstName": "Other"})
    assert counts() == [2, 1, 1, 2, 1]
    assert api.list("search=kestrel&archived=true")["totalCount"] == 0
    api.delete(f"/api/leads/{ids[1]}/archive")
    assert counts() == [3, 0, 2, 2, 0]
    api.delete(f"/api/leads/{ids[2]}")
    assert counts() == [2, 0, 1, 1, 0]
    archived = api.create_lead(firstName="Kestrel", source="Website", archived=True)["id"]
    assert counts() == [2, 1, 1, 1, 1]
    api.delete(f"/api/leads/{archived}")
    assert counts() == [2, 0, 1, 1, 0]
    world.carol.create_lead(firstName="Kestrel", source="Website")  # another account
    assert counts() == [2, 0, 1, 1, 0]


def test_list_items_are_leads_without_audit_log(world):
    lead = world.alice.create_lead(firstName="Ada", email="ada@example.com")
    body = world.alice.list()
    assert set(body) == {"data", "totalCount", "totalPages", "currentPage"}
    (item,) = body["data"]
    assert "auditLog" not in item
    detail = world.alice.get(f"/api/leads/{lead['id']}").get_json()
    assert detail.pop("auditLog")
    assert item == detail == lead


# Sorting ------------------------------------------------------------------------------------

SORT_VALUES: dict[Kind, list[Any]] = {
    # Case differs so that a case-sensitive sort would give another order.
    Kind.TEXT: ["banana", "apple", "Cherry", None],
    Kind.EMAIL: ["bob@example.com", "amy@example.com", "Cara@example.com", None],
    Kind.PHONE: ["555 0002", "555 0001", "555 0003", None],
    # As text, "100" < "20" < "5": a numeric sort gives another order.
    Kind.INTEGER: [20, 5, 100, None],
    Kind.MONEY: [20.5, 5.25, 100, None],
    Kind.BOOLEAN: [True, False, None, False],
    Kind.DATETIME: ["2024-03-02T00:00:00Z", "2023-12-31T23:00:00-05:00", "2024-02-01", None],
}


def comparable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def expected_order(leads: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[int]:
    """The documented order: by each key (text ignoring case, empty last), then by id."""
    items = sorted(leads, key=lambda lead: lead["id"], reverse=keys[0][1])
    for name, descending in reversed(keys):
        present = [lead for lead in items if lead[name] is not None]
        empty = [lead for lead in items if lead[name] is None]
        present.sort(key=lambda lead: comparable(lead[name]), reverse=descending)
        items = present + empty
    return [lead["id"] for lead in items]


def sort_fixture(world, field: Field) -> list[dict[str, Any]]:
    """Leads with distinct values of the field (and one without, when it may be empty)."""
    api = world.alice
    if field.json == "createdBy":
        return [who.create_lead() for who in (world.bob, world.alice, world.bob, world.alice)]
    if field.readonly:  # id, createdAt, updatedAt: written in an order other than the ids'
        leads = [api.create_lead(firstName=f"Lead{n}") for n in range(4)]
        for lead in (leads[2], leads[0], leads[3], leads[1]):
            api.patch(f"/api/leads/{lead['id']}", json={"company": "Touched"})
        return api.list(ALL)["data"]
    values = [v for v in SORT_VALUES[field.kind] if v is not None or field.nullable]
    for value in values:
        api.create_lead(**{field.json: value})
    return api.list(ALL)["data"]


@pytest.mark.parametrize("name", list(SORTABLE))
def test_list_sorts_by_every_sortable_field_both_ways(world, name):
    field = SORTABLE[name]
    leads = sort_fixture(world, field)
    for descending in (False, True):
        query = f"sort={'-' if descending else ''}{name}&{ALL}"
        ids = world.alice.ids(query)
        assert ids == expected_order(leads, [(name, descending)]), query
        if field.nullable:  # empty values last in both directions
            assert next(lead for lead in leads if lead["id"] == ids[-1])[name] is None


def test_list_text_sort_ignores_case(world):
    api = world.alice
    ids = {name: api.create_lead(lastName=name)["id"] for name in ("beta", "Alpha", "alpha2")}
    assert api.ids("sort=lastName") == [ids["Alpha"], ids["alpha2"], ids["beta"]]
    assert api.ids("sort=-lastName") == [ids["beta"], ids["alpha2"], ids["Alpha"]]


def test_list_sorts_empty_values_last_in_both_directions(world):
    api = world.alice
    empty = api.create_lead()["id"]
    b = api.create_lead(company="b")["id"]
    a = api.create_lead(company="a")["id"]
    assert api.ids("sort=company") == [a, b, empty]
    assert api.ids("sort=-company") == [b, a, empty]


def test_list_default_sort_is_newest_first(world):
    ids = create_many(world.alice, 3)
    assert world.alice.ids() == world.alice.ids("sort=-createdAt") == ids[::-1]


def test_list_sorts_by_several_keys(world):
    api = world.alice
    web10 = api.create_lead(source="Web", numberOfEmployees=10)["id"]
    web30 = api.create_lead(source="web", numberOfEmployees=30)["id"]
    ref20 = api.create_lead(source="Referral", numberOfEmployees=20)["id"]
    none5 = api.create_lead(numberOfEmployees=5)["id"]
    ref_none = api.create_lead(source="Referral")["id"]
    assert api.ids("sort=source,-numberOfEmployees") == [ref20, ref_none, web30, web10, none5]
    assert api.ids("sort=-numberOfEmployees,source") == [web30, ref20, web10, none5, ref_none]


def test_list_pages_through_equal_values_without_overlap_or_gap(world):
    api = world.alice
    ids = [
        api.create_lead(company="Same", interestedInSwitching=flag)["id"]
        for flag in (True, True, None, None, False, False, None)
    ]
    for sort in (
        "company",
        "-company",
        "interestedInSwitching",
        "-interestedInSwitching",
        "lastContacted",
        "company,-interestedInSwitching",
        "-createdBy,lastContacted",
    ):
        seen = []
        for page in range(1, 5):
            seen += api.ids(f"sort={sort}&pageSize=2&page={page}")
        assert sorted(seen) == sorted(ids), sort
        assert len(seen) == len(set(seen)), sort
        assert api.ids(f"sort={sort}&pageSize=5&page=3") == [], sort


BAD_SORTS = {
    "unsortable": ["notes", "-notes", "imgSrc", "productsServicesSold", "archived", "accountId"],
    "unknown": ["auditLog", "nope", "company_name", "Company", "--company", "%2Bcompany"],
    "empty": ["", ",", "company,", ",company"],
    "duplicate": ["company,company", "company,-company", "company&sort=source"],
    "too-many": ["firstName,lastName,email,phone,company,source"],
}


@pytest.mark.parametrize("kind", BAD_SORTS)
def test_list_refuses_unknown_unsortable_or_duplicate_sort_fields(world, kind):
    for value in BAD_SORTS[kind]:
        response = world.alice.get(f"/api/leads?sort={value}")
        assert assert_problem(response, 400, "sort")["errors"]["sort"], value


# Filters ------------------------------------------------------------------------------------

TEXT_FILTER_VALUES = {  # (the value filtered for, a value that differs only slightly)
    Kind.TEXT: ("Mixed Case Value", "Mixed Case Valued"),
    Kind.EMAIL: ("Mixed.Case@Example.com", "Mixed.Case@Example.co"),
    Kind.PHONE: ("+1 (555) 010-2030", "+1 (555) 010-2031"),
    Kind.URL: ("https://Example.com/Pic.png", "https://Example.com/Pic.jpg"),
}


def test_list_text_filters_match_the_whole_value_ignoring_case(world):
    api = world.alice
    fields = [f for f in FILTERABLE.values() if f.is_text and f.writable]
    matches = {}
    for field in fields:  # each field's leads leave every other field empty (or default)
        value, other = TEXT_FILTER_VALUES[field.kind]
        matches[field.json] = api.create_lead(**{field.json: value})["id"]
        api.create_lead(**{field.json: other})
    for field in fields:
        value = TEXT_FILTER_VALUES[field.kind][0]
        for sent in (value.upper(), value.lower(), f" {value} "):
            assert api.ids(f"{field.json}={quote(sent)}") == [matches[field.json]], field.json
        assert api.ids(f"{field.json}={quote(value[:-3])}") == [], field.json  # not a substring


def test_list_text_filter_matches_values_with_non_ascii_capitals(world):
    api = world.alice
    found = api.create_lead(lastName="Zoë Álvarez", company="Öztürk GmbH")["id"]
    api.create_lead(lastName="Zoe Alvarez", company="Ozturk GmbH")
    for query in ("lastName=Zoë Álvarez", "lastName=ZOë Álvarez", "company=Öztürk gmbh"):
        name, _, value = query.partition("=")
        assert api.ids(f"{name}={quote(value)}") == [found], query


def test_list_text_filter_repeated_accepts_any_of_the_values(world):
    api = world.alice
    web = api.create_lead(source="Website")["id"]
    ref = api.create_lead(source="Referral")["id"]
    api.create_lead(source="Trade Show")
    empty = api.create_lead()["id"]
    assert api.ids("source=website&source=REFERRAL&sort=id") == [web, ref]
    assert api.ids("source=&source=Website&sort=id") == [web, empty]
    too_many = "&".join(f"source=s{n}" for n in range(51))
    assert_problem(api.get(f"/api/leads?{too_many}"), 400, "source")


def test_list_text_filter_with_empty_value_matches_empty_field(world):
    api = world.alice
    values = {
        "company": "Something",
        "email": "x@example.com",
        "phone": "555 1234",
        "imgSrc": "https://e.com/a.png",
        "notes": "Something",
    }
    empty_in: dict[int, str] = {}  # lead id: the one field it leaves empty
    for field in values:
        api.create_lead(**values)
        empty_in[api.create_lead(**{k: v for k, v in values.items() if k != field})["id"]] = field
        empty_in[api.create_lead(**{**values, field: ""})["id"]] = field  # "" is stored as null
    for field in values:
        expected = [lead_id for lead_id, empty in empty_in.items() if empty == field]
        assert api.ids(f"{field}=&sort=id") == expected, field


def test_list_filters_by_creator_ignoring_case(world):
    mine = world.bob.create_lead()["id"]
    world.alice.create_lead()
    assert world.alice.ids("createdBy=BOB@ACME.TEST") == [mine]


def check_filters(api: Api, name: str, values: list[Any], cases: list[tuple[str, list[Any]]]):
    """Create a lead per value; each filter value must find exactly the listed ones."""
    ids = {value: api.create_lead(**{name: value})["id"] for value in values}
    for text, expected in cases:
        query = f"{name}={quote(text)}&sort=id&{ALL}"
        assert api.ids(query) == [ids[value] for value in expected], text


def test_list_filters_numbers_by_value_or_inclusive_range(world):
    cases = [
        ("50", [50]),
        ("0", [0]),
        (" 50 ", [50]),
        ("10,200", [10, 50, 200]),
        (",200", [0, 10, 50, 200]),
        ("10,", [10, 50, 200, 201]),
        ("50,50", [50]),
        ("-5,5", [0]),
        ("", [None]),
    ]
    check_filters(world.alice, "numberOfEmployees", [0, 10, 50, 200, 201, None], cases)


def test_list_filters_money_with_decimals(world):
    cases = [
        ("10.5", [10.5]),
        ("10.50", [10.5]),
        ("10", [10]),
        ("10.5,200", [10.5, 10.55]),
        (",10.5", [10, 10.5]),
        ("10.55,", [10.55, 200.01]),
        ("", [None]),
    ]
    values = [10, 10.5, 10.55, 200.01, None]
    check_filters(world.alice, "monthlyTransactionVolume", values, cases)


def test_list_filters_booleans(world):
    cases = [("true", [True]), ("false", [False]), ("TRUE", [True]), ("", [None])]
    check_filters(world.alice, "interestedInSwitching", [True, False, None], cases)


CONTACTED = {
    "before": "2024-02-29T23:59:59.999Z",
    "start": "2024-03-01T00:00:00.000Z",
    "end": "2024-03-01T23:59:59.999Z",
    "next": "2024-03-02T00:00:00.000Z",
    "later": "2024-03-31T12:00:00.000Z",
    "never": None,
}


def test_list_filters_dates_by_utc_day_or_inclusive_range(world):
    cases = [
        ("2024-03-01", ["start", "end"]),
        ("2024-03-01,2024-03-02", ["start", "end", "next"]),
        ("2024-03-02,", ["next", "later"]),
        (",2024-03-01", ["before", "start", "end"]),
        ("2024-03-01T00:00:00Z", ["start"]),
        ("2024-03-01T01:00:00+01:00", ["start"]),
        ("2024-03-01T12:00:00Z,2024-03-02T00:00:00Z", ["end", "next"]),
        ("2024-03-01T23:59:59.999Z,2024-03-31", ["end", "next", "later"]),
        ("2024-03-03,2024-03-30", []),
        ("9999-12-31", []),
        ("2024-03-31,9999-12-31", ["later"]),
        ("0001-01-01,2024-02-29", ["before"]),
        ("", ["never"]),
    ]
    values = list(CONTACTED.values())
    named = [(text, [CONTACTED[key] for key in keys]) for text, keys in cases]
    check_filters(world.alice, "lastContacted", values, named)


def test_list_filters_created_and_updated_dates(world):
    lead = world.alice.create_lead()
    day = lead["createdAt"][:10]
    assert world.alice.ids(f"createdAt={day}") == [lead["id"]]
    assert world.alice.ids(f"updatedAt={day},") == [lead["id"]]
    assert world.alice.ids("createdAt=2000-01-01") == []
    assert world.alice.ids("createdAt=,2000-01-01") == []


BAD_FILTER_VALUES = {
    "numberOfEmployees": [
        "200,10",
        "a,b",
        ",",
        "a",
        "1.5",
        "10,20,30",
        "1e3",
        "99999999999999999999999",
        "2147483648",  # beyond the 32-bit column: refused on every database alike
        ",3000000000",
        "9" * 5000,  # more digits than int() converts
        "1," + "9" * 5000,
        "\u0665\u0660",  # Arabic-Indic digits for 50
        "true",
    ],
    "id": ["x", "99999999999", "1.0"],
    "monthlyTransactionVolume": ["10.555", "x", "20.5,10", "NaN", "Infinity", "1e400", "1,2,3"],
    "interestedInSwitching": ["yes", "1", "0", "tru", "null", "true,false"],
    "lastContacted": [
        "2024-02-30",
        "2024-13-01",
        "2024-3-1",
        "yesterday",
        "2024-03-01T10:00:00",  # a date-time needs a zone
        "2024-03-01T25:00:00Z",
        "2024-03-02,2024-03-01",
        ",",
        "2024-03-01,2024-03-02,2024-03-03",
        "0000-01-01",
        "9999-12-31T23:00:00-05:00",
        "\u0662\u0660\u0662\u0664-03-01",
    ],
    "createdAt": ["2024-02-30", "x"],
}


@pytest.mark.parametrize("name", BAD_FILTER_VALUES)
def test_list_refuses_bad_filter_values(world, name):
    for value in BAD_FILTER_VALUES[name]:
        response = world.alice.get(f"/api/leads?{name}={quote(value)}")
        assert assert_problem(response, 400, name)["errors"][name], value[:40]


def test_list_refuses_repeated_non_text_parameters(world):
    for query in (
        "numberOfEmployees=1&numberOfEmployees=2",
        "monthlyTransactionVolume=1&monthlyTransactionVolume=2",
        "interestedInSwitching=true&interestedInSwitching=false",
        "lastContacted=2024-03-01&lastContacted=2024-03-02",
        "createdAt=2024-03-01&createdAt=2024-03-01",
        "id=1&id=2",
        "archived=true&archived=false",
        "search=a&search=b",
        "sort=id&sort=id",
    ):
        name = query.partition("=")[0]
        assert_problem(world.alice.get(f"/api/leads?{query}"), 400, name)


def test_list_refuses_unknown_parameters_naming_them(world):
    names = ["foo", "Company", "company_name", "accountId", "auditLog", "page_size", "q", "limit"]
    for name in names:
        body = assert_problem(world.alice.get(f"/api/leads?{name}=1&company=x"), 400, name)
        assert list(body["errors"]) == [name]
    body = assert_problem(world.alice.get("/api/leads?foo=1&bar=2&pageSize=0"), 400)
    assert set(body["errors"]) == {"foo", "bar", "pageSize"}


def test_list_archived_parameter_selects_archived_or_live_leads(world):
    api = world.alice
    live = api.create_lead()["id"]
    archived = api.create_lead(archived=True)["id"]
    assert api.ids() == [live]
    assert api.ids("archived=false") == [live]
    assert api.ids("archived=true") == [archived]
    assert api.ids("archived=TRUE") == [archived]
    assert api.list("archived=true")["totalCount"] == 1
    for value in ("yes", "", "1", "all", "none"):
        assert_problem(world.alice.get(f"/api/leads?archived={value}"), 400, "archived")


# Search -------------------------------------------------------------------------------------

MARKER = "Zephyrine"


def searchable_value(field: Field) -> tuple[str, str]:
    """A value of the field that holds a distinctive word, and a search term inside it."""
    match field.kind:
        case Kind.EMAIL:
            return f"{MARKER.lower()}.q@example.com", "PHYRINE.Q@EXAM"
        case Kind.PHONE:
            return "+1 555-867-5309", "867-53"
        case Kind.URL:
            return f"https://img.example.com/{MARKER}.png", "phyrine.PNG"
    return f"The {MARKER} Co", "pHYRIN"


@pytest.mark.parametrize("field", SEARCHABLE, ids=lambda f: f.json)
def test_search_finds_substring_in_every_searchable_field_ignoring_case(world, field):
    if field.json == "createdBy":
        world.alice.create_lead()
        found = world.bob.create_lead()["id"]
        term = "OB@ACME"
    else:
        value, term = searchable_value(field)
        world.alice.create_lead()
        found = world.alice.create_lead(**{field.json: value})["id"]
    assert world.alice.ids(f"search={quote(term)}") == [found]


def test_search_needs_every_word_in_some_field(world):
    api = world.alice
    both = api.create_lead(firstName="Marigold", company="Vortexa")["id"]
    name_only = api.create_lead(firstName="Marigold")["id"]
    api.create_lead(company="Vortexa")
    assert api.ids("search=vortex%20MARIG") == [both]
    assert api.ids("search=%20marigold%20%20vortexa%20") == [both]
    assert api.ids("search=marig&sort=id") == [both, name_only]
    assert api.ids("search=marig%20nothing") == []


@pytest.mark.parametrize(
    ("matching", "other", "term"),
    [
        ("50% off", "500 units", "50%"),
        ("a_b corp", "axb corp", "a_b"),
        ("path a/b", "path ab", "a/b"),
        ("back a\\b", "back ab", "a\\b"),
        ("100%", "1000", "%"),
    ],
)
def test_search_treats_wildcards_literally(world, matching, other, term):
    found = world.alice.create_lead(notes=matching)["id"]
    world.alice.create_lead(notes=other)
    assert world.alice.ids(f"search={quote(term)}") == [found]


def test_search_combines_with_filters_and_sort(world):
    api = world.alice
    ten = api.create_lead(firstName="Kestrel", source="Website", numberOfEmployees=10)["id"]
    thirty = api.create_lead(firstName="Kestrel", source="Website", numberOfEmployees=30)["id"]
    api.create_lead(firstName="Kestrel", source="Referral", numberOfEmployees=20)
    api.create_lead(firstName="Other", source="Website", numberOfEmployees=5)
    api.create_lead(firstName="Kestrel", source="Website", archived=True)
    body = api.list("search=kestrel&source=website&sort=-numberOfEmployees")
    assert [lead["id"] for lead in body["data"]] == [thirty, ten]
    assert body["totalCount"] == 2
    assert api.ids("search=kestrel&source=website&sort=numberOfEmployees") == [ten, thirty]
    assert len(api.ids("search=kestrel&archived=true")) == 1


def test_search_refuses_over_long_or_invalid_terms(world):
    for search in ("a" * 201, " ".join(["w"] * 11), "a\x00b"):
        response = world.alice.get(f"/api/leads?search={quote(search)}")
        assert_problem(response, 400, "search")


def test_search_accepts_the_longest_allowed_term(world):
    assert world.alice.list(f"search={'a' * 200}")["totalCount"] == 0
