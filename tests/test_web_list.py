"""The lead list page: search, sort, filters, pages, empty states, htmx fragments, API parity."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from app.models import Role
from tests.support import World, add_user
from tests.web_support import FRAGMENT, assert_site_page, ids_in, signed_in_client, text


def showing(first: int, last: int, total: object) -> str:
    """The pager's summary: "Showing 11 to 20 of 25", written with an en dash."""
    return f"Showing {first}\N{EN DASH}{last} of {total}"


def squash(page: str) -> str:
    """The page with runs of whitespace made one space (template indentation is not content)."""
    return " ".join(page.split())


def header(page: str, field: str) -> str:
    """The column header of a field in the lead table."""
    start = page.index(f'data-field="{field}">')
    return page[start : page.index("</th>", start)]


@pytest.fixture
def alice(app, world):
    return signed_in_client(app, "alice@acme.test")


def make_leads(world: World) -> dict[str, int]:
    """Six Acme leads (one archived), by first name; Globex has one lead too."""
    rows = [
        dict(firstName="Ann", lastName="Lee", company="Zeta", processStage="Qualified",
             source="Website", numberOfEmployees=50, interestedInSwitching=True,
             lastContacted="2024-03-01T10:00:00Z"),
        dict(firstName="Ben", lastName="Lee", company="alpha", processStage="Initial Contact",
             source="Referral", numberOfEmployees=500, interestedInSwitching=False),
        dict(firstName="Cleo", lastName="Adams", company="Mid", processStage="qualified",
             numberOfEmployees=10, lastContacted="2024-06-15T08:30:00Z"),
        dict(firstName="Dan", lastName="Young", source="Website", notes="met at the fair"),
        dict(firstName="Eve", lastName="Stone", company="Zeta", processStage="Won"),
        dict(firstName="Fay", lastName="Archer", company="Old", archived=True),
    ]  # fmt: skip
    ids = {row["firstName"]: world.alice.create_lead(**row)["id"] for row in rows}
    world.carol.create_lead(firstName="Gus", lastName="Lee", processStage="Qualified")
    return ids


# The page ------------------------------------------------------------------------------------


def test_list_has_a_labelled_search_box_in_a_plain_get_form(alice):
    page = text(alice.get("/leads"))
    assert_site_page(page)
    assert '<form id="lead-search" class="search" action="/leads" method="get"' in page
    assert '<label for="search-input">Search</label>' in page
    assert '<input id="search-input" type="search" name="search" value=""' in page


def test_search_shows_only_matching_leads_and_keeps_the_words(alice, world):
    ids = make_leads(world)
    page = text(alice.get("/leads?search=lee"))
    assert ids_in(page) == [ids["Ben"], ids["Ann"]]
    assert 'name="search" value="lee"' in page
    page = text(alice.get("/leads?search=fair"))
    assert ids_in(page) == [ids["Dan"]]


def test_list_shows_only_the_accounts_active_leads_newest_first(alice, world):
    ids = make_leads(world)
    page = text(alice.get("/leads"))
    assert ids_in(page) == [ids["Eve"], ids["Dan"], ids["Cleo"], ids["Ben"], ids["Ann"]]
    assert "Gus" not in page


def test_every_link_that_htmx_follows_also_works_without_it(alice, world):
    make_leads(world)
    page = text(alice.get("/leads?sort=lastName&pageSize=2&processStage=Qualified"))
    links = re.findall(r'<a href="([^"]*)" hx-get="([^"]*)"', page)
    assert len(links) > 20
    assert all(href == hx_get for href, hx_get in links)
    hx_gets = re.findall(r'hx-get="([^"]*)"', page)
    assert all(url.startswith("/leads") for url in hx_gets)


# Sorting -------------------------------------------------------------------------------------


def test_default_sort_marks_created_descending(alice, world):
    make_leads(world)
    page = text(alice.get("/leads"))
    assert page.count("aria-sort=") == 1
    assert '<th scope="col" aria-sort="descending" data-field="createdAt">' in page
    assert '<span class="arrow" aria-hidden="true">↓</span>' in page


def test_sorted_column_has_aria_sort_an_arrow_and_a_link_that_reverses_it(alice, world):
    make_leads(world)
    page = text(alice.get("/leads?sort=lastName"))
    assert page.count("aria-sort=") == 1
    assert '<th scope="col" aria-sort="ascending" data-field="lastName">' in page
    assert '<span class="arrow" aria-hidden="true">↑</span>' in page
    assert '<a href="/leads?sort=-lastName"' in page
    page = text(alice.get("/leads?sort=-lastName"))
    assert '<th scope="col" aria-sort="descending" data-field="lastName">' in page
    assert '<span class="arrow" aria-hidden="true">↓</span>' in page
    assert '<a href="/leads?sort=lastName"' in page


def test_sorting_by_a_column_orders_the_rows(alice, world):
    ids = make_leads(world)
    by_last_name = [ids["Cleo"], ids["Ann"], ids["Ben"], ids["Eve"], ids["Dan"]]
    assert ids_in(text(alice.get("/leads?sort=lastName"))) == by_last_name
    reversed_ = [ids["Dan"], ids["Eve"], ids["Ben"], ids["Ann"], ids["Cleo"]]
    assert ids_in(text(alice.get("/leads?sort=-lastName"))) == reversed_


def test_plus_link_adds_a_secondary_sort_and_the_summary_names_both(alice, world):
    ids = make_leads(world)
    page = text(alice.get("/leads?sort=-lastName"))
    plus = '<a href="/leads?sort=-lastName%2CfirstName" hx-get="/leads?sort=-lastName%2CfirstName"'
    assert plus in header(page, "firstName")
    assert 'class="then-sort"' not in header(page, "lastName")  # the primary sort has no "+"
    page = text(alice.get("/leads?sort=-lastName%2CfirstName"))
    assert ids_in(page) == [ids["Dan"], ids["Eve"], ids["Ann"], ids["Ben"], ids["Cleo"]]
    assert "Sorted by Last name ↓, then First name ↑." in squash(page)
    assert '<a href="/leads" hx-get="/leads">Reset</a>' in page
    # the "+" of a secondary sort column reverses it in place
    assert '<a href="/leads?sort=-lastName%2C-firstName"' in page


# Pages ---------------------------------------------------------------------------------------


def test_pager_shows_the_range_and_the_exact_total(alice, world):
    for n in range(12):
        world.alice.create_lead(firstName=f"Lead{n:02}")
    page = text(alice.get("/leads?page=2"))
    assert showing(11, 12, 12) in page
    assert len(ids_in(page)) == 2
    assert '<a href="/leads" hx-get="/leads" rel="prev">Previous</a>' in page
    assert '<span class="disabled">Next</span>' in page
    assert '<a href="/leads" hx-get="/leads" >1</a>' in page
    assert '<a href="/leads?page=2" hx-get="/leads?page=2" aria-current="page">2</a>' in page
    first = text(alice.get("/leads"))
    assert showing(1, 10, 12) in first
    assert '<span class="disabled">Previous</span>' in first
    assert '<a href="/leads?page=2" hx-get="/leads?page=2" rel="next">Next</a>' in first


def test_pager_links_keep_the_other_settings(alice, world):
    ids = make_leads(world)
    page = text(alice.get("/leads?sort=firstName&pageSize=2&page=2"))
    assert ids_in(page) == [ids["Cleo"], ids["Dan"]]
    assert showing(3, 4, 5) in page
    assert 'href="/leads?sort=firstName&amp;pageSize=2" hx-get' in page  # previous, page 1
    assert 'href="/leads?sort=firstName&amp;pageSize=2&amp;page=3" hx-get' in page
    assert 'rel="next">Next</a>' in page and 'rel="prev">Previous</a>' in page
    for n in (1, 2, 3):
        assert f">{n}</a>" in page
    assert ">4</a>" not in page


def test_page_size_links_offer_the_sizes_and_mark_the_current_one(alice, world):
    make_leads(world)
    page = text(alice.get("/leads?pageSize=25"))
    assert "Per page:" in page
    assert '<a href="/leads" hx-get="/leads" >10</a>' in page
    current = '<a href="/leads?pageSize=25" hx-get="/leads?pageSize=25" aria-current="true">25</a>'
    assert current in page
    assert '<a href="/leads?pageSize=100" hx-get="/leads?pageSize=100" >100</a>' in page


def test_page_past_the_end_offers_the_last_page(alice, world):
    make_leads(world)
    page = text(alice.get("/leads?pageSize=2&page=7"))
    assert ids_in(page) == []
    assert "This page is past the end of the list." in page
    assert '<a href="/leads?pageSize=2&amp;page=3" hx-get' in page


@pytest.mark.parametrize("filters", ["search=lee", "company=Zeta", "sort=company"])
@pytest.mark.parametrize("page_number", [2**63 // 100 + 2, 10**30])
def test_a_page_beyond_any_offset_is_past_the_end_in_the_fragment_too(
    alice, world, filters, page_number
):
    """page x pageSize beyond 2**63 gave the fragment a 500 on SQLite (OverflowError)."""
    make_leads(world)
    url = f"/leads?{filters}&pageSize=100&page={page_number}"
    for headers in ({}, FRAGMENT):
        response = alice.get(url, headers=headers)
        assert response.status_code == 200, headers
        assert ids_in(text(response)) == []
        assert "This page is past the end of the list." in text(response)


# Filters and the archived switch -------------------------------------------------------------


def test_filter_menus_offer_stage_and_source_values_and_not_set(alice, world):
    make_leads(world)
    page = text(alice.get("/leads"))
    stage = page[page.index('id="menu-processStage"') : page.index('id="menu-source"')]
    assert "<summary>Process stage: <strong>Any</strong></summary>" in stage
    assert '<a href="/leads?processStage=Initial+Contact"' in stage
    assert '<a href="/leads?processStage=Won"' in stage
    assert stage.count("?processStage=Qualified") + stage.count("?processStage=qualified") == 2
    assert '<a href="/leads?processStage=" hx-get="/leads?processStage=" >' in stage
    source = page[page.index('id="menu-source"') : page.index('id="menu-assignedTo"')]
    assert '<a href="/leads?source=Referral"' in source
    assert '<a href="/leads?source=Website"' in source


def test_choosing_a_filter_value_shows_those_leads_and_marks_the_choice(alice, world):
    ids = make_leads(world)
    page = text(alice.get("/leads?processStage=Qualified"))
    assert ids_in(page) == [ids["Cleo"], ids["Ann"]]
    assert "<summary>Process stage: <strong>Qualified</strong></summary>" in page
    assert '<span class="check" aria-hidden="true">✓</span>Qualified' in page
    assert '<a class="clear" href="/leads" hx-get="/leads">Clear filters</a>' in page
    page = text(alice.get("/leads?processStage=Qualified&processStage=Won"))
    assert ids_in(page) == [ids["Eve"], ids["Cleo"], ids["Ann"]]
    assert "<summary>Process stage: <strong>2 chosen</strong></summary>" in page
    page = text(alice.get("/leads?source="))
    assert ids_in(page) == [ids["Eve"], ids["Cleo"]]
    assert "<summary>Source: <strong>Not set</strong></summary>" in page


def test_assigned_to_menu_offers_mine(app, world):
    add_user(app, "dana@acme.example", [("Acme", Role.MEMBER)])
    mine = world.alice.create_lead(firstName="Mine", assignedTo="dana@acme.example")
    world.alice.create_lead(firstName="Theirs", assignedTo="sam@acme.example")
    world.alice.create_lead(firstName="Nobody")
    dana = signed_in_client(app, "dana@acme.example")
    page = text(dana.get("/leads"))
    mine_link = '<a href="/leads?assignedTo=dana%40acme.example"'
    assert mine_link + ' hx-get="/leads?assignedTo=dana%40acme.example" >Mine</a>' in page
    page = text(dana.get("/leads?assignedTo=dana%40acme.example"))
    assert ids_in(page) == [mine["id"]]
    assert 'hx-get="/leads?assignedTo=dana%40acme.example" aria-current="true">Mine</a>' in page


def test_archived_switch_shows_either_active_or_archived_leads(alice, world):
    ids = make_leads(world)
    page = text(alice.get("/leads"))
    assert '<a href="/leads" hx-get="/leads" aria-current="page">Active</a>' in page
    assert '<a href="/leads?archived=true" hx-get="/leads?archived=true" >Archived</a>' in page
    assert ids["Fay"] not in ids_in(page)
    page = text(alice.get("/leads?archived=true"))
    assert ids_in(page) == [ids["Fay"]]
    assert '<a href="/leads" hx-get="/leads" >Active</a>' in page
    assert 'hx-get="/leads?archived=true" aria-current="page">Archived</a>' in page


PARITY_QUERIES = [
    "",
    "sort=lastName",
    "sort=-company,firstName",
    "sort=lastContacted",
    "sort=-numberOfEmployees,lastName",
    "search=lee",
    "search=ZETA",
    "processStage=Qualified",
    "processStage=qualified&processStage=",
    "source=",
    "source=Website&processStage=Qualified",
    "pageSize=2&page=2",
    "pageSize=2&page=3&sort=firstName",
    "archived=true",
    "numberOfEmployees=10,100",
    "numberOfEmployees=,60",
    "interestedInSwitching=true",
    "lastContacted=2024-01-01,2024-12-31",
    "lastContacted=2024-06-15",
    "company=zeta&sort=-firstName",
]


def test_list_shows_the_same_leads_as_the_api_for_the_same_query(alice, world):
    make_leads(world)
    # One data set for every query: signing in and creating leads per query would be slow.
    for query in PARITY_QUERIES:
        expected = world.alice.ids(query)
        response = alice.get(f"/leads?{query}")
        assert response.status_code == 200, query
        assert ids_in(text(response)) == expected, query
        fragment = alice.get(f"/leads?{query}", headers=FRAGMENT)
        assert ids_in(text(fragment)) == expected, query
    # the data tells the queries apart, so equal lists are not a coincidence
    assert len({tuple(world.alice.ids(query)) for query in PARITY_QUERIES}) >= 15


def test_list_total_matches_the_apis_total(alice, world):
    make_leads(world)
    total = world.alice.list("processStage=Qualified&pageSize=1")["totalCount"]
    page = text(alice.get("/leads?processStage=Qualified&pageSize=1"))
    assert showing(1, 1, total) in page


# Empty states and bad addresses --------------------------------------------------------------


def test_no_match_says_so_and_offers_to_clear_the_filters(alice, world):
    make_leads(world)
    page = text(alice.get("/leads?search=nobody&sort=lastName"))
    assert ids_in(page) == []
    assert "No leads match “nobody”." in page
    clear = '<a href="/leads?sort=lastName" hx-get="/leads?sort=lastName">Clear filters</a>'
    assert '<div class="empty">' in page and f"<p>{clear}</p>" in page
    page = text(alice.get("/leads?processStage=Lost"))
    assert "No leads match these filters." in page


def test_empty_account_invites_to_add_the_first_lead(alice):
    page = text(alice.get("/leads"))
    assert "No leads yet." in page
    assert '<a class="button primary" href="/leads/new">Add your first lead</a>' in page
    assert "Showing" not in page


def test_empty_account_shows_no_add_button_to_a_viewer(app, world):
    vera = signed_in_client(app, "vera@acme.test")
    page = text(vera.get("/leads"))
    assert "No leads yet." in page
    assert "Add your first lead" not in page


def test_empty_archive_says_what_it_holds(alice, world):
    world.alice.create_lead()
    page = text(alice.get("/leads?archived=true"))
    assert "No archived leads. Leads you archive are kept here." in page


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=x", "page"),
        ("page=0", "page"),
        ("pageSize=500", "pageSize"),
        ("sort=nope", "sort"),
        ("sort=lastName&sort=firstName", "sort"),
        ("archived=maybe", "archived"),
        ("numberOfEmployees=many", "numberOfEmployees"),
        ("lastContacted=yesterday", "lastContacted"),
        ("colour=red", "colour"),
    ],
)
def test_invalid_list_parameters_give_400_with_the_apis_message(alice, world, query, name):
    api_message = world.alice.get(f"/api/leads?{query}").get_json()["errors"][name][0]
    response = alice.get(f"/leads?{query}")
    assert response.status_code == 400
    page = text(response)
    assert_site_page(page)
    assert "Some settings in the address are not valid." in page
    assert f"<li><code>{name}</code>: {escape(api_message)}</li>" in page
    assert '<a href="/leads">Show all leads</a>' in page
    assert "Traceback" not in page
    fragment = alice.get(f"/leads?{query}", headers=FRAGMENT)
    assert fragment.status_code == 400
    assert "Some settings in the address are not valid." in text(fragment)


# htmx ----------------------------------------------------------------------------------------


def test_htmx_request_for_the_results_gets_only_the_results_fragment(alice, world):
    ids = make_leads(world)
    response = alice.get("/leads?sort=firstName", headers=FRAGMENT)
    assert response.status_code == 200
    fragment = text(response)
    assert fragment.lstrip().startswith('<section id="lead-results"')
    assert fragment.rstrip().endswith("</section>")
    assert "<html" not in fragment and "<head" not in fragment
    assert 'class="site-header"' not in fragment
    assert ids_in(fragment) == [ids["Ann"], ids["Ben"], ids["Cleo"], ids["Dan"], ids["Eve"]]
    assert {"HX-Request", "HX-Target"} <= set(response.vary)


def test_full_page_also_varies_on_the_htmx_headers(alice):
    response = alice.get("/leads")
    assert {"HX-Request", "HX-Target"} <= set(response.vary)


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true"},
        {"HX-Request": "true", "HX-Target": "main"},
        {"HX-Request": "true", "HX-Target": "lead-results", "HX-History-Restore-Request": "true"},
        {"HX-Target": "lead-results"},
        {"HX-Request": "true", "HX-Boosted": "true"},
    ],
)
def test_other_htmx_requests_get_the_whole_page(alice, headers):
    response = alice.get("/leads", headers=headers)
    assert response.status_code == 200
    page = text(response)
    assert_site_page(page)
    assert '<section id="lead-results"' in page
    assert {"HX-Request", "HX-Target"} <= set(response.vary)


def test_fragment_and_page_show_the_same_results(alice, world):
    make_leads(world)
    page = text(alice.get("/leads?sort=company&pageSize=3"))
    fragment = text(alice.get("/leads?sort=company&pageSize=3", headers=FRAGMENT))
    start = page.index('<section id="lead-results"')
    section = page[start : page.index("</section>", start)]
    fragment_section = fragment[: fragment.index('<div id="list-state"')]
    assert squash(fragment_section) == squash(section)
    assert len(ids_in(section)) == 3


def test_filtered_fragment_defers_the_count_to_the_count_url(alice, world):
    make_leads(world)
    fragment = text(alice.get("/leads?search=lee", headers=FRAGMENT))
    assert '<p class="count" hx-get="/leads/count?search=lee" hx-trigger="load"' in fragment
    assert showing(1, 2, "…") in fragment
    assert showing(1, 2, 2) not in fragment
    response = alice.get("/leads/count?search=lee")
    assert response.status_code == 200
    pager = text(response)
    assert pager.lstrip().startswith('<nav id="lead-pager"')
    assert "<html" not in pager
    assert showing(1, 2, 2) in pager


def test_count_gives_the_exact_total_of_any_query(alice, world):
    make_leads(world)
    pager = text(alice.get("/leads/count?processStage=qualified&pageSize=1&page=2"))
    assert showing(2, 2, 2) in pager
    assert 'rel="prev">Previous</a>' in pager
    assert '<span class="disabled">Next</span>' in pager


def test_count_refuses_invalid_parameters(alice):
    response = alice.get("/leads/count?page=x")
    assert response.status_code == 400


def test_unfiltered_fragment_counts_at_once(alice, world):
    make_leads(world)
    fragment = text(alice.get("/leads?sort=lastName", headers=FRAGMENT))
    assert showing(1, 5, 5) in fragment
    assert "/leads/count" not in fragment


def test_fragment_updates_the_search_forms_hidden_list_state(alice, world):
    make_leads(world)
    fragment = text(alice.get("/leads?sort=lastName&source=Website&search=lee", headers=FRAGMENT))
    assert '<div id="list-state" hx-swap-oob="true">' in fragment
    assert '<input type="hidden" name="sort" value="lastName">' in fragment
    assert '<input type="hidden" name="source" value="Website">' in fragment
    assert '<input type="hidden" name="search"' not in fragment
    page = text(alice.get("/leads?sort=lastName"))
    assert '<div id="list-state" >' in page
    assert '<input type="hidden" name="sort" value="lastName">' in page
