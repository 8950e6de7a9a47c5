"""The JSON API under /api. Bearer tokens only, so it is exempt from CSRF."""

from flask import Blueprint, Response

from app.ratelimits import api_limit
from app.security import add_missing

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.after_request
def _no_store(response: Response) -> Response:
    # Lead data is private: never kept by browsers or shared caches.
    add_missing(response, [("Cache-Control", "no-store")])
    return response


from app.api import auth, context, leads, openapi  # noqa: E402, F401  (registers routes)

bp.before_request(context.authenticate)
api_limit(bp)  # per token, checked before authentication
