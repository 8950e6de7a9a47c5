"""`Idempotency-Key` on POST /api/leads: a retry replays the first response and creates nothing;
the same key with another body is refused; keys belong to one account and one credential and
live 24 hours; twenty simultaneous requests with one key create one lead."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.api.openapi import document
from app.extensions import db
from app.models import AuditEvent, IdempotencyKey, Lead, Membership, User
from app.sqltypes import utcnow
from tests.support import Api, World, assert_problem

BODY = {"firstName": "Ada", "lastName": "Lovelace", "monthlyTransactionVolume": 1250.5}


def post(api: Api, key: str | None, body: dict | None = None):
    headers = {} if key is None else {"Idempotency-Key": key}
    return api.post("/api/leads", json=body or BODY, headers=headers)


def count(world: World, model: type) -> int:
    return world.count(model)  # rows of the model in the test's database


def test_a_retry_replays_the_first_response_and_creates_nothing(world):
    first = post(world.alice, "order-42")
    retry = post(world.alice, "order-42")
    assert first.status_code == retry.status_code == 201
    assert retry.get_data() == first.get_data()
    for header in ("Location", "ETag", "Content-Type"):
        assert retry.headers[header] == first.headers[header]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (count(world, Lead), count(world, AuditEvent), count(world, IdempotencyKey)) == (1, 1, 1)


def test_the_replay_ignores_key_order_and_spacing_of_the_body(world):
    post(world.alice, "k1", {"firstName": "Ada", "lastName": "Lovelace"})
    raw = b'{ "lastName" : "Lovelace",\n "firstName": "Ada" }'
    retry = world.alice.post(
        "/api/leads", data=raw, content_type="application/json", headers={"Idempotency-Key": "k1"}
    )
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert count(world, Lead) == 1


@pytest.mark.parametrize(
    "other",
    [
        {**BODY, "firstName": "Grace"},
        {**BODY, "company": "Acme"},
        {**BODY, "monthlyTransactionVolume": 1250.25},
    ],
)
def test_the_same_key_with_another_body_is_refused(world, other):
    post(world.alice, "order-42")
    body = assert_problem(post(world.alice, "order-42", other), 422)
    assert "Idempotency-Key" in body["detail"]
    assert (count(world, Lead), count(world, AuditEvent)) == (1, 1)


def test_keys_belong_to_one_account_and_one_credential(world):
    alice_session = world.session("alice@acme.test")
    alice_in_globex = alice_session.as_account(world.globex)
    callers = [world.alice, alice_session, alice_in_globex, world.bob]
    ids = {post(api, "same-key").get_json()["id"] for api in callers}
    assert len(ids) == len(callers)  # a token, a session, another account, another person
    again = {post(api, "same-key").get_json()["id"] for api in callers}
    assert again == ids
    assert count(world, Lead) == len(callers)


@pytest.mark.parametrize(
    "key",
    ["", " ", "x" * 256, "caf\u00e9", "tab\there", "new\x7fline", " padded"],
)
def test_a_malformed_key_is_refused_before_anything_is_written(world, key):
    response = world.alice.post(
        "/api/leads", json=BODY, headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")}
    )
    assert_problem(response, 400)
    assert count(world, Lead) == 0


@pytest.mark.parametrize("key", ["a", "x" * 255, "uuid:0b9e-4c1f~!#$%&'()*+,./;<=>?@[]^_`{|}"])
def test_any_printable_ascii_key_up_to_255_characters_works(world, key):
    assert post(world.alice, key).status_code == 201
    assert post(world.alice, key).headers["Idempotent-Replayed"] == "true"


def test_a_refused_request_does_not_use_up_its_key(world):
    assert_problem(post(world.alice, "k", {"firstName": "Ada"}), 400, "lastName")
    assert post(world.vera, "k").status_code == 403  # a viewer
    assert post(world.alice, "k").status_code == 201
    assert count(world, IdempotencyKey) == 1


def test_a_key_does_not_outlive_the_right_to_write(world):
    assert post(world.bob, "k").status_code == 201
    with world.app.app_context():
        bob = db.session.scalar(select(User).where(User.email == "bob@acme.test"))
        db.session.execute(
            update(Membership).where(Membership.user_id == bob.id).values(role="viewer")
        )
        db.session.commit()
    assert_problem(post(world.bob, "k"), 403)


def test_keys_expire_after_24_hours_and_are_purged(world):
    first = post(world.alice, "old").get_json()
    post(world.bob, "someone-elses-old-key")
    with world.app.app_context():
        db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    again = post(world.alice, "old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first["id"]
    with world.app.app_context():
        keys = db.session.scalars(select(IdempotencyKey.key)).all()
    assert keys == ["old"]  # the expired rows are gone, the new one is kept


def test_twenty_simultaneous_requests_with_one_key_create_one_lead(world):
    start = threading.Barrier(20)
    responses = []

    def send() -> None:
        api = Api(world.app.test_client(), world.alice.token, world.alice.email)
        start.wait()
        responses.append(post(api, "burst"))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.get_data() for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert (count(world, Lead), count(world, AuditEvent), count(world, IdempotencyKey)) == (1, 1, 1)


def test_the_openapi_document_describes_the_header_and_the_422():
    create = document()["paths"]["/api/leads"]["post"]
    refs = [p.get("$ref", "") for p in create["parameters"]]
    assert "#/components/parameters/IdempotencyKey" in refs
    assert "422" in create["responses"]
