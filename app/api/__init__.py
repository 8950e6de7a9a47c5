"""The JSON API under /api. Bearer tokens only, so it is exempt from CSRF."""

from flask import Blueprint, Flask
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.wrappers import Request

from app.ratelimits import api_limit

PREFIX = "/api"
bp = Blueprint("api", __name__, url_prefix=PREFIX)


def is_api_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class BrowserOnlySessions(SecureCookieSessionInterface):
    """The session cookie is the browser's: the API (bearer tokens only) never reads or sets
    it, so its requests skip decoding the cookie and get Flask's null session instead."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if is_api_path(request.path):
            return None
        return super().open_session(app, request)


from app.api import auth, context, leads, openapi  # noqa: E402, F401  (registers routes)

bp.before_request(context.authenticate)
bp.before_request(context.refuse_query_parameters)
api_limit(bp)  # per token, checked before authentication
