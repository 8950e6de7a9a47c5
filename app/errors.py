"""Error responses for the whole app: problem+json under /api, an HTML page elsewhere.

Decided by path prefix at the app level, because blueprint handlers never see URLs that match
no route. Anything a client sends ends as a 4xx; database outages as a 503; never a traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.api import is_api_path
from app.api.problems import problem
from app.auth.accounts import AccountRefused
from app.auth.api_tokens import TokenNotFound
from app.auth.invitations import InvitationNotFound
from app.auth.members import MemberNotFound
from app.db_errors import is_busy, is_conflict, is_unavailable
from app.extensions import db
from app.leads.service import LeadNotFound, StaleLead
from app.leads.validation import ValidationError
from app.permissions import Forbidden

log = logging.getLogger(__name__)


def is_api_request() -> bool:
    return is_api_path(request.path)


def error_response(
    status: int,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response | tuple[str, int, dict[str, str]]:
    """The error in the shape the caller reads: problem+json for the API, a page otherwise."""
    if is_api_request():
        return problem(status, detail, errors=errors, headers=headers)
    title = HTTPStatus(status).phrase
    page = render_template("errors/error.html", status=status, title=title, detail=detail)
    return page, status, headers or {}


def _http(error: HTTPException):
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if error.code == 401 and is_api_request():
        headers["WWW-Authenticate"] = 'Bearer realm="pulse-leads"'
    return error_response(error.code or 500, error.description or "", headers=headers)


def _rollback() -> None:
    """Roll the session back; a connection that died mid-request may refuse even that."""
    try:
        db.session.rollback()
    except DBAPIError:
        db.session().invalidate()  # drop the dead connection without talking to the server


def _database_error(error: DBAPIError | PoolTimeout):
    """503 when the database is busy or unreachable, else a fault of ours (500)."""
    if not is_unavailable(error):
        return _unexpected(error)
    _rollback()
    g.signed_in = g.session_user = None  # the error page must not need the database
    busy = is_busy(error)
    log.warning("database unavailable: %s", getattr(error, "orig", None) or error)
    detail = (
        "The database is busy; try again in a moment."
        if busy
        else "The database is not reachable right now; try again in a moment."
    )
    return error_response(503, detail, headers={"Retry-After": "1" if busy else "5"})


def _data_error(error: DataError):
    db.session.rollback()
    log.warning("database refused a value: %s", error.orig)
    return error_response(400, "The database refused a value of the request.")


def _integrity_error(error: IntegrityError):
    if not is_conflict(error):  # a trigger or check refused: our fault, not the client's
        return _unexpected(error)
    db.session.rollback()
    log.warning("integrity error: %s", error.orig)
    return error_response(409, "The request conflicts with the current data; try again.")


def _csrf(error: CSRFError):
    return error_response(
        400,
        "This page has expired or was opened elsewhere (CSRF check failed). "
        "Reload the page, then try again.",
    )


def _unexpected(error: Exception):
    _rollback()
    log.exception("unexpected error")
    return error_response(500, "Something went wrong on our side; it has been logged.")


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(
        ValidationError, lambda e: error_response(400, e.detail, errors=e.errors)
    )
    app.register_error_handler(LeadNotFound, lambda e: error_response(404, "No lead with this id."))
    app.register_error_handler(MemberNotFound, lambda e: error_response(404, "No such member."))
    app.register_error_handler(TokenNotFound, lambda e: error_response(404, "No such API token."))
    app.register_error_handler(
        InvitationNotFound, lambda e: error_response(404, "No such invitation.")
    )
    app.register_error_handler(
        StaleLead,
        lambda e: error_response(
            412, "The lead changed since you read it: read it again, then repeat the change."
        ),
    )
    app.register_error_handler(Forbidden, lambda e: error_response(403, str(e)))
    app.register_error_handler(
        AccountRefused, lambda e: error_response(403, "You are not a member of that account.")
    )
    app.register_error_handler(DBAPIError, _database_error)  # 503 or 500: see is_unavailable
    app.register_error_handler(PoolTimeout, _database_error)
    app.register_error_handler(DataError, _data_error)
    app.register_error_handler(IntegrityError, _integrity_error)
    app.register_error_handler(Exception, _unexpected)
