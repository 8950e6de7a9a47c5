"""Pulse Leads: the application factory."""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config as settings
from app.db_deadlines import bound_requests
from app.extensions import csrf, db, migrate
from app.jsonify import OrjsonProvider
from app.leads import query
from app.request_body import BoundedRequest
from app.request_id import register_request_id
from app.security import register_security_headers


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A configured app: settings, extensions, blueprints, error handlers, CLI."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.request_class = BoundedRequest
    app.json = OrjsonProvider(app)
    app.config.from_mapping(settings.from_environment())
    app.config.from_mapping(config or {})
    url = settings.database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = settings.merge_engine_options(
        settings.engine_options(url, app.config), app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    )
    settings.check(app.config, debug=app.debug, testing=app.testing)
    if not app.config["SECRET_KEY"]:
        logging.getLogger(__name__).warning("SECRET_KEY not set: using a random one (debug only)")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    trust_proxy(app)
    register_extensions(app)
    register_blueprints(app)
    configure_caches(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_request_id(app)
    bound_requests(app)
    register_cli(app)
    return app


def trust_proxy(app: Flask) -> None:
    """Behind PROXY_FIX_HOPS reverse proxies, take the client's address, scheme and host from
    their X-Forwarded-* headers (never otherwise: a client could claim any address)."""
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        proxied = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
        app.wsgi_app = proxied  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from app import (
        database,  # its import sets the engine events: SQLite pragmas, BEGIN IMMEDIATE
        ratelimits,
    )

    db.init_app(app)
    database.close_sessions_safely(app)  # after db.init_app: its teardown runs first
    database.create_sqlite_file_privately(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    ratelimits.register(app)


def register_blueprints(app: Flask) -> None:
    from app.api import BrowserOnlySessions
    from app.api import bp as api
    from app.auth.views import bp as auth
    from app.health import bp as health
    from app.web import IdConverter
    from app.web import bp as web
    from app.web.context import register_template_helpers

    app.url_map.converters["id"] = IdConverter
    csrf.exempt(api)  # bearer tokens only: a browser cannot forge them
    app.session_interface = BrowserOnlySessions()  # nor does the API read the cookie
    for blueprint in (api, auth, web, health):
        app.register_blueprint(blueprint)
    register_template_helpers(app)


def configure_caches(app: Flask) -> None:
    """The sizes of the per-worker caches of counts and list bodies (see app/cache.py)."""
    from app.api.leads import configure_list_cache

    query.configure_count_cache(app.config["COUNT_CACHE_SIZE"])
    configure_list_cache(app.config["LIST_CACHE_MB"])


def register_errorhandlers(app: Flask) -> None:
    from app.errors import register_errorhandlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from app.cli import register

    register(app)
