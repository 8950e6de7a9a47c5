"""Pulse Leads: the application factory."""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from flask import Flask

from app import config as settings
from app.extensions import csrf, db, limiter, migrate
from app.leads import query
from app.security import register_security_headers


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A configured app: settings, extensions, blueprints, error handlers, CLI."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.json.sort_keys = False  # type: ignore[attr-defined]  (fields in catalogue order)
    app.config.from_mapping(settings.from_environment())
    app.config.from_mapping(config or {})
    url = settings.database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = settings.engine_options(url) | app.config.get(
        "SQLALCHEMY_ENGINE_OPTIONS", {}
    )
    settings.check(app.config, debug=app.debug, testing=app.testing)
    if not app.config["SECRET_KEY"]:
        logging.getLogger(__name__).warning("SECRET_KEY not set: using a random one (debug only)")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    register_extensions(app)
    query.configure_count_cache(app.config["COUNT_CACHE_SIZE"])
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import database  # noqa: F401  (engine events: SQLite pragmas, BEGIN IMMEDIATE)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)


def register_blueprints(app: Flask) -> None:
    from app.api import bp as api
    from app.auth.views import bp as auth
    from app.health import bp as health
    from app.web import IdConverter
    from app.web import bp as web
    from app.web.context import register_template_helpers

    app.url_map.converters["id"] = IdConverter
    csrf.exempt(api)  # bearer tokens only: a browser cannot forge them
    for blueprint in (api, auth, web, health):
        app.register_blueprint(blueprint)
    register_template_helpers(app)


def register_errorhandlers(app: Flask) -> None:
    from app.errors import register_errorhandlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from app.cli import register

    register(app)
