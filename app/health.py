"""`GET /healthz`: 200 when the database answers, 503 otherwise (for load balancers)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Whether the app can reach its database."""
    try:
        db.session.execute(select(1))  # a plain read: on PostgreSQL it needs no transaction
        db.session.rollback()
    except DBAPIError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
