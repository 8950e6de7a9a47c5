"""RFC 9457 problem details: every API error is `application/problem+json`."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from flask import Response, json

PROBLEM_TYPE = "about:blank"
MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response; `errors` lists messages per field or parameter."""
    body: dict[str, object] = {
        "type": PROBLEM_TYPE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = dict(errors)
    response = Response(json.dumps(body), status=status, mimetype=MEDIA_TYPE)
    response.headers.update(headers or {})
    return response
