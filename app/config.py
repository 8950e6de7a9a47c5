"""Settings from the environment, with safe defaults; unsafe combinations fail at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

MIB = 1024 * 1024


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
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
        # Request size caps: JSON bodies and forms alike.
        "MAX_CONTENT_LENGTH": MIB,
        "MAX_FORM_MEMORY_SIZE": MIB,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag(env, "SESSION_COOKIE_SECURE", not debug),
        "API_SESSION_HOURS": int(env.get("API_SESSION_HOURS", "12")),
        # Browser sessions end after this long without a request, and after this long at most.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "480")),
        "SESSION_MAX_HOURS": int(env.get("SESSION_MAX_HOURS", "168")),
        "PERMANENT_SESSION_LIFETIME": int(env.get("SESSION_MAX_HOURS", "168")) * 3600,
        # CSRF tokens live as long as the session they belong to.
        "WTF_CSRF_TIME_LIMIT": None,
        "HTMX_SOURCE": env.get("HTMX_SOURCE", "cdn"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "PROXY_FIX_HOPS": int(env.get("PROXY_FIX_HOPS", "0")),
        # Exact counts of filtered lists kept per worker (0 turns the cache off).
        "COUNT_CACHE_SIZE": int(env.get("COUNT_CACHE_SIZE", "4096")),
    }


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {}
    return {
        "pool_pre_ping": True,  # recover by itself after a PostgreSQL restart
        "pool_recycle": 1800,
        "connect_args": {"connect_timeout": 3},  # fail fast while the server is unreachable
    }


def check(config: Mapping[str, Any], *, debug: bool, testing: bool) -> None:
    """Refuse to start with settings that are unsafe outside development."""
    if not config.get("SECRET_KEY") and not (debug or testing):
        raise RuntimeError(
            "SECRET_KEY is not set. Set it to a long random value, e.g. "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    if config.get("HTMX_SOURCE") not in ("cdn", "local"):
        raise RuntimeError("HTMX_SOURCE must be 'cdn' or 'local'.")
