"""`GET /healthz`: 200 when the database answers within HEALTHZ_TIMEOUT, 503 otherwise (for
load balancers)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.db_deadlines import answer_within
from app.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Whether the app can reach its database."""
    try:
        with answer_within(current_app.config["HEALTHZ_TIMEOUT"]):
            db.session.execute(select(1))  # a plain read: on PostgreSQL no transaction
            db.session.rollback()
    except (DBAPIError, PoolTimeout):
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
