"""Structured logs: one JSON object per line, for the app's own logs and gunicorn's access log.

Each line names the request (its id, method, path, client address) and, once known, the user
and account. Never tokens, cookies, passwords, query strings or request bodies.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context, request

# Where the app leaves who made the request, for gunicorn's access log (read as `{…}e` atoms).
ENVIRON_USER = "pulse.user"
ENVIRON_ACCOUNT = "pulse.account"


def _time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def _base(record: logging.LogRecord, message: str) -> dict[str, Any]:
    return {
        "time": _time(record.created),
        "level": record.levelname,
        "logger": record.name,
        "message": message,
    }


def identity() -> dict[str, Any]:
    """The caller's user id and account id (API caller or signed-in user), if known."""
    who = g.get("caller") or g.get("signed_in")
    if who is None:
        return {}
    try:
        return {key: value for key, value in who.identity().items() if value}
    except Exception:  # a log line must never fail the request it describes
        return {}


def request_fields() -> dict[str, Any]:
    """The current request's id, method, path, client address and identity (if any)."""
    if not has_request_context():
        return {}
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path,
        "remote_addr": request.remote_addr,
    }
    fields |= identity()
    return {k: v for k, v in fields.items() if v is not None}


class JsonFormatter(logging.Formatter):
    """App and server logs: time, level, logger, message, the request, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = _base(record, self.message(record)) | request_fields()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def message(self, record: logging.LogRecord) -> str:
        return record.getMessage()


_QUERY_STRING = re.compile(r"\?[^\s'\"]+")


class ServerJsonFormatter(JsonFormatter):
    """gunicorn's own log: its warning about a malformed request quotes the request line
    whole, and its error about a failed request names the URI; both lose the query string."""

    def message(self, record: logging.LogRecord) -> str:
        return _QUERY_STRING.sub("?…", record.getMessage())


class AccessJsonFormatter(logging.Formatter):
    """gunicorn's access log, whose record args are gunicorn's "atoms" of the request.

    Only named atoms are copied: the atoms also hold every request header (Authorization,
    Cookie) and the query string.
    """

    def format(self, record: logging.LogRecord) -> str:
        atoms = record.args if isinstance(record.args, Mapping) else {}

        def atom(name: str) -> Any:
            value = atoms.get(name)
            return None if value in (None, "-") else value

        method, path, status = atom("m"), atom("U"), atom("s")
        micros = atom("D")
        fields = {
            "request_id": atom("{x-request-id}o"),
            "method": method,
            "path": path,
            "status": int(status) if str(status).isdigit() else status,
            "duration_ms": round(micros / 1000, 1) if isinstance(micros, int) else None,
            "remote_addr": atom("h"),
            "user": atom(f"{{{ENVIRON_USER}}}e"),
            "account": atom(f"{{{ENVIRON_ACCOUNT}}}e"),
        }
        entry = _base(record, f"{method} {path} {status}")
        entry |= {k: v for k, v in fields.items() if v is not None}
        return json.dumps(entry, default=str)


def install_root_handler(level: int = logging.INFO) -> None:
    """Send the app's logs to stderr as JSON lines (once per process)."""
    root = logging.getLogger()
    if not any(getattr(h, "_pulse_json", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._pulse_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
