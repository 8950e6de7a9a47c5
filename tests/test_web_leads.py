"""A lead's page, the new and edit forms, and the actions: archive, log contact, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.leads.fields import Kind
from app.web.forms import FORM_FIELDS
from tests.support import World
from tests.web_support import (
    assert_site_page,
    csrf_token,
    field_errors,
    form_values,
    ids_in,
    post_form,
    signed_in_client,
    text,
)

FULL = {
    "firstName": "Ann",
    "lastName": "Lee",
    "email": "ann@lee.example",
    "phone": "+1 555 555 0100",
    "company": "Lee Logistics",
    "jobTitle": "CTO",
    "processStage": "Initial Contact",
    "numberOfEmployees": 250,
    "monthlyTransactionVolume": 1250.5,
    "interestedInSwitching": True,
    "lastContacted": "2024-03-01T14:30:00Z",
    "notes": "Asked for a demo.\nCall back on Monday.",
}


@pytest.fixture
def alice(app, world):
    return signed_in_client(app, "alice@acme.test")


def blur(client, name: str, value: str, token: str, **headers: str):
    """What htmx sends when the user leaves a form field: that field alone, token in a header."""
    headers = {"HX-Request": "true", "X-CSRFToken": token, **headers}
    return client.post(f"/leads/fields/{name}", data={name: value}, headers=headers)


def read(world: World, lead_id: int) -> dict:
    response = world.alice.get(f"/api/leads/{lead_id}")
    assert response.status_code == 200
    return response.get_json()


# A lead's page -------------------------------------------------------------------------------


def test_detail_groups_the_fields_under_contact_company_sales_and_crm(alice, world):
    lead = world.alice.create_lead(**FULL)
    response = alice.get(f"/leads/{lead['id']}")
    assert response.status_code == 200
    page = text(response)
    assert_site_page(page)
    assert "<h1>Ann Lee</h1>" in page
    headings = [page.index(f'">{group}</h2>') for group in ("Contact", "Company", "Sales", "CRM")]
    assert headings == sorted(headings)
    contact, company, sales, crm = (
        page[start:end] for start, end in zip(headings, [*headings[1:], len(page)], strict=True)
    )
    assert "<dt>First name</dt>" in contact and "<dt>Email</dt>" in contact
    assert "<dt>Number of employees</dt>" in company and "<dd>250</dd>" in company
    assert "<dt>Process stage</dt>" in sales and "<dd>Initial Contact</dd>" in sales
    assert "<dd>1,250.50</dd>" in sales and "<dd>Yes</dd>" in sales
    assert "<dt>Notes</dt>" in crm and "<dt>Created by</dt>" in crm
    assert '<time datetime="2024-03-01T14:30:00+00:00">1 Mar 2024, 14:30 UTC</time>' in crm


def test_detail_links_email_with_mailto_and_phone_with_tel(alice, world):
    lead = world.alice.create_lead(**FULL)
    page = text(alice.get(f"/leads/{lead['id']}"))
    assert '<a href="mailto:ann@lee.example">ann@lee.example</a>' in page
    assert '<a href="tel:+15555550100">+1 555 555 0100</a>' in page


def test_timeline_tells_each_change_as_a_sentence(alice, world):
    lead = world.alice.create_lead(**FULL)
    world.alice.patch(f"/api/leads/{lead['id']}", json={"processStage": "Qualified"})
    world.alice.patch(f"/api/leads/{lead['id']}", json={"phone": None, "branch": "Retail"})
    page = text(alice.get(f"/leads/{lead['id']}"))
    timeline = page[page.index('<ol class="timeline">') :]
    newest = timeline.index("made these changes:")
    stage = timeline.index("changed Process stage from Initial Contact to Qualified")
    created = timeline.index("created this lead")
    assert newest < stage < created
    assert "<li>cleared Phone (was +1 555 555 0100)</li>" in timeline
    assert "<li>set Branch to Retail</li>" in timeline
    assert '<strong title="alice@acme.test">Alice</strong>' in timeline


def test_detail_offers_every_action_to_an_admin(alice, world):
    lead_id = world.alice.create_lead(**FULL)["id"]
    page = text(alice.get(f"/leads/{lead_id}"))
    assert f'<form method="post" action="/leads/{lead_id}/contact">' in page
    assert ">Log contact</button>" in page
    assert f'<a class="button" href="/leads/{lead_id}/edit">Edit</a>' in page
    assert f'<form method="post" action="/leads/{lead_id}/archive">' in page
    assert '<button type="submit" class="button">Archive</button>' in page
    assert f'<a class="button danger" href="/leads/{lead_id}/delete">Delete</a>' in page
    assert page.count('name="csrf_token"') >= 3


@pytest.mark.parametrize("url", ["/leads/999", "/leads/0", "/leads/abc", "/leads/999/edit"])
def test_unknown_lead_is_a_404_page_in_the_site_look(alice, url):
    response = alice.get(url)
    assert response.status_code == 404
    assert_site_page(text(response))


# New lead ------------------------------------------------------------------------------------


def test_new_form_has_a_labelled_input_for_every_catalogue_field(alice):
    response = alice.get("/leads/new")
    assert response.status_code == 200
    page = text(response)
    assert "<h1>New lead</h1>" in page
    assert '<form class="lead-form" method="post" novalidate\n      action="/leads">' in page
    assert '<label for="field-firstName">First name <span class="required"' in page
    assert '<label for="field-email">Email</label>' in page
    for field in FORM_FIELDS:
        assert f'<label for="field-{field.json}">{field.label}' in page, field.json
        assert f'id="field-{field.json}"' in page and f'name="{field.json}"' in page
    assert 'id="field-email" maxlength="254" name="email" type="email"' in page
    assert 'name="phone" type="tel"' in page
    assert 'name="lastContacted" type="datetime-local"' in page
    assert "aria-invalid" not in page
    assert ">Save</button>" in page
    assert set(form_values(page)) == {"csrf_token", "version"} | {f.json for f in FORM_FIELDS}


def test_saving_a_new_lead_lands_on_its_page_with_a_confirmation(alice, world):
    data = {
        "firstName": " Ann ",
        "lastName": "Lee",
        "email": "ann@lee.example",
        "numberOfEmployees": "250",
        "monthlyTransactionVolume": "1250.5",
        "interestedInSwitching": "true",
        "lastContacted": "2024-03-01T14:30",
        "notes": "Line one\r\nLine two",
    }
    response = post_form(alice, "/leads", data)
    assert response.status_code == 303
    location = response.headers["Location"]
    lead_id = int(location.removeprefix("/leads/"))
    page = text(alice.get(location))
    assert '<p class="flash flash-success" role="status">Added Ann Lee.</p>' in page
    assert "<h1>Ann Lee</h1>" in page
    lead = read(world, lead_id)
    assert lead["firstName"] == "Ann" and lead["createdBy"] == "alice@acme.test"
    assert lead["numberOfEmployees"] == 250
    assert lead["monthlyTransactionVolume"] == 1250.5
    assert lead["interestedInSwitching"] is True
    assert lead["lastContacted"] == "2024-03-01T14:30:00.000Z"
    assert lead["notes"] == "Line one\r\nLine two"
    assert "Added Ann Lee." not in text(alice.get(location))  # a flash shows once


BAD_INPUT = [
    # (field, what the form sends, what a JSON client sends)
    ("firstName", "", ""),
    ("lastName", "x" * 101, "x" * 101),
    ("email", "not-an-email", "not-an-email"),
    ("phone", "call me", "call me"),
    ("imgSrc", "javascript:alert(1)", "javascript:alert(1)"),
    ("numberOfEmployees", "-5", -5),
    ("monthlyTransactionVolume", "12.345", 12.345),
    ("lastContacted", "yesterday", "yesterday"),
    ("interestedInSwitching", "maybe", "maybe"),
    ("assignedTo", "bob@", "bob@"),
]


def test_form_errors_use_the_same_words_as_the_api(alice, world):
    form = {name: value for name, value, _ in BAD_INPUT}
    body = {name: value for name, _, value in BAD_INPUT}
    api = world.alice.post("/api/leads", json=body)
    assert api.status_code == 400
    expected = {name: " ".join(messages) for name, messages in api.get_json()["errors"].items()}
    assert set(expected) == set(form)
    response = post_form(alice, "/leads", form)
    assert response.status_code == 400
    page = text(response)
    assert field_errors(page) == expected
    assert "Please correct the fields marked below." in page
    assert world.alice.ids() == []


def test_whole_number_errors_match_the_api(alice, world):
    api = world.alice.post("/api/leads", json={"lastName": "Lee", "numberOfEmployees": 1.5})
    expected = api.get_json()["errors"]["numberOfEmployees"][0]
    response = post_form(alice, "/leads", {"lastName": "Lee", "numberOfEmployees": "1.5"})
    assert field_errors(text(response))["numberOfEmployees"] == expected


def test_an_invalid_form_keeps_what_was_typed_and_marks_the_field(alice, world):
    data = {"firstName": "Ann", "lastName": "Lee", "email": "ann(at)lee", "notes": "Keep me"}
    response = post_form(alice, "/leads", data)
    assert response.status_code == 400
    page = text(response)
    values = form_values(page)
    assert {k: values[k] for k in data} == data
    assert 'aria-describedby="error-email" aria-invalid="true"' in page
    assert '<div class="field has-error" id="row-email">' in page
    assert '<p class="field-error" id="error-email">Must be a valid email address.</p>' in page
    assert page.count("aria-invalid") == 1
    assert world.alice.ids() == []


# Checking a field when the user leaves it -----------------------------------------------------


def test_leaving_a_field_checks_it_and_returns_its_wrapper_with_the_error(alice, world):
    token = csrf_token(text(alice.get("/leads/new")))
    response = blur(alice, "email", "not-an-email", token)
    assert response.status_code == 200
    fragment = text(response)
    assert fragment.lstrip().startswith('<div class="field has-error" id="row-email">')
    assert "<html" not in fragment
    api = world.alice.post("/api/leads", json={"lastName": "x", "email": "not-an-email"})
    expected = api.get_json()["errors"]["email"][0]
    assert field_errors(fragment) == {"email": expected}
    assert 'value="not-an-email"' in fragment
    assert 'hx-post="/leads/fields/email"' in fragment


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("email", "ann@lee.example", None),
        ("firstName", "  ", "This field is required."),
        ("numberOfEmployees", "20000000", "Must be between 0 and 10,000,000."),
        ("lastContacted", "2024-03-01T14:30", None),
        ("phone", "12", "Must be a phone number of 7 to 15 digits (digits, spaces, + - . ( ) "),
    ],
)
def test_field_check_answers_the_field_with_or_without_an_error(alice, name, value, error):
    token = csrf_token(text(alice.get("/leads/new")))
    fragment = text(blur(alice, name, value, token))
    assert f'id="row-{name}"' in fragment
    if error is None:
        assert field_errors(fragment) == {}
        assert "has-error" not in fragment and "aria-invalid" not in fragment
    else:
        assert field_errors(fragment)[name].startswith(error)


@pytest.mark.parametrize("name", ["createdAt", "id", "archived", "nope", "accountId"])
def test_field_check_knows_only_form_fields(alice, name):
    token = csrf_token(text(alice.get("/leads/new")))
    assert blur(alice, name, "x", token).status_code == 404


def test_field_check_is_only_for_htmx(alice):
    token = csrf_token(text(alice.get("/leads/new")))
    response = alice.post(
        "/leads/fields/email", data={"email": "x"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 404


# Editing -------------------------------------------------------------------------------------


def test_edit_form_shows_the_current_values_and_version(alice, world):
    lead = world.alice.create_lead(**FULL)
    page = text(alice.get(f"/leads/{lead['id']}/edit"))
    assert "<h1>Edit Ann Lee</h1>" in page
    assert f'action="/leads/{lead["id"]}">' in page
    values = form_values(page)
    assert values["version"] == "1"
    assert values["firstName"] == "Ann" and values["email"] == "ann@lee.example"
    assert values["numberOfEmployees"] == "250"
    assert values["monthlyTransactionVolume"] == "1250.50"
    assert values["interestedInSwitching"] == "true"
    assert values["lastContacted"] == "2024-03-01T14:30"
    assert values["notes"] == FULL["notes"]
    assert values["branch"] == ""


def test_saving_the_edit_form_changes_the_lead_and_confirms(alice, world):
    lead = world.alice.create_lead(**FULL)
    values = form_values(text(alice.get(f"/leads/{lead['id']}/edit")))
    values.update(company="Lee & Sons", processStage="Qualified", phone="")
    response = alice.post(f"/leads/{lead['id']}", data=values)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/leads/{lead['id']}"
    page = text(alice.get(f"/leads/{lead['id']}"))
    assert '<p class="flash flash-success" role="status">Saved Ann Lee.</p>' in page
    assert "<li>changed Company from Lee Logistics to Lee &amp; Sons</li>" in page
    assert "<li>changed Process stage from Initial Contact to Qualified</li>" in page
    assert "<li>cleared Phone (was +1 555 555 0100)</li>" in page
    saved = read(world, lead["id"])
    assert saved["company"] == "Lee & Sons" and saved["phone"] is None
    assert saved["notes"] == FULL["notes"]
    assert saved["lastContacted"] == "2024-03-01T14:30:00.000Z"


def test_saving_an_untouched_edit_form_changes_nothing(alice, world):
    lead = world.alice.create_lead(**{**FULL, "lastContacted": "2024-03-01T14:30:45.123Z"})
    values = form_values(text(alice.get(f"/leads/{lead['id']}/edit")))
    assert values["lastContacted"] == "2024-03-01T14:30"  # the input shows minutes only
    values["notes"] = values["notes"].replace("\n", "\r\n")  # as browsers send a textarea
    response = alice.post(f"/leads/{lead['id']}", data=values)
    assert response.status_code == 303
    saved = read(world, lead["id"])
    assert saved["lastContacted"] == "2024-03-01T14:30:45.123Z"
    assert saved["updatedAt"] == lead["updatedAt"]
    assert [e["event"] for e in saved["auditLog"]] == ["lead_created"]


def test_edit_errors_use_the_apis_words_keep_the_input_and_change_nothing(alice, world):
    lead = world.alice.create_lead(**FULL)
    api = world.alice.patch(
        f"/api/leads/{lead['id']}", json={"email": "nope", "numberOfEmployees": -1}
    )
    expected = {name: " ".join(m) for name, m in api.get_json()["errors"].items()}
    values = form_values(text(alice.get(f"/leads/{lead['id']}/edit")))
    values.update(email="nope", numberOfEmployees="-1", company="Typed")
    response = alice.post(f"/leads/{lead['id']}", data=values)
    assert response.status_code == 400
    page = text(response)
    assert field_errors(page) == expected
    assert form_values(page)["company"] == "Typed"
    assert read(world, lead["id"])["company"] == "Lee Logistics"


def test_saving_over_someone_elses_change_is_a_conflict_that_overwrites_nothing(alice, world):
    lead = world.alice.create_lead(**FULL)
    values = form_values(text(alice.get(f"/leads/{lead['id']}/edit")))
    world.bob.patch(f"/api/leads/{lead['id']}", json={"company": "Bob's Co"})
    values["company"] = "Alice's Co"
    response = alice.post(f"/leads/{lead['id']}", data=values)
    assert response.status_code == 409
    page = text(response)
    assert "Someone else saved this lead while you were editing it." in page
    assert "Saved meanwhile: <strong>Bob&#39;s Co</strong>" in page
    again = form_values(page)
    assert again["company"] == "Alice's Co"
    assert again["version"] == "2"
    assert read(world, lead["id"])["company"] == "Bob's Co"
    # saving again, knowingly, keeps Alice's version
    response = alice.post(f"/leads/{lead['id']}", data=again)
    assert response.status_code == 303
    assert read(world, lead["id"])["company"] == "Alice's Co"


@pytest.mark.parametrize("version", ["", "x", "1.5"])
def test_edit_without_a_readable_version_is_refused(alice, world, version):
    lead = world.alice.create_lead(**FULL)
    values = form_values(text(alice.get(f"/leads/{lead['id']}/edit")))
    values.update(version=version, company="Changed")
    response = alice.post(f"/leads/{lead['id']}", data=values)
    assert response.status_code == 400
    assert read(world, lead["id"])["company"] == "Lee Logistics"


# Archive, log contact, delete -----------------------------------------------------------------


def test_archive_hides_the_lead_from_the_list_and_says_so(alice, world):
    lead_id = world.alice.create_lead(**FULL)["id"]
    response = post_form(alice, f"/leads/{lead_id}/archive", page=f"/leads/{lead_id}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/leads/{lead_id}"
    page = text(alice.get(f"/leads/{lead_id}"))
    assert '<p class="flash flash-success" role="status">Archived Ann Lee.</p>' in page
    assert '<span class="badge">Archived</span>' in page
    assert f'<form method="post" action="/leads/{lead_id}/unarchive">' in page
    assert '<button type="submit" class="button">Unarchive</button>' in page
    assert read(world, lead_id)["archived"] is True
    assert ids_in(text(alice.get("/leads"))) == []
    assert ids_in(text(alice.get("/leads?archived=true"))) == [lead_id]


def test_unarchive_restores_the_lead_and_says_so(alice, world):
    lead_id = world.alice.create_lead(**FULL, archived=True)["id"]
    response = post_form(alice, f"/leads/{lead_id}/unarchive", page=f"/leads/{lead_id}")
    assert response.status_code == 303
    page = text(alice.get(f"/leads/{lead_id}"))
    assert "Restored Ann Lee from the archive." in page
    assert "restored this lead from the archive" in page
    assert '<button type="submit" class="button">Archive</button>' in page
    assert read(world, lead_id)["archived"] is False
    assert ids_in(text(alice.get("/leads"))) == [lead_id]


def test_log_contact_sets_last_contacted_to_now(alice, world):
    lead_id = world.alice.create_lead(firstName="Ann", lastName="Lee")["id"]
    before = datetime.now(UTC)
    response = post_form(alice, f"/leads/{lead_id}/contact", page=f"/leads/{lead_id}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/leads/{lead_id}"
    contacted = datetime.fromisoformat(read(world, lead_id)["lastContacted"])
    assert before - timedelta(seconds=1) <= contacted <= datetime.now(UTC)
    page = text(alice.get(f"/leads/{lead_id}"))
    assert "Logged contact with Ann Lee." in page
    assert "changed Last contacted" not in page and "set Last contacted to " in page
    assert '<span class="muted">(just now)</span>' in page


def test_delete_asks_first(alice, world):
    lead_id = world.alice.create_lead(**FULL)["id"]
    response = alice.get(f"/leads/{lead_id}/delete")
    assert response.status_code == 200
    page = text(response)
    assert_site_page(page)
    assert "<h1>Delete Ann Lee?</h1>" in page
    assert f'<form method="post" action="/leads/{lead_id}/delete"' in page
    assert f'<a class="button quiet" href="/leads/{lead_id}">Cancel</a>' in page
    assert read(world, lead_id)["id"] == lead_id


def test_delete_removes_the_lead_and_returns_to_the_list_with_a_message(alice, world):
    lead_id = world.alice.create_lead(**FULL)["id"]
    other = world.alice.create_lead(firstName="Ben")["id"]
    response = post_form(alice, f"/leads/{lead_id}/delete", page=f"/leads/{lead_id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == "/leads"
    page = text(alice.get("/leads"))
    assert '<p class="flash flash-success" role="status">Deleted Ann Lee.</p>' in page
    assert ids_in(page) == [other]
    assert alice.get(f"/leads/{lead_id}").status_code == 404
    assert world.alice.get(f"/api/leads/{lead_id}").status_code == 404


def test_inputs_match_their_kind(alice):
    page = text(alice.get("/leads/new"))
    kinds = {Kind.EMAIL: "email", Kind.PHONE: "tel", Kind.URL: "url", Kind.INTEGER: "number"}
    for field in FORM_FIELDS:
        if field.kind in kinds:
            start = page.index(f'id="field-{field.json}"')
            tag = page[page.rindex("<input", 0, start) : page.index(">", start)]
            assert f'type="{kinds[field.kind]}"' in tag, field.json
