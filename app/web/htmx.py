"""The htmx request headers the app reads, in one place."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

HX_REQUEST = "HX-Request"
HX_TARGET = "HX-Target"
HX_HISTORY_RESTORE = "HX-History-Restore-Request"
HX_REDIRECT = "HX-Redirect"
VARY = "HX-Request, HX-Target"


def is_htmx() -> bool:
    return request.headers.get(HX_REQUEST) == "true"


def wants_fragment(target_id: str) -> bool:
    """Whether htmx asks to fill this region only; history restores need the whole page."""
    return (
        is_htmx()
        and request.headers.get(HX_TARGET) == target_id
        and request.headers.get(HX_HISTORY_RESTORE) != "true"
    )


def vary(response: Response) -> Response:
    """Responses that depend on the htmx headers say so, for caches and the browser."""
    response.vary.update(h.strip() for h in VARY.split(","))
    return response
