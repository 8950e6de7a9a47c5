"""A request id for every request: the caller's `X-Request-Id` if it is safe, else a new one.

It is echoed in the response's `X-Request-Id` header and appears in every log line of the
request (app/logs.py), so a user's report, the proxy's log and ours can be matched up.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from app.logs import ENVIRON_ACCOUNT, ENVIRON_USER, identity

HEADER = "X-Request-Id"
# Short and plain: it is copied into logs and headers, so nothing that could forge a line.
_SAFE = re.compile(r"[A-Za-z0-9._:=+/-]{1,64}")


def _new_id() -> str:
    return uuid.uuid4().hex


def _assign() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _SAFE.fullmatch(given) else _new_id()


def _echo(response: Response) -> Response:
    request_id = g.get("request_id") or _new_id()
    g.request_id = request_id
    response.headers[HEADER] = request_id
    # For gunicorn's access log, which runs after the app and cannot see `g`.
    for key, value in identity().items():
        name = ENVIRON_USER if key == "user" else ENVIRON_ACCOUNT
        request.environ[name] = str(value)
    return response


def register_request_id(app: Flask) -> None:
    # First of all before_request hooks, so that every log line of the request carries it.
    app.before_request_funcs.setdefault(None, []).insert(0, _assign)
    app.after_request(_echo)
