"""schemathesis against the OpenAPI document with all its checks, as three callers at once.

Every generated request is sent three times: without credentials, as a user of tenant B aimed at
leads of tenant A, and as a user of tenant A. All of schemathesis's default checks run on every
response. The test counts, per caller, the requests sent, the server errors and the check
failures (schema violations included), and asserts 0 server errors and 0 violations; B's answers
must also never contain a value of A's leads, and a caller without a token gets 401 from every
protected operation. The counts are written to test-artifacts/ for the issue's closing note.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.generation.meta import ParameterLocation
from schemathesis.openapi.checks import RejectedPositiveData

from app.api.openapi import document
from tests.browser_support import ARTIFACTS
from tests.schemathesis_support import valid_as_sent
from tests.support import World

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25
ANONYMOUS, TENANT_B, TENANT_A = "anonymous", "tenant B on A's leads", "tenant A"
CALLERS = (ANONYMOUS, TENANT_B, TENANT_A)
# Values only tenant A's leads hold: no answer to tenant B may contain one of them.
SECRET = "acmesecret"
MISSING_LEAD = 2_000_000_000  # a valid id that no lead has
REVEAL_NOTHING = {400, 403, 404, 405, 413, 415}  # B's possible answers about A's leads

schema = schemathesis.openapi.from_dict(document())
# Two documented answers to well-formed requests that depend on the server's state, not on the
# data: 412 when If-Match names another version of the lead, and 422 when an Idempotency-Key
# was used before with another body (generated keys repeat across examples).
_positive = schema.config.checks.positive_data_acceptance
_positive.expected_statuses = [*_positive.expected_statuses, "412", "422"]


# positive_data_acceptance stays on, and a schema-valid request the server refuses (400) is a
# violation, unless every field or parameter the refusal names has a rule that JSON Schema
# cannot state. The document states all the rest (app/api/openapi.py: trimmed lengths, control
# characters, http(s) URLs, phone digits, date shapes, sort keys, filter ranges).
INEXPRESSIBLE = {
    "email": "an address email-validator accepts (dot-atoms, real domain names)",
    "assignedTo": "an address email-validator accepts (dot-atoms, real domain names)",
    "imgSrc": "a host that is a DNS name or an IP address",
    "phone": "at most 40 characters after trimming, besides its 7 to 15 digits",
    "notes": "at most 10,000 characters after trimming: too long for a counted regex",
    "lastContacted": "a real date and time (no 30 February, no hour 24, years 1 to 9999)",
    "id": "a range's low <= high, and values a 32-bit id can take",
    "createdAt": "real dates and times, and a range's start before its end",
    "updatedAt": "real dates and times, and a range's start before its end",
    "numberOfEmployees": "a whole number written without a decimal point: JSON Schema's "
    "integer includes 5.0, which this type-strict API refuses; a range's low <= high",
    "monthlyTransactionVolume": "at most 2 decimal places (multipleOf 0.01 is inexact with "
    "binary floats); a range's low <= high",
    "sort": "each field at most once",
    "search": "at most 10 words once runs of spaces are collapsed",
}


@dataclass
class Tally:
    """What one caller saw over a test run."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # check name -> count
    tolerated: Counter[str] = field(default_factory=Counter)  # INEXPRESSIBLE name -> count
    leaks: int = 0
    aimed: Counter[int] = field(default_factory=Counter)  # B's answers about A's leads
    examples: list[str] = field(default_factory=list)  # the first few failures, for the report

    def note(self, text: str) -> None:
        if len(self.examples) < 40:
            self.examples.append(text)


TALLIES: dict[str, dict[str, Tally]] = {}  # database -> caller -> tally, for the summary file


@dataclass
class Tenants:
    world: World
    marked: list[int]  # A's leads that B aims at; only A's seed writes them
    played: list[int]  # A's leads that A's own requests read, change, archive and delete

    def aim(self, case: Any, ids: list[int]) -> None:
        """Point a generated (valid) lead id at one of `ids`, or at a missing lead."""
        value = case.path_parameters.get("leadId") if case.path_parameters else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            choices = [*ids, MISSING_LEAD]
            case.path_parameters["leadId"] = choices[value % len(choices)]

    def account_header(self, case: Any, account_ids: list[str]) -> None:
        """A generated, well-formed X-Account-Id becomes one of these account ids."""
        headers = case.headers or {}
        for name, value in list(headers.items()):
            well_formed = isinstance(value, str) and value.isascii() and value.isdigit()
            if name.lower() == "x-account-id" and well_formed:
                headers[name] = account_ids[int(value) % len(account_ids)]


def secret_lead(n: int) -> dict[str, Any]:
    """A lead of tenant A whose every text field holds a value found nowhere else."""
    text = f"{SECRET}{n}"
    return {
        "firstName": f"{text}first",
        "lastName": f"{text}last",
        "email": f"{text}@acmesecret.example.com",
        "company": f"{text} Inc",
        "notes": f"{text} notes",
        "source": f"{text}source",
        "processStage": f"{text}stage",
        "assignedTo": f"{text}.owner@acmesecret.example.com",
        "imgSrc": f"https://acmesecret.example.com/{text}.png",
        "phone": "+1 555 010 0000",
    }


@pytest.fixture
def tenants(world: World) -> Tenants:
    marked = [world.alice.create_lead(**secret_lead(n))["id"] for n in range(3)]
    played = [world.alice.create_lead(firstName=f"Play{n}", company="Acme")["id"] for n in range(4)]
    return Tenants(world, marked, played)


@pytest.fixture
def tallies(database_url: str) -> Iterator[dict[str, Tally]]:
    kind = database_url.split(":", 1)[0].split("+", 1)[0]
    by_caller = TALLIES.setdefault(kind, {caller: Tally() for caller in CALLERS})
    yield by_caller
    _write_summary()


def _write_summary() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    summary = {
        database: {
            caller: {
                "requests": t.requests,
                "server_errors": t.server_errors,
                "check_failures": sum(t.failures.values()),
                "failures_by_check": dict(t.failures),
                "refusals_of_rules_json_schema_cannot_state": dict(t.tolerated),
                "leaks": t.leaks,
                "answers_about_tenant_a_leads": {str(k): v for k, v in sorted(t.aimed.items())},
                "statuses": {str(k): v for k, v in sorted(t.statuses.items())},
                "first_failures": t.examples,
            }
            for caller, t in by_caller.items()
        }
        for database, by_caller in TALLIES.items()
    }
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"schemathesis-tenants-{worker}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")


def _send(case: Any, tally: Tally, app: Any, headers: dict[str, str]) -> tuple[Any, list[str]]:
    """Send the case and run every default check on the answer; count what happens."""
    tally.requests += 1
    response = case.call(app=app, headers=headers)
    tally.statuses[response.status_code] += 1
    problems = []
    if response.status_code >= 500:
        tally.server_errors += 1
    try:
        case.validate_response(
            response, headers=headers, transport_kwargs={"app": app, "headers": headers}
        )
    except FailureGroup as group:
        for failure in group.exceptions:
            if isinstance(failure, RejectedPositiveData) and _inexpressible(response, tally):
                continue
            if isinstance(failure, AcceptedNegativeData) and valid_as_sent(case, headers):
                tally.tolerated["negative data that is valid as sent"] += 1
                continue
            name = type(failure).__name__
            tally.failures[name] += 1
            problems.append(f"{name}: {failure.title}: {failure.message}")
    for problem in problems:
        sent = {"path": case.path_parameters, "query": case.query, "headers": case.headers}
        tally.note(
            f"{case.operation.label}: {problem}\nsent {sent} body {case.body!r}\n"
            f"got {response.status_code} {response.text[:300]}"
        )
    return response, problems


def _inexpressible(response: Any, tally: Tally) -> bool:
    """Whether a 400 names only fields and parameters whose rules JSON Schema cannot state."""
    if response.status_code != 400:
        return False
    try:
        names = set(json.loads(response.text).get("errors", {}))
    except ValueError:
        return False
    if not names or not names <= INEXPRESSIBLE.keys():
        return False
    tally.tolerated.update(names)
    return True


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_as_two_tenants_and_without_credentials(
    case: Any, tenants: Tenants, tallies: dict[str, Tally]
) -> None:
    world = tenants.world
    app = world.app
    case.operation.schema.app = app
    protected = case.operation.definition.raw.get("security") != []
    problems: list[str] = []

    # (c) No credentials: every protected operation answers 401 (404 when a broken path
    # parameter leads to no operation at all).
    path_negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
    response, found = _send(case, tallies[ANONYMOUS], app, {})
    problems += [f"{ANONYMOUS}: {p}" for p in found]
    allowed = {401, 404} if path_negative else {401}
    same_method = case.method.upper() == case.operation.method.upper()
    if protected and same_method and response.status_code not in allowed:
        problems.append(f"{ANONYMOUS}: {response.status_code} instead of 401")

    # (b) Tenant B, aimed at tenant A's leads, in its own account or asking for A's: 404 or
    # 403, never A's data.
    tenants.aim(case, tenants.marked)
    tenants.account_header(case, [world.acme, world.globex])
    tally = tallies[TENANT_B]
    response, found = _send(case, tally, app, {"Authorization": f"Bearer {world.carol.token}"})
    problems += [f"{TENANT_B}: {p}" for p in found]
    if SECRET in response.text:
        tally.leaks += 1
        problems.append(f"{TENANT_B}: the answer holds tenant A's data: {response.text[:300]}")
    # Some cases leave the token out on purpose (a "missing Authorization" case): then 401.
    with_token = any(name.lower() == "authorization" for name in response.request.headers)
    if case.path_parameters and case.path_parameters.get("leadId") in tenants.marked:
        tally.aimed[response.status_code] += 1
        # 404 (or 403 with A's account id, or a refusal of the input before any look-up).
        if response.status_code not in (REVEAL_NOTHING if with_token else {401}):
            tally.leaks += 1
            problems.append(f"{TENANT_B}: {response.status_code} for tenant A's lead")

    # (a) Tenant A, on its own leads and in its own account.
    tenants.aim(case, tenants.played)
    tenants.account_header(case, [world.acme])
    response, found = _send(
        case, tallies[TENANT_A], app, {"Authorization": f"Bearer {world.alice.token}"}
    )
    problems += [f"{TENANT_A}: {p}" for p in found]

    assert not problems, f"{case.operation.label}:\n" + "\n".join(problems)
