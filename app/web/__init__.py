"""The salespeople's HTML pages (server-rendered, enhanced with htmx)."""

from flask import Blueprint, redirect, request, url_for
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from app.auth.sessions import load_signed_in, password_page_first
from app.web.htmx import HX_REDIRECT, is_htmx

bp = Blueprint("web", __name__)


class IdConverter(BaseConverter):
    """A database id in a URL: a positive integer small enough for every database."""

    regex = r"[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


@bp.before_request
def _require_sign_in() -> Response | None:
    if load_signed_in() is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if target := password_page_first():
        if is_htmx():  # a region must not fill with the password page: htmx navigates
            return Response(status=204, headers={HX_REDIRECT: target})
        return redirect(target)
    return None


from app.web import leads, settings  # noqa: E402, F401  (registers routes)
