"""Flask's JSON responses written by orjson.

A page of leads is a few hundred values; the standard library's encoder took a tenth of the
request. orjson writes the same values (keys in insertion order, compact, UTF-8 rather than
\\u escapes; NaN, which no field can hold, as null). Dates and dataclasses still go through
Flask's own conversions, and anything orjson refuses (an integer beyond 64 bits) falls back to
the standard encoder, compact too. Request bodies are still read by the standard library
(app/api/body.py), which keeps decimal numbers exact.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_OPTIONS |= orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False  # fields in catalogue order

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # options orjson does not have (indent, sort_keys...)
            return super().dumps(obj, **kwargs)
        return self._encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        if self._app.debug:  # readable, indented output while developing
            return super().response(obj)
        return self._app.response_class(self._encode(obj) + b"\n", mimetype=self.mimetype)

    def _encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().dumps(obj, separators=(",", ":")).encode()
