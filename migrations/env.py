"""Alembic environment for Flask-Migrate: migrations run against the app's engine."""

import logging
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from flask import current_app

from app.database import is_managed_schema_name
from app.db_deadlines import allow_long_statements
from app.sqltypes import Money, UTCDateTime

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def render_item(type_, obj, autogen_context):
    """Write the app's column types as their plain storage types, so migrations never import
    app code that may change later."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    if type_ == "type" and isinstance(obj, Money):
        return "sa.BigInteger()"
    return False


def run_migrations_offline():
    context.configure(
        url=target_db.engine.url.render_as_string(hide_password=False),
        target_metadata=target_db.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        # no empty migration when autogenerate finds no change
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("render_item", render_item)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("include_name", is_managed_schema_name)

    with target_db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # The app's PostgreSQL connections autocommit (app/config.py): each migration
            # runs in one transaction from its first statement, reads included.
            connection.execution_options(isolation_level="READ COMMITTED")
        context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
        with sqlite_foreign_keys_off(connection), context.begin_transaction():
            allow_long_statements(connection)  # an index on a million leads takes a while
            context.run_migrations()


@contextmanager
def sqlite_foreign_keys_off(connection):
    """SQLite changes a table by rebuilding it (batch mode, revision 0005): with foreign keys
    on, dropping the old table deletes its rows first, and ON DELETE CASCADE takes every row
    that references them along. Off while migrations run (the pragma works only outside a
    transaction, so on the driver's connection, before the first statement); a rebuild checks
    the keys itself (PRAGMA foreign_key_check). On again afterwards, as the app needs them."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
