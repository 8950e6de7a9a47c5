"""Settings from the environment, with safe defaults; unsafe combinations fail at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from limits import parse_many

from app.database import POSTGRES_AUTOCOMMIT
from app.db_deadlines import connect_args

MIB = 1024 * 1024
RATE_LIMITS = ("RATELIMIT_SIGN_IN_PER_IP", "RATELIMIT_SIGN_IN_PER_EMAIL", "RATELIMIT_API_PER_TOKEN")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def database_url(url: str | None) -> str:
    """The SQLAlchemy URL; plain `postgres://` URLs use the psycopg 3 driver."""
    if not url:
        return "sqlite:///pulse-leads.db"  # relative: inside the app's instance folder
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def from_environment(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The app's configuration as read from environment variables."""
    debug = _flag(env, "FLASK_DEBUG", False)
    url = database_url(env.get("DATABASE_URL"))
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": url,
        # How long a SQLite writer waits for the write lock, and a PostgreSQL connection
        # attempt for the server, before the request answers 503.
        "SQLITE_BUSY_TIMEOUT_MS": int(env.get("SQLITE_BUSY_TIMEOUT_MS", "5000")),
        "DATABASE_CONNECT_TIMEOUT": int(env.get("DATABASE_CONNECT_TIMEOUT", "3")),
        # PostgreSQL cancels a statement that runs longer (seconds; 0: never), and a request
        # waits at most a second more for an answer (app/db_deadlines.py).
        "DATABASE_STATEMENT_TIMEOUT": float(env.get("DATABASE_STATEMENT_TIMEOUT", "5")),
        # How long /healthz waits for the database before it answers 503.
        "HEALTHZ_TIMEOUT": float(env.get("HEALTHZ_TIMEOUT", "2")),
        # Server-side prepared statements on PostgreSQL (off behind a pooler that cannot keep
        # them, such as PgBouncer before 1.21 in transaction mode).
        "DATABASE_PREPARED_STATEMENTS": _flag(env, "DATABASE_PREPARED_STATEMENTS", True),
        # Request size caps: JSON bodies and forms alike.
        "MAX_CONTENT_LENGTH": MIB,
        "MAX_FORM_MEMORY_SIZE": MIB,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Send the cookie only when the session changed: a response to an older request (a
        # field checked on blur) would otherwise overwrite a newer one, flash messages and all.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_SECURE": _flag(env, "SESSION_COOKIE_SECURE", not debug),
        "API_SESSION_HOURS": int(env.get("API_SESSION_HOURS", "12")),
        # Browser sessions end after this long without a request, and after this long at most.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "480")),
        "SESSION_MAX_HOURS": int(env.get("SESSION_MAX_HOURS", "168")),
        # How long an invitation link works (once) before it must be sent again.
        "INVITATION_DAYS": int(env.get("INVITATION_DAYS", "7")),
        "PERMANENT_SESSION_LIFETIME": int(env.get("SESSION_MAX_HOURS", "168")) * 3600,
        # CSRF tokens live as long as the session they belong to.
        "WTF_CSRF_TIME_LIMIT": None,
        "HTMX_SOURCE": env.get("HTMX_SOURCE", "cdn"),
        # Throttling (flask-limiter): counters in Redis when set, so every worker shares them.
        "RATELIMIT_ENABLED": _flag(env, "RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_SIGN_IN_PER_IP": env.get("RATELIMIT_SIGN_IN_PER_IP", "30/minute"),
        "RATELIMIT_SIGN_IN_PER_EMAIL": env.get("RATELIMIT_SIGN_IN_PER_EMAIL", "10/minute"),
        "RATELIMIT_API_PER_TOKEN": env.get("RATELIMIT_API_PER_TOKEN", "600/minute"),
        "PROXY_FIX_HOPS": int(env.get("PROXY_FIX_HOPS", "0")),
        # Exact counts of filtered lists kept per worker (0 turns the cache off).
        "COUNT_CACHE_SIZE": int(env.get("COUNT_CACHE_SIZE", "4096")),
        # MiB of GET /api/leads bodies kept per worker, reused until a lead write (0: off).
        "LIST_CACHE_MB": int(env.get("LIST_CACHE_MB", "16")),
    }


def engine_options(url: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options for the database at `url`."""
    if url.startswith("sqlite"):
        # pysqlite's `timeout` is SQLite's busy timeout, in seconds.
        return {"connect_args": {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}}
    return {
        # No pool_pre_ping (a round trip per request): app/database.py pings idle connections.
        "pool_recycle": 1800,
        # Reads need no transaction; writes open one (app/database.py).
        **POSTGRES_AUTOCOMMIT,
        "connect_args": {
            # fail fast while the server is unreachable, or the network drops packets
            "connect_timeout": config["DATABASE_CONNECT_TIMEOUT"],
            **connect_args(config["DATABASE_STATEMENT_TIMEOUT"]),
            # psycopg prepares a statement on its 5th run (None: never; see app/database.py)
            "prepare_threshold": 5 if config["DATABASE_PREPARED_STATEMENTS"] else None,
        },
    }


def merge_engine_options(ours: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The app's engine options with the operator's over them; execution options are merged
    one by one, as the app's own must survive (app/database.py relies on them)."""
    merged = ours | dict(given)
    if "execution_options" in ours and "execution_options" in given:
        merged["execution_options"] = ours["execution_options"] | given["execution_options"]
    return merged


MIN_SECRET_KEY_LENGTH = 32
_MAKE_A_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


def _check_secret_key(key: str | bytes | None) -> None:
    """A key that signs sessions must not be guessable: long, and random (which no check can
    prove, so the message says how to make one)."""
    if not key:
        raise RuntimeError(f"SECRET_KEY is not set. Set it to a long random value: {_MAKE_A_KEY}")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(
            f"SECRET_KEY is too short ({len(key)} characters): use at least "
            f"{MIN_SECRET_KEY_LENGTH} characters of a random value, e.g. the output of "
            f"{_MAKE_A_KEY}"
        )


def check(config: Mapping[str, Any], *, debug: bool, testing: bool) -> None:
    """Refuse to start with settings that are unsafe outside development."""
    if not (debug or testing):
        _check_secret_key(config.get("SECRET_KEY"))
    if config.get("HTMX_SOURCE") not in ("cdn", "local"):
        raise RuntimeError("HTMX_SOURCE must be 'cdn' or 'local'.")
    if not isinstance(config.get("INVITATION_DAYS"), int) or config["INVITATION_DAYS"] < 1:
        raise RuntimeError("INVITATION_DAYS must be a whole number of days, 1 or more.")
    for name, least in (("DATABASE_STATEMENT_TIMEOUT", 0), ("HEALTHZ_TIMEOUT", 0.1)):
        if not isinstance(config.get(name), int | float) or config[name] < least:
            raise RuntimeError(f"{name} must be a number of seconds, {least} or more.")
    for name in ("COUNT_CACHE_SIZE", "LIST_CACHE_MB"):
        if not isinstance(config.get(name), int) or config[name] < 0:
            raise RuntimeError(f"{name} must be a whole number, 0 or more (0: no cache).")
    for name in RATE_LIMITS:
        try:
            parse_many(str(config.get(name, "")))
        except ValueError:
            raise RuntimeError(f"{name} must be a rate limit such as '10/minute'.") from None
