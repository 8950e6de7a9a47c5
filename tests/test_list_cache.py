"""A list asked for again is answered from the list cache until the account's next lead write:
the same bytes as a list built afresh, never a stale one, never another account's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from app import cache
from app.api import leads as api_leads
from app.cache import LRUCache
from app.extensions import db
from app.models import Account
from tests.support import World, lead_queries
from tests.web_support import post_form, signed_in_client

LISTS = [
    "/api/leads",
    "/api/leads?sort=lastName",
    "/api/leads?archived=true",
    "/api/leads?search=cached",
    "/api/leads?processStage=Qualified&pageSize=1&page=2",
]


def _bodies(world: World) -> dict[str, bytes]:
    bodies = {}
    for path in LISTS:
        response = world.alice.get(path)
        assert response.status_code == 200, response.get_json()
        bodies[path] = response.get_data()
    return bodies


def _fresh_bodies(world: World) -> dict[str, bytes]:
    cache.forget_all()
    return _bodies(world)


def _seed(world: World) -> list[int]:
    return [
        world.alice.create_lead(
            firstName=f"Ann{n}", lastName=f"Cached{n}", processStage="Qualified"
        )["id"]
        for n in range(3)
    ]


def test_a_list_asked_again_runs_no_query_and_gives_the_same_bytes(world):
    _seed(world)
    first = _bodies(world)
    with lead_queries(world.app) as queries:
        again = _bodies(world)
    assert queries == []
    assert again == first == _fresh_bodies(world)
    assert world.alice.get("/api/leads").mimetype == "application/json"


def _patch(world, ids):
    world.alice.patch(f"/api/leads/{ids[0]}", json={"lastName": "Changed"})


def _archive(world, ids):
    world.alice.post(f"/api/leads/{ids[1]}/archive")


def _unarchive(world, ids):
    world.alice.post(f"/api/leads/{ids[1]}/archive")
    _bodies(world)  # cached again while archived
    world.alice.delete(f"/api/leads/{ids[1]}/archive")


def _delete(world, ids):
    world.alice.delete(f"/api/leads/{ids[2]}")


def _create(world, ids):
    world.alice.create_lead(firstName="Newer", lastName="Cached", processStage="Qualified")


def _ui_edit(world, ids):
    browser = signed_in_client(world.app, "alice@acme.test")
    response = post_form(browser, f"/leads/{ids[0]}/archive")
    assert response.status_code in (200, 302, 303)


WRITES: dict[str, Callable[[World, list[int]], None]] = {
    "patch": _patch,
    "archive": _archive,
    "unarchive": _unarchive,
    "delete": _delete,
    "create": _create,
    "archive in the UI": _ui_edit,
}


@pytest.mark.parametrize("write", WRITES)
def test_every_lead_write_is_seen_by_the_next_list(world, write):
    ids = _seed(world)
    before = _bodies(world)
    WRITES[write](world, ids)
    after = _bodies(world)
    assert after != before
    assert after == _fresh_bodies(world)


def test_a_refused_write_leaves_the_cached_lists_as_they_were(world):
    ids = _seed(world)
    before = _bodies(world)
    refused = world.alice.patch(f"/api/leads/{ids[0]}", json={"email": "not an email"})
    assert refused.status_code == 400
    conflict = world.alice.patch(
        f"/api/leads/{ids[0]}", json={"lastName": "Late"}, headers={"If-Match": '"0-0"'}
    )
    assert conflict.status_code == 412
    with lead_queries(world.app) as queries:
        after = _bodies(world)
    assert queries == []  # still the cached bodies: nothing was written
    assert after == before == _fresh_bodies(world)


def test_each_account_has_lists_of_its_own(world):
    world.alice.create_lead(firstName="Ann", lastName="Acme")
    world.carol.create_lead(firstName="Cy", lastName="Globex")
    with world.app.app_context():  # the same data version: only the account tells them apart
        assert len(set(db.session.scalars(select(Account.data_version)))) == 1
    acme = world.alice.list()
    globex = world.carol.list()
    assert [lead["lastName"] for lead in acme["data"]] == ["Acme"]
    assert [lead["lastName"] for lead in globex["data"]] == ["Globex"]
    assert world.alice.list() == acme and world.carol.list() == globex


def test_with_the_cache_off_every_list_runs_its_queries(world, list_cache_off):
    _seed(world)
    first = world.alice.get("/api/leads").get_data()
    with lead_queries(world.app) as queries:
        again = world.alice.get("/api/leads").get_data()
    assert queries, "the list ran no query"
    assert again == first


def test_the_cache_keeps_the_most_recently_used_entries():
    lru: LRUCache[str] = LRUCache(2)
    lru.put("a", "A")
    lru.put("b", "B")
    assert lru.get("a") == "A"  # now the most recently used
    lru.put("c", "C")
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == ("A", None, "C")
    lru.resize(1)
    assert len(lru) == 1 and lru.get("c") == "C"
    lru.resize(0)
    lru.put("d", "D")
    assert len(lru) == 0 and lru.get("d") is None


def test_the_cache_keeps_to_its_budget_in_bytes():
    lru: LRUCache[bytes] = LRUCache(10, cost=len)
    for key, value in [("a", b"1234"), ("b", b"1234"), ("c", b"12345")]:
        lru.put(key, value)
    assert (lru.get("a"), lru.used) == (None, 9)  # "a" dropped to make room
    lru.put("b", b"1")  # replacing a value counts only the new one
    assert lru.used == 6
    lru.put("huge", b"x" * 11)  # more than the whole budget: not kept
    assert lru.get("huge") is None and lru.used == 6


def test_list_bodies_stay_within_the_configured_megabytes(world):
    for n in range(30):
        world.alice.create_lead(firstName="Ann", lastName=f"Cached{n}", notes="n" * 9000)
    api_leads.configure_list_cache(1)
    try:
        for page in range(1, 4):
            assert world.alice.get(f"/api/leads?pageSize=100&page={page}").status_code == 200
            for size in range(20, 31):
                assert world.alice.get(f"/api/leads?pageSize={size}").status_code == 200
        assert 0 < api_leads._bodies.used <= 2**20
    finally:
        api_leads.configure_list_cache(world.app.config["LIST_CACHE_MB"])
