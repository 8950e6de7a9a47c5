"""Reading a JSON request body strictly: right media type, valid JSON, an object."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NoReturn

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from app.leads.validation import ValidationError

BODY = "body"


def _refuse(detail: str) -> NoReturn:
    raise ValidationError({BODY: [detail]}, detail)


def _no_constants(name: str) -> NoReturn:
    _refuse(f"The body is not valid JSON: {name} is not a JSON number.")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            _refuse(f"The body names {key!r} more than once.")
        result[key] = value
    return result


def is_json_media_type(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; numbers with decimals are kept exact (Decimal)."""
    if not is_json_media_type(request.mimetype):
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH raises 413 here
    try:
        data = json.loads(
            raw or b"null",
            parse_float=Decimal,
            parse_constant=_no_constants,
            object_pairs_hook=_no_duplicates,
        )
    except (ValueError, RecursionError) as error:
        _refuse(f"The body is not valid JSON: {error}.")
    if not isinstance(data, dict):
        _refuse("The body must be a JSON object.")
    return data
