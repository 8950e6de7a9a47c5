"""The salespeople's pages: the lead list, a lead's page, and the new and edit forms.

Views parse, call the domain (`app.leads`), and present; every rule lives in the domain, so the
pages and the API can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.auth.sessions import signed_in, web_actor
from app.leads import facets, query, service
from app.leads.fields import BY_JSON, FIELDS, TABLE_COLUMNS, Kind, grouped
from app.leads.query import ListQuery
from app.leads.validation import FieldError, Source, ValidationError, clean
from app.models import Lead
from app.permissions import Permission
from app.sqltypes import utcnow
from app.web import bp
from app.web.forms import FORM_FIELDS, LeadForm, form_text
from app.web.htmx import is_htmx, vary, wants_fragment
from app.web.timeline import entries

RESULTS_ID = "lead-results"
FILTER_MENUS = ("processStage", "source", "assignedTo")


@dataclass(frozen=True)
class Listing:
    """What the list shows: a page of leads, and the total when it is known."""

    query: ListQuery
    leads: list[Lead]
    total: int | None  # None: counted by a second request (/leads/count)
    has_next: bool
    error: ValidationError | None = None

    @property
    def total_pages(self) -> int | None:
        return None if self.total is None else -(-self.total // self.query.page_size)

    @property
    def first_index(self) -> int:
        return self.query.offset + 1 if self.leads else 0

    @property
    def last_index(self) -> int:
        return self.query.offset + len(self.leads)


def _listing(*, defer_count: bool) -> Listing:
    account = signed_in().account
    try:
        list_query = ListQuery.from_args(request.args)
    except ValidationError as error:
        return Listing(ListQuery(), [], 0, False, error)
    if defer_count and list_query.is_filtered:
        rows = query.rows(account, list_query, extra=1)
        size = list_query.page_size
        return Listing(list_query, rows[:size], None, len(rows) > size)
    page = query.run(account, list_query)
    return Listing(list_query, page.leads, page.total_count, list_query.page < page.total_pages)


def _list_context(listing: Listing) -> dict[str, Any]:
    account = signed_in().account
    menus = {name: facets.common_values(account, BY_JSON[name]) for name in FILTER_MENUS}
    return {
        "listing": listing,
        "columns": TABLE_COLUMNS,
        "menus": menus,
        "me": signed_in().user.email,
        "default_sort": query.DEFAULT_SORT,
    }


@bp.get("/leads")
def index() -> Response:
    """The lead list; only its results region when htmx asks for that region."""
    fragment = wants_fragment(RESULTS_ID)
    listing = _listing(defer_count=fragment)
    template = "leads/_results.html" if fragment else "leads/index.html"
    html = render_template(template, fragment=fragment, **_list_context(listing))
    return vary(make_response(html, 400 if listing.error else 200))


@bp.get("/leads/count")
def count() -> tuple[str, int]:
    """The pager with the exact count, filled in after the rows (fragment)."""
    listing = _listing(defer_count=False)
    return render_template("leads/_pager.html", listing=listing), 400 if listing.error else 200


@bp.get("/leads/new")
def new() -> str:
    """The form for a new lead."""
    web_actor().require(Permission.WRITE)
    return _form_page(LeadForm(), None)[0]


@bp.post("/leads")
def create() -> Response | tuple[str, int]:
    """Create the lead from the form, or show the form again with its errors."""
    web_actor().require(Permission.WRITE)  # before the form: no errors shown to a viewer
    form = LeadForm()
    if not form.validate_on_submit():
        return _form_page(form, None, 400)
    try:
        values = form.cleaned(partial=False)
    except ValidationError:
        return _form_page(form, None, 400)
    lead = service.create(signed_in().account, values, web_actor())
    facets.forget(signed_in().account)
    flash(f"Added {lead.first_name} {lead.last_name}.", "success")
    return redirect(url_for("web.detail", lead_id=lead.id), 303)


@bp.get("/leads/<id:lead_id>")
def detail(lead_id: int) -> str:
    """A lead's page: every field by group, its history, and what can be done with it."""
    account = signed_in().account
    lead = service.get(account, lead_id)
    timeline = entries(service.history(account, lead.id))
    groups = grouped(tuple(f for f in FIELDS if f.kind is not Kind.ACCOUNT))
    return render_template("leads/detail.html", lead=lead, groups=groups, timeline=timeline)


@bp.get("/leads/<id:lead_id>/edit")
def edit(lead_id: int) -> str:
    """The edit form, with the lead's current values and version."""
    web_actor().require(Permission.WRITE)
    lead = service.get(signed_in().account, lead_id)
    form = LeadForm(formdata=None)
    form.fill(lead)
    return _form_page(form, lead)[0]


@bp.post("/leads/<id:lead_id>")
def update(lead_id: int) -> Response | tuple[str, int]:
    """Save the edit form; a conflict if someone else saved the lead since it was opened."""
    web_actor().require(Permission.WRITE)
    account = signed_in().account
    lead = service.get(account, lead_id)
    form = LeadForm()
    if not form.validate_on_submit():
        return _form_page(form, lead, 400)
    try:
        values = form.cleaned(partial=True)
        version = int(form.version.data or "")
    except ValidationError:
        return _form_page(form, lead, 400)
    except ValueError:
        abort(400)
    # Only what the user changed: an untouched datetime-local input shows minutes only, and
    # saving it back would cut off the seconds and log a change nobody made.
    edited = form.edited(lead)
    values = {name: value for name, value in values.items() if name in edited}
    try:
        lead = service.update(account, lead_id, values, web_actor(), frozenset({version}))
    except service.StaleLead:
        return _conflict(form, lead_id)
    facets.forget(account)
    flash(f"Saved {lead.first_name} {lead.last_name}.", "success")
    return redirect(url_for("web.detail", lead_id=lead.id), 303)


def _conflict(form: LeadForm, lead_id: int) -> tuple[str, int]:
    """The form again, with the values saved meanwhile next to the user's own."""
    current = service.get(signed_in().account, lead_id)
    saved = {
        f.name: form_text(f, getattr(current, f.name))
        for f in FORM_FIELDS
        if form_text(f, getattr(current, f.name)) != (form[f.name].data or "").strip()
    }
    form.version.data = str(current.version)  # saving again now overwrites, knowingly
    return _form_page(form, current, 409, conflict=saved)


def _form_page(
    form: LeadForm, lead: Lead | None, status: int = 200, **extra: Any
) -> tuple[str, int]:
    groups = grouped(FORM_FIELDS)
    html = render_template("leads/form.html", form=form, lead=lead, groups=groups, **extra)
    return html, status


@bp.post("/leads/<id:lead_id>/archive")
def archive(lead_id: int) -> Response:
    """Archive the lead and go back to its page."""
    lead = service.set_archived(signed_in().account, lead_id, True, web_actor())
    flash(f"Archived {lead.first_name} {lead.last_name}.", "success")
    return redirect(url_for("web.detail", lead_id=lead.id), 303)


@bp.post("/leads/<id:lead_id>/unarchive")
def unarchive(lead_id: int) -> Response:
    """Restore the lead from the archive."""
    lead = service.set_archived(signed_in().account, lead_id, False, web_actor())
    flash(f"Restored {lead.first_name} {lead.last_name} from the archive.", "success")
    return redirect(url_for("web.detail", lead_id=lead.id), 303)


@bp.post("/leads/<id:lead_id>/contact")
def log_contact(lead_id: int) -> Response:
    """Set Last contacted to now: the salesperson's most frequent action."""
    values = {"last_contacted": utcnow()}
    lead = service.update(signed_in().account, lead_id, values, web_actor())
    flash(f"Logged contact with {lead.first_name} {lead.last_name}.", "success")
    return redirect(url_for("web.detail", lead_id=lead.id), 303)


@bp.get("/leads/<id:lead_id>/delete")
def confirm_delete(lead_id: int) -> str:
    """Ask before deleting for good."""
    web_actor().require(Permission.DELETE)
    lead = service.get(signed_in().account, lead_id)
    return render_template("leads/delete.html", lead=lead)


@bp.post("/leads/<id:lead_id>/delete")
def delete(lead_id: int) -> Response:
    """Delete the lead and return to the list."""
    web_actor().require(Permission.DELETE)  # before the look-up, as on every route: 403 first
    account = signed_in().account
    lead = service.get(account, lead_id)
    name = f"{lead.first_name} {lead.last_name}"
    service.delete(account, lead_id, web_actor())
    facets.forget(account)
    flash(f"Deleted {name}.", "success")
    return redirect(url_for("web.index"), 303)


@bp.post("/leads/fields/<name>")
def check_field(name: str) -> str:
    """One form field re-rendered with its error, checked when the user leaves it (htmx)."""
    field = BY_JSON.get(name)
    if field is None or field not in FORM_FIELDS or not is_htmx():
        abort(404)
    web_actor().require(Permission.WRITE)
    form = LeadForm()
    error = None
    try:
        clean(field, request.form.get(name, ""), Source.FORM)
    except FieldError as problem:
        error = str(problem)
    form_field = form[field.name]
    form_field.errors = [error] if error else []
    return render_template("leads/_field.html", form_field=form_field, field=field)
