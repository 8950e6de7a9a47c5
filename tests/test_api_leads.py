"""One lead through the API: create, read, update, delete, archive; validation; bodies; ids."""

from __future__ import annotations

import io
from typing import Any

import pytest

from app.config import MIB
from app.leads import validation as v
from app.leads.fields import BY_JSON, WRITABLE, Field, Kind
from tests.support import Api, assert_problem

JSON = "application/json"


def read(api: Api, lead_id: int) -> dict[str, Any]:
    """The lead as GET shows it, without its audit log."""
    response = api.get(f"/api/leads/{lead_id}")
    assert response.status_code == 200
    body = response.get_json()
    body.pop("auditLog")
    return body


def events(api: Api, lead_id: int) -> list[str]:
    return [e["event"] for e in api.get(f"/api/leads/{lead_id}").get_json()["auditLog"]]


# Create, read, update, delete ---------------------------------------------------------------


def test_create_answers_201_with_lead_location_and_etag(world):
    response = world.alice.post("/api/leads", json={"firstName": "Ada", "lastName": "Lovelace"})
    assert response.status_code == 201
    lead = response.get_json()
    assert response.headers["Location"].endswith(f"/api/leads/{lead['id']}")
    assert response.headers["ETag"]
    assert lead["firstName"] == "Ada" and lead["lastName"] == "Lovelace"
    assert lead["accountId"] == world.acme
    assert lead["createdBy"] == "alice@acme.test"
    assert lead["archived"] is False
    assert lead["createdAt"] == lead["updatedAt"]
    assert "auditLog" not in lead
    located = world.alice.get(response.headers["Location"])
    assert located.status_code == 200
    assert located.headers["ETag"] == response.headers["ETag"]


def test_create_returns_every_field_and_sets_defaults(world):
    lead = world.alice.create_lead()
    assert set(lead) == {f.json for f in BY_JSON.values()}
    optional = [f.json for f in WRITABLE if f.nullable]
    assert all(lead[name] is None for name in optional)


def test_get_answers_the_lead_with_etag_and_audit_log(world):
    lead = world.alice.create_lead(company="Acme")
    response = world.alice.get(f"/api/leads/{lead['id']}")
    assert response.status_code == 200
    assert response.headers["ETag"]
    body = response.get_json()
    assert [e["event"] for e in body.pop("auditLog")] == ["lead_created"]
    assert body == lead


def test_patch_changes_only_the_fields_sent(world):
    lead = world.alice.create_lead(company="Acme", email="ada@example.com", numberOfEmployees=5)
    etag = world.alice.get(f"/api/leads/{lead['id']}").headers["ETag"]
    response = world.alice.patch(f"/api/leads/{lead['id']}", json={"jobTitle": "CTO"})
    assert response.status_code == 200
    updated = response.get_json()
    assert updated["jobTitle"] == "CTO"
    assert updated["updatedAt"] > lead["updatedAt"]
    assert response.headers["ETag"] != etag
    unchanged = {k: val for k, val in updated.items() if k not in ("jobTitle", "updatedAt")}
    assert unchanged == {k: val for k, val in lead.items() if k not in ("jobTitle", "updatedAt")}
    assert read(world.alice, lead["id"]) == updated


def test_delete_answers_204_then_the_lead_is_gone(world):
    lead = world.alice.create_lead()
    response = world.alice.delete(f"/api/leads/{lead['id']}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(world.alice.get(f"/api/leads/{lead['id']}"), 404)
    assert_problem(world.alice.delete(f"/api/leads/{lead['id']}"), 404)
    assert world.alice.list()["totalCount"] == 0


def test_every_real_write_changes_updated_at_and_etag(world):
    api = world.alice
    lead = api.create_lead()
    path = f"/api/leads/{lead['id']}"
    seen = {(lead["updatedAt"], api.get(path).headers["ETag"])}
    for method, url, body in [
        ("PATCH", path, {"company": "A"}),
        ("PATCH", path, {"company": "B"}),
        ("POST", f"{path}/archive", None),
        ("DELETE", f"{path}/archive", None),
        ("PATCH", path, {"archived": True}),
        ("PATCH", path, {"archived": False, "notes": "x"}),
    ]:
        response = api.request(method, url, json=body)
        assert response.status_code == 200
        state = (response.get_json()["updatedAt"], response.headers["ETag"])
        assert state[0] > max(s[0] for s in seen)
        assert state not in seen
        seen.add(state)


# Archive ------------------------------------------------------------------------------------


def test_archive_and_unarchive_answer_the_lead(world):
    lead = world.alice.create_lead()
    archived = world.alice.post(f"/api/leads/{lead['id']}/archive")
    assert archived.status_code == 200
    assert archived.get_json()["archived"] is True
    assert archived.headers["ETag"]
    restored = world.alice.delete(f"/api/leads/{lead['id']}/archive")
    assert restored.status_code == 200
    assert restored.get_json()["archived"] is False
    assert events(world.alice, lead["id"]) == ["lead_created", "lead_archived", "lead_unarchived"]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_archive_routes_are_idempotent_and_record_nothing_the_second_time(world, method):
    api = world.alice
    lead = api.create_lead(archived=method == "DELETE")
    path = f"/api/leads/{lead['id']}/archive"
    first = api.request(method, path)
    assert first.status_code == 200
    audits = world.audit_count()
    second = api.request(method, path)
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers["ETag"] == first.headers["ETag"]
    assert world.audit_count() == audits


def test_patch_archived_is_the_same_as_the_archive_routes(world):
    api = world.alice
    lead = api.create_lead()
    audits = world.audit_count()
    response = api.patch(f"/api/leads/{lead['id']}", json={"archived": True})
    assert response.status_code == 200
    assert response.get_json()["archived"] is True
    assert world.audit_count() == audits + 1
    assert events(api, lead["id"]) == ["lead_created", "lead_archived"]
    assert api.ids("archived=true") == [lead["id"]]
    api.patch(f"/api/leads/{lead['id']}", json={"archived": False, "company": "X"})
    assert events(api, lead["id"])[2:] == ["lead_updated", "lead_unarchived"]


def test_patch_with_current_values_records_nothing(world):
    api = world.alice
    lead = api.create_lead(
        company="Acme",
        email="ada@example.com",
        numberOfEmployees=5,
        monthlyTransactionVolume=0.1,
        interestedInSwitching=False,
        lastContacted="2024-03-01T10:00:00.123Z",
    )
    etag = api.get(f"/api/leads/{lead['id']}").headers["ETag"]
    audits = world.audit_count()
    body = {f.json: lead[f.json] for f in WRITABLE}
    body["company"] = "  Acme  "  # the same once trimmed
    for sent in (body, {"company": "Acme"}, {}):
        response = api.patch(f"/api/leads/{lead['id']}", json=sent)
        assert response.status_code == 200
        assert response.get_json() == lead
        assert response.headers["ETag"] == etag
    assert world.audit_count() == audits


# If-Match -----------------------------------------------------------------------------------

CONDITIONAL = [
    ("PATCH", "", {"company": "Changed"}, 200),
    ("DELETE", "", None, 204),
    ("POST", "/archive", None, 200),
    ("DELETE", "/archive", None, 200),
]


def conditional_lead(api: Api, method: str, suffix: str) -> dict[str, Any]:
    return api.create_lead(company="Original", archived=(method, suffix) == ("DELETE", "/archive"))


@pytest.mark.parametrize(("method", "suffix", "body", "status"), CONDITIONAL)
def test_if_match_with_current_etag_or_star_allows_the_write(world, method, suffix, body, status):
    for current in (True, False):
        lead = conditional_lead(world.alice, method, suffix)
        etag = world.alice.get(f"/api/leads/{lead['id']}").headers["ETag"] if current else "*"
        response = world.alice.request(
            method, f"/api/leads/{lead['id']}{suffix}", json=body, headers={"If-Match": etag}
        )
        assert response.status_code == status, etag


@pytest.mark.parametrize(("method", "suffix", "body", "status"), CONDITIONAL)
def test_if_match_with_stale_etag_refuses_with_412_and_changes_nothing(
    world, method, suffix, body, status
):
    api = world.alice
    lead = conditional_lead(api, method, suffix)
    other = api.create_lead()
    path = f"/api/leads/{lead['id']}"
    stale = api.get(path).headers["ETag"]
    assert api.patch(path, json={"notes": "changed since"}).status_code == 200
    before, audits = read(api, lead["id"]), world.audit_count()
    other_etag = api.get(f"/api/leads/{other['id']}").headers["ETag"]
    for tag in (stale, other_etag, '"garbage"', f"{stale}, {other_etag}"):
        response = api.request(method, path + suffix, json=body, headers={"If-Match": tag})
        assert_problem(response, 412)
    assert read(api, lead["id"]) == before
    assert world.audit_count() == audits


# Validation ---------------------------------------------------------------------------------

BASE = {"firstName": "Ada", "lastName": "Lovelace"}


def too_long(field: Field) -> str:
    """A value that is valid for the field except that it is one character too long."""
    n = (field.max_length or 0) + 1
    match field.kind:
        case Kind.EMAIL:
            return "a" * (n - len("@example.com")) + "@example.com"
        case Kind.PHONE:
            return "5" * 10 + " " * (n - 11) + "5"
        case Kind.URL:
            return "https://example.com/" + "a" * (n - len("https://example.com/"))
    return "x" * n


def longest(field: Field) -> str:
    """A valid value of exactly the field's maximum length."""
    n = field.max_length or 0
    match field.kind:
        case Kind.EMAIL:  # a local part is at most 64 characters, a domain label 63
            domain = ".".join(["d" * 63] * 3)
            local = "l" * (n - len(domain) - 1)
            assert len(local) <= 64
            return f"{local}@{domain}"
        case Kind.PHONE:
            return "5" * 7 + " " * (n - 8) + "5"
        case Kind.URL:
            return "https://example.com/" + "a" * (n - len("https://example.com/"))
    return "x" * n


LIMITED = [f for f in WRITABLE if f.max_length]


def max_length_message(field: Field) -> str:
    return f"Must be at most {field.max_length:,} characters."


RANGE_EMPLOYEES = "Must be between 0 and 10,000,000."
RANGE_MONEY = "Must be between 0 and 10,000,000,000,000."

MISSING = object()  # the field left out of the body

# Each rule of lead-reference.md: (field, message, values that break only that rule).
RULES: dict[str, tuple[str, str, list[Any]]] = {
    "firstName-required": ("firstName", v.REQUIRED, [MISSING, None, "", "   ", " \t\n "]),
    "lastName-required": ("lastName", v.REQUIRED, [MISSING, None, "", "   "]),
    "text-is-a-string": ("company", v.NOT_TEXT, [5, 1.5, True, ["Acme"], {"a": 1}]),
    "name-is-a-string": ("firstName", v.NOT_TEXT, [5, ["Ada"]]),
    "email-is-a-string": ("email", v.NOT_TEXT, [True, 5]),
    "single-line-control": (
        "company",
        v.CONTROL,
        ["A\x00cme", "Ac\nme", "Ac\rme", "C\x1bTO", "del \x7f", "tab\tbed"],
    ),
    "name-control": ("firstName", v.CONTROL, ["A\x00da", "A\nda"]),
    "multiline-control": ("notes", v.CONTROL, ["nul \x00 byte", "bell \x07", "esc \x1b"]),
    "valid-unicode": ("company", v.BAD_TEXT, ["lone \ud800 surrogate", "\udfff"]),
    "email-syntax": (
        "email",
        v.EMAIL,
        [
            "not-an-email",
            "a@",
            "@example.com",
            "a b@example.com",
            "a@b@example.com",
            "ada@localhost",
            "ada@example..com",
        ],
    ),
    "assignedTo-email-syntax": ("assignedTo", v.EMAIL, ["ana", "ana@", "ana pulse@example.com"]),
    "phone-digits-and-characters": (
        "phone",
        v.PHONE,
        [
            "123456",
            "1234567890123456",
            "555-CALL-NOW",
            "+1 555 555 5555 ext 2",
            "++15555555",
            "5555555#",
            "55 55/555",
            "+",
            "(((((((",
            "1234567+",
        ],
    ),
    "imgSrc-absolute-http": (
        "imgSrc",
        v.URL,
        [
            "javascript:alert(1)",
            "JavaScript://example.com/%0Aalert(1)",
            "data:image/png;base64,AAAA",
            "ftp://example.com/a.png",
            "/relative/a.png",
            "example.com/a.png",
            "http://",
            "https:///a.png",
            "http://exa mple.com/a.png",
        ],
    ),
    "employees-range": (
        "numberOfEmployees",
        RANGE_EMPLOYEES,
        [-1, 10_000_001, 10**30],
    ),
    "employees-whole-number": (
        "numberOfEmployees",
        v.WHOLE_NUMBER,
        [1.5, 5.0, "5", True, False, [], {}],
    ),
    "money-decimals": ("monthlyTransactionVolume", v.MONEY_DECIMALS, [1.234, 0.001, 1e-7]),
    "money-range": (
        "monthlyTransactionVolume",
        RANGE_MONEY,
        [-0.01, -1, 10_000_000_000_000.01, 10**20],
    ),
    "money-number": ("monthlyTransactionVolume", v.NUMBER, ["5", "5.00", True, False, [], {}]),
    "interested-boolean": ("interestedInSwitching", v.BOOLEAN, ["true", 1, 0, "yes", []]),
    "archived-boolean": ("archived", v.BOOLEAN, ["false", 0, None]),
    "lastContacted-date-or-zoned-date-time": (
        "lastContacted",
        v.DATETIME,
        [
            "2024-03-01T14:30:00",  # naive: refused
            "2024-03-01T14:30",
            "2024-02-30",
            "2024-3-1",
            "01/03/2024",
            "yesterday",
            "2024-03-01T14:30:00+25:00",
            "0001-01-01T00:00:00+01:00",  # before the first representable instant in UTC
            20240301,
            True,
        ],
    ),
    "unknown-field": ("foo", v.UNKNOWN, [1, None, "x"]),
    "unknown-snake-case": ("first_name", v.UNKNOWN, ["Ada"]),
    "unknown-wrong-case": ("FirstName", v.UNKNOWN, ["Ada"]),
    **{
        f"{name}-read-only": (name, v.READ_ONLY, [value, None])
        for name, value in (
            ("id", 1),
            ("accountId", "1"),
            ("createdAt", "2024-03-01T00:00:00.000Z"),
            ("updatedAt", "2024-03-01T00:00:00.000Z"),
            ("createdBy", "alice@acme.test"),
        )
    },
    **{
        f"{f.json}-max-length": (
            f.json,
            max_length_message(f),
            [too_long(f)],
        )
        for f in LIMITED
    },
}


@pytest.mark.parametrize("rule", RULES)
def test_writes_refuse_invalid_values_and_change_nothing(world, rule):
    name, message, values = RULES[rule]
    lead = world.alice.create_lead(company="Acme", phone="555 1234")
    counts = world.count(), world.audit_count()
    for value in values:
        body = {k: val for k, val in BASE.items() if k != name}
        sent = {name: None} if value is MISSING else {name: value}
        if value is not MISSING:
            body[name] = value
        created = assert_problem(world.alice.post("/api/leads", json=body), 400, name)
        assert created["errors"] == {name: [message]}, value
        path = f"/api/leads/{lead['id']}"
        updated = assert_problem(world.alice.patch(path, json=sent), 400, name)
        assert updated["errors"] == {name: [message]}, value
    assert (world.count(), world.audit_count()) == counts
    assert read(world.alice, lead["id"]) == lead


def test_refuses_audit_log_in_a_body(world):
    lead = world.alice.create_lead()
    counts = world.count(), world.audit_count()
    assert_problem(world.alice.post("/api/leads", json={**BASE, "auditLog": []}), 400, "auditLog")
    response = world.alice.patch(f"/api/leads/{lead['id']}", json={"auditLog": []})
    assert_problem(response, 400, "auditLog")
    assert (world.count(), world.audit_count()) == counts


def test_validation_lists_every_problem_at_once(world):
    body = {"firstName": " ", "email": "bad", "numberOfEmployees": -1, "foo": 1}
    problem = assert_problem(world.alice.post("/api/leads", json=body), 400)
    assert set(problem["errors"]) == {"firstName", "lastName", "email", "numberOfEmployees", "foo"}


# What each field keeps: {field: [(value sent, value stored and answered), ...]}.
ACCEPTED: dict[str, list[tuple[Any, Any]]] = {
    "firstName": [("  Ada  ", "Ada"), ("Zoë", "Zoë")],
    "company": [
        ("\tAcme Inc \n", "Acme Inc"),
        ("", None),
        ("   ", None),
        (None, None),
        ("Zürich ☕ 株式会社", "Zürich ☕ 株式会社"),
    ],
    "notes": [("line one\nline two\r\n\ttabbed", "line one\nline two\r\n\ttabbed")],
    "email": [(" ada@example.com ", "ada@example.com")],
    "assignedTo": [("Ana@Pulse.Example", "Ana@Pulse.Example")],
    "phone": [
        ("1234567", "1234567"),
        (" +1 (555) 555-5555 ", "+1 (555) 555-5555"),
        ("555.555.5555", "555.555.5555"),
        ("123456789012345", "123456789012345"),
    ],
    "imgSrc": [
        ("http://example.com/a.png", "http://example.com/a.png"),
        ("HTTPS://EXAMPLE.COM/A.PNG?x=1#y", "HTTPS://EXAMPLE.COM/A.PNG?x=1#y"),
    ],
    "numberOfEmployees": [(0, 0), (10_000_000, 10_000_000), (None, None)],
    "monthlyTransactionVolume": [
        (0, 0),
        (0.1, 0.1),
        (1.25, 1.25),
        (125000.5, 125000.5),
        (9999999999999.99, 9999999999999.99),
        (10_000_000_000_000, 10_000_000_000_000),
    ],
    "interestedInSwitching": [(True, True), (False, False), (None, None)],
    "lastContacted": [
        ("2024-03-01", "2024-03-01T00:00:00.000Z"),
        (" 2024-03-01T14:30:00Z ", "2024-03-01T14:30:00.000Z"),
        ("2024-03-01T14:30:00.123Z", "2024-03-01T14:30:00.123Z"),
        ("2024-03-01T14:30:00+02:00", "2024-03-01T12:30:00.000Z"),
        ("2024-03-01T22:30:00-05:00", "2024-03-02T03:30:00.000Z"),
        ("2024-03-01T14:30:00-0530", "2024-03-01T20:00:00.000Z"),
        ("", None),
        ("0001-01-01", "0001-01-01T00:00:00.000Z"),
        ("0999-12-31T23:00:00-01:00", "1000-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
    ],
    "archived": [(True, True), (False, False)],
}
for _field in LIMITED:  # the longest value each text field takes
    ACCEPTED.setdefault(_field.json, []).append((longest(_field), longest(_field)))


@pytest.mark.parametrize("name", ACCEPTED)
def test_create_and_update_keep_valid_values(world, name):
    other = world.alice.create_lead(company="Other")
    for sent, stored in ACCEPTED[name]:
        lead = world.alice.create_lead(**{name: sent})
        assert lead[name] == stored, sent
        assert read(world.alice, lead["id"])[name] == stored, sent
        response = world.alice.patch(f"/api/leads/{other['id']}", json={name: sent})
        assert response.status_code == 200
        assert response.get_json()[name] == stored, sent
        assert read(world.alice, other["id"])[name] == stored, sent


def test_money_is_kept_exactly_in_the_json_text(world):
    def text(response) -> bytes:
        return response.get_data().replace(b" ", b"")

    body = b'{"firstName": "A", "lastName": "B", "monthlyTransactionVolume": 9999999999999.99}'
    created = world.alice.post("/api/leads", data=body, content_type=JSON)
    assert created.status_code == 201
    path = f"/api/leads/{created.get_json()['id']}"
    for response in (created, world.alice.get(path)):
        assert b'"monthlyTransactionVolume":9999999999999.99,' in text(response)
    patched = world.alice.patch(path, data=b'{"monthlyTransactionVolume": 0.1}', content_type=JSON)
    for response in (patched, world.alice.get(path)):
        assert b'"monthlyTransactionVolume":0.1,' in text(response)


def test_null_clears_an_optional_field(world):
    lead = world.alice.create_lead(company="Acme", numberOfEmployees=5, lastContacted="2024-03-01")
    response = world.alice.patch(
        f"/api/leads/{lead['id']}",
        json={"company": None, "numberOfEmployees": None, "lastContacted": None},
    )
    assert response.status_code == 200
    stored = read(world.alice, lead["id"])
    assert stored["company"] is stored["numberOfEmployees"] is stored["lastContacted"] is None


def test_required_fields_cannot_be_cleared(world):
    lead = world.alice.create_lead()
    for name in ("firstName", "lastName"):
        for value in (None, "", "  "):
            response = world.alice.patch(f"/api/leads/{lead['id']}", json={name: value})
            assert assert_problem(response, 400, name)["errors"][name] == [v.REQUIRED]
    assert read(world.alice, lead["id"]) == lead


# Bodies -------------------------------------------------------------------------------------

# {status: {case: (body, Content-Type)}}
BAD_BODIES: dict[int, dict[str, tuple[bytes, str | None]]] = {
    400: {
        "malformed": (b"{", JSON),
        "trailing-comma": (b'{"firstName": "Ada",}', JSON),
        "single-quotes": (b"{'firstName': 'Ada'}", JSON),
        "not-utf8": (b'{"firstName": "\xff"}', JSON),
        "list": (b"[]", JSON),
        "list-of-object": (b'[{"firstName": "Ada"}]', JSON),
        "string": (b'"Ada"', JSON),
        "null": (b"null", JSON),
        "number": (b"42", JSON),
        "empty": (b"", JSON),
        "duplicate-keys": (b'{"firstName": "A", "firstName": "B", "lastName": "C"}', JSON),
        "NaN": (b'{"firstName": "A", "lastName": "B", "numberOfEmployees": NaN}', JSON),
        "Infinity": (b'{"firstName": "A", "lastName": "B", "numberOfEmployees": Infinity}', JSON),
        "-Infinity": (
            b'{"firstName": "A", "lastName": "B", "monthlyTransactionVolume": -Infinity}',
            JSON,
        ),
        "deep": (b'{"notes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", JSON),
        "huge-integer": (b'{"numberOfEmployees": ' + b"9" * 5000 + b"}", JSON),
    },
    415: {
        "text-plain": (b'{"firstName": "A", "lastName": "B"}', "text/plain"),
        "form": (b"firstName=A&lastName=B", "application/x-www-form-urlencoded"),
        "multipart": (b"", "multipart/form-data; boundary=x"),
        "no-content-type": (b'{"firstName": "A", "lastName": "B"}', None),
        "no-body": (b"", None),
    },
    413: {"over-1MiB": (b'{"notes": "' + b"a" * MIB + b'"}', JSON)},
}


@pytest.mark.parametrize("status", BAD_BODIES)
def test_refuses_bad_bodies_as_problems_and_changes_nothing(world, status):
    lead = world.alice.create_lead()
    counts = world.count(), world.audit_count()
    for case, (data, content_type) in BAD_BODIES[status].items():
        for method, path in (("POST", "/api/leads"), ("PATCH", f"/api/leads/{lead['id']}")):
            response = world.alice.request(method, path, data=data, content_type=content_type)
            assert response.status_code == status, (case, method)
            assert_problem(response, status)
    assert (world.count(), world.audit_count()) == counts
    assert read(world.alice, lead["id"]) == lead


def streamed(body: bytes) -> dict:
    """A request body sent in chunks (no Content-Length), as gunicorn hands it over."""
    return {
        "input_stream": io.BytesIO(body),
        "content_type": JSON,
        "headers": {"Transfer-Encoding": "chunked"},  # werkzeug then ignores Content-Length
        "environ_overrides": {"wsgi.input_terminated": True},
    }


def test_a_chunked_body_over_1_mib_is_refused_not_cut_off(world):
    """A valid object padded past 1 MiB with spaces was cut at 1 MiB and accepted (201)."""
    body = b'{"firstName": "A", "lastName": "B"}' + b" " * MIB
    response = world.alice.post("/api/leads", **streamed(body))
    assert_problem(response, 413)
    assert world.count() == 0
    small = world.alice.post("/api/leads", **streamed(body[: MIB - 1]))
    assert small.status_code == 201  # up to the limit, a streamed body is read whole


def test_accepts_json_with_charset_and_json_suffix_media_types(world):
    body = b'{"firstName": "A", "lastName": "B"}'
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = world.alice.post("/api/leads", data=body, content_type=content_type)
        assert response.status_code == 201


# Ids and methods ----------------------------------------------------------------------------

ROUTES = [
    ("GET", "", None),
    ("PATCH", "", {"company": "X"}),
    ("DELETE", "", None),
    ("POST", "/archive", None),
    ("DELETE", "/archive", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/leads/{id}", None),
        ("PATCH", "/api/leads/{id}", {"company": "Changed"}),
        ("DELETE", "/api/leads/{id}", None),
        ("POST", "/api/leads/{id}/archive", None),
        ("DELETE", "/api/leads/{id}/archive", None),
        ("POST", "/api/leads", {"firstName": "A", "lastName": "B"}),
        ("GET", "/api/auth/session", None),
        ("POST", "/api/auth/login", {"email": "alice@acme.test", "password": "x" * 12}),
        ("GET", "/api/openapi.json", None),
    ],
)
def test_a_query_parameter_a_route_does_not_take_is_a_400_naming_it(world, method, path, body):
    """It was ignored, so a typo (?dryRun=true, ?fields=…) silently did something else."""
    lead = world.alice.create_lead()
    url = path.format(id=lead["id"]) + "?dryRun=true&verbose"
    response = world.alice.request(method, url, json=body)
    problem = assert_problem(response, 400, "dryRun", "verbose")
    assert problem["errors"]["dryRun"] == ["Unknown parameter: this operation takes none."]
    assert world.count() == 1 and read(world.alice, lead["id"]) == lead


LEAD_IDS = {
    400: ["abc", "-1", "1.5", "1e3", "%20", "%D9%A3", "+1"],  # %D9%A3: an Arabic-Indic three
    404: ["0", "00", "2147483647", "2147483648", "9223372036854775807", "9" * 30],
}


@pytest.mark.parametrize("status", LEAD_IDS)
def test_lead_ids_are_positive_integers_and_unknown_ones_are_404(world, status):
    world.alice.create_lead()
    for lead_id in LEAD_IDS[status]:
        for method, suffix, body in ROUTES:
            response = world.alice.request(method, f"/api/leads/{lead_id}{suffix}", json=body)
            assert response.status_code == status, (lead_id, method, suffix)
            assert_problem(response, status)
    assert world.count() == 1
    assert world.audit_count() == 1


def test_unsupported_methods_answer_405_problems(world):
    world.alice.create_lead()
    for method, path in [
        ("PUT", "/api/leads/1"),
        ("PUT", "/api/leads"),
        ("DELETE", "/api/leads"),
        ("PATCH", "/api/leads"),
        ("GET", "/api/leads/1/archive"),
        ("PATCH", "/api/leads/1/archive"),
        ("POST", "/api/leads/1"),
    ]:
        response = world.alice.request(method, path, json={"company": "X"})
        assert_problem(response, 405)
        assert response.headers["Allow"], (method, path)
    assert world.alice.list()["data"][0]["company"] is None
    assert world.count() == 1


def test_unknown_api_paths_answer_404_problems(world):
    assert_problem(world.alice.get("/api/nothing-here"), 404)
    assert_problem(world.alice.get("/api/leads/1/nothing"), 404)


@pytest.mark.parametrize(
    "url",
    ["HTTP://{", "https://exa_mple.com/x.png", "https://-bad.com/", "https://example.com:99999/"],
)
def test_picture_url_needs_a_real_host(world, url):
    response = world.alice.post(
        "/api/leads", json={"firstName": "A", "lastName": "B", "imgSrc": url}
    )
    assert_problem(response, 400, "imgSrc")


@pytest.mark.parametrize(
    "url", ["https://münchen.de/a.png", "http://[::1]:8080/a.png", "https://10.0.0.1/a.png"]
)
def test_picture_url_accepts_international_names_and_addresses(world, url):
    assert world.alice.create_lead(imgSrc=url)["imgSrc"] == url
