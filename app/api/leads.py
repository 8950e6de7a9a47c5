"""The Leads API: list, create, get, update, delete, archive and unarchive."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from app.api import bp, idempotency
from app.api.body import json_object
from app.api.context import actor, caller, current_account, reads_query
from app.cache import LRUCache
from app.leads import query, service
from app.leads.serialize import audit_to_json, lead_to_json, rows_to_json
from app.leads.validation import Source, validate
from app.models import AccountRecord, Lead, LeadRow, etag
from app.permissions import Permission

MAX_ID = 2**31 - 1  # leads.id is a 32-bit INTEGER column (PostgreSQL refuses larger values)
# Bodies of recent lists, per worker: for each account and query, the last body built and the
# account data version it was built at (see app/cache.py), up to a budget in bytes.
_bodies: LRUCache[tuple[int, bytes]] = LRUCache(16 * 2**20, cost=lambda entry: len(entry[1]))


def configure_list_cache(megabytes: int) -> None:
    """Keep up to this many MiB of list bodies per worker (0: build every list afresh)."""
    _bodies.resize(megabytes * 2**20)


@bp.get("/leads")
@reads_query
def index() -> Response:
    """A page of the account's leads, filtered, searched and sorted.

    A list asked for again, with no lead of the account written since, is answered from the
    body built the first time: the same bytes, without a query or serializing a lead.
    """
    account = current_account()
    list_query = query.ListQuery.from_args(request.args)
    key = (account.id, list_query)
    cached = _bodies.get(key)
    if cached is not None and cached[0] == account.data_version:
        body = cached[1]
    else:
        body = _list_body(account, list_query)
        _bodies.put(key, (account.data_version, body))
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


def _list_body(account: AccountRecord, list_query: query.ListQuery) -> bytes:
    page = query.run(account, list_query)
    response = jsonify(
        data=rows_to_json(page.leads, account.public_id),
        totalCount=page.total_count,
        totalPages=page.total_pages,
        currentPage=page.query.page,
    )
    return response.get_data()


@bp.post("/leads")
def create() -> Response:
    """A new lead: 201 with the lead and its Location; once per Idempotency-Key."""
    scope = idempotency.request_scope(caller())
    body = json_object()
    values = validate(body, Source.JSON, partial=False)
    account, who = current_account(), actor()
    if scope is None:
        return _created(service.create(account, values, who))
    who.require(Permission.WRITE)  # before replaying: a key never outlives the right to write
    return idempotency.create_once(
        scope,
        idempotency.fingerprint(body),
        lambda then: service.create(account, values, who, then=then),
        _created,
    )


def _created(lead: Lead) -> Response:
    response = _lead_response(lead, status=201)
    response.headers["Location"] = url_for("api.detail", lead_id=lead.id)
    return response


@bp.get("/leads/<lead_id>")
def detail(lead_id: str) -> Response:
    """The lead with its audit log, oldest entry first."""
    account = current_account()
    lead = service.read(account, _lead_id(lead_id))
    history = [audit_to_json(e) for e in service.history(account, lead.id)]
    body = rows_to_json([lead], account.public_id)[0] | {"auditLog": history}
    return _json_with_etag(body, lead)


@bp.patch("/leads/<lead_id>")
def update(lead_id: str) -> Response:
    """Change only the fields sent; honours If-Match."""
    key = _lead_id(lead_id)
    values = validate(json_object(), Source.JSON, partial=True)
    lead = service.update(current_account(), key, values, actor(), _expected(key))
    return _lead_response(lead)


@bp.delete("/leads/<lead_id>")
def delete(lead_id: str) -> Response:
    """Delete the lead permanently: 204; honours If-Match."""
    key = _lead_id(lead_id)
    service.delete(current_account(), key, actor(), _expected(key))
    return Response(status=204)


@bp.post("/leads/<lead_id>/archive")
def archive(lead_id: str) -> Response:
    """Archive the lead (idempotent)."""
    return _set_archived(lead_id, archived=True)


@bp.delete("/leads/<lead_id>/archive")
def unarchive(lead_id: str) -> Response:
    """Restore the lead from the archive (idempotent)."""
    return _set_archived(lead_id, archived=False)


def _set_archived(lead_id: str, *, archived: bool) -> Response:
    key = _lead_id(lead_id)
    lead = service.set_archived(current_account(), key, archived, actor(), _expected(key))
    return _lead_response(lead)


def _lead_response(lead: Lead, status: int = 200) -> Response:
    return _json_with_etag(lead_to_json(lead, current_account().public_id), lead, status)


def _json_with_etag(body: dict[str, object], lead: Lead | LeadRow, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["ETag"] = etag(lead.id, lead.version)
    return response


def _lead_id(text: str) -> int:
    """The lead id from the path: 400 if not a whole number, 404 if beyond any id."""
    if not text.isascii() or not text.isdigit():
        raise BadRequest("The lead id must be a positive whole number.")
    value = int(text)
    if value > MAX_ID or value == 0:
        raise NotFound("No lead with this id.")
    return value


def _expected(lead_id: int) -> frozenset[int] | None:
    """The lead versions If-Match accepts: None when absent or `*` (any version).

    If-Match compares strongly, so weak tags (W/"…") and malformed ones match nothing.
    """
    header = request.headers.get("If-Match", "").strip()
    if not header:
        return None
    versions = set()
    for part in header.split(","):
        tag = part.strip()
        if tag == "*":
            return None
        if len(tag) > 2 and tag[0] == tag[-1] == '"':
            found_id, _, version = tag[1:-1].partition("-")
            if found_id == str(lead_id) and version.isascii() and version.isdigit():
                versions.add(int(version))
    return frozenset(versions)
