"""Engine set-up for SQLite and PostgreSQL, and the write transaction that services use."""

from __future__ import annotations

import logging
import os
import re
import select
import sqlite3
import stat
import time
from typing import Any, TypeVar

import psycopg
from flask import Flask
from sqlalchemy import CompoundSelect, Executable, Select, event
from sqlalchemy.dialects.postgresql.base import PGCompiler
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, Pool

from app.db_deadlines import PING_SECONDS, answer_within
from app.extensions import db

_WRITE = "pulse_write"
_PLAN_ONCE = "pulse_plan_once"  # a statement's execution option: see plan_once()
S = TypeVar("S", bound=Executable)
log = logging.getLogger(__name__)


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # SQLAlchemy emits BEGIN itself (below); pysqlite's own implicit BEGIN is turned off.
    # The busy timeout comes from pysqlite's `timeout` (SQLITE_BUSY_TIMEOUT_MS, app/config.py).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",  # readers never wait for the writer, so workers can share the file
        "foreign_keys=ON",  # off by default in SQLite
        "synchronous=NORMAL",  # durable in WAL mode, without an fsync per commit
        # 32 MiB of pages per connection (default 2 MiB): a page sorted from thousands of
        # matches reads leads at random, and each miss is a trip through the OS.
        "cache_size=-32768",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    # Unicode-aware lower() for short search words (SQLite's own folds ASCII only).
    dbapi_connection.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


# A PostgreSQL connection is checked before use (a round trip) when it has been idle for longer
# than this, or when the server has written to it since its last use, which an idle
# connection only sees when the server closed it (a restart, an administrator ending it).
# A restart while the app was idle then costs no request. A busy connection is not pinged
# (SQLAlchemy's pool_pre_ping costs a round trip per request); if the server dies under it, the
# failing request answers 503 and SQLAlchemy discards every connection of the pool, so the
# next request connects afresh.
IDLE_PING_SECONDS = 5.0


@event.listens_for(Pool, "checkin")
def _on_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    if not (_idle_too_long(record) or _closed_by_server(dbapi_connection)):
        return
    try:
        with answer_within(PING_SECONDS):
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.commit()  # if a transaction was open; a rollback would also drop
            # the connection's prepared statements (psycopg does on ROLLBACK)
    except Exception as error:  # any driver error: the pool connects afresh
        raise DisconnectionError(str(error)) from error


def _idle_too_long(record: ConnectionPoolEntry) -> bool:
    idle_since = record.info.get("idle_since")  # None: just connected
    return idle_since is not None and time.monotonic() - idle_since >= IDLE_PING_SECONDS


def _closed_by_server(dbapi_connection: psycopg.Connection) -> bool:
    """Whether the server wrote to this idle connection: a system call, not a round trip."""
    try:
        poll = select.poll()
        poll.register(dbapi_connection.fileno(), select.POLLIN)
        return bool(poll.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True  # no usable socket: the ping will tell


def plan_once(statement: S) -> S:
    """Mark a statement whose best plan never depends on its values: PostgreSQL may then plan
    it once per connection (see _execute)."""
    return statement.execution_options(**{_PLAN_ONCE: True})


@event.listens_for(Engine, "do_execute")
def _execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
    """On PostgreSQL, let psycopg prepare the statements marked by plan_once() and no other.

    psycopg prepares a statement on its fifth run on a connection; after five more, PostgreSQL
    may switch to one generic plan, made without looking at the parameters. That is ideal for
    statements whose best plan never depends on them (a token by its hash, a lead by id, the
    unfiltered page), which then skip planning. A filter's best plan depends on how common
    its value is, so every other statement is planned afresh with its values, as it always was.
    """
    if context.dialect.driver != "psycopg" or isinstance(cursor, psycopg.ServerCursor):
        return None  # SQLite, or a server-side cursor (it takes no `prepare`)
    prepare = None if context.execution_options.get(_PLAN_ONCE) else False
    cursor.execute(statement, parameters, prepare=prepare)
    return True


# PostgreSQL connections run in autocommit (config.engine_options): a request that only reads
# sends its SELECTs and nothing else. Under PostgreSQL's READ COMMITTED each statement takes
# its own snapshot anyway, so wrapping reads in a transaction would add two round trips
# (BEGIN, COMMIT) and guarantee nothing more. A transaction starts where it matters: when a
# writer begins (begin_write), or at the latest just before the first statement that may write,
# lock rows or keep a cursor open, so every change still commits or rolls back as one.


_OPENS_WRITES = "pulse_opens_writes"  # an engine option: see POSTGRES_AUTOCOMMIT
# The app's PostgreSQL engine options (config.engine_options). Other engines, even in
# autocommit (the tests' and the bench's server connections), are left alone.
POSTGRES_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT", "execution_options": {_OPENS_WRITES: True}}


@event.listens_for(Engine, "before_cursor_execute")
def _begin_before_writing(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    if not _autocommitting(conn):
        return
    compiled = getattr(context, "compiled", None)
    # A server-side cursor (streaming) exists only inside a transaction.
    if isinstance(cursor, psycopg.ServerCursor) or not _only_reads(compiled):
        _begin_on_server(cursor.connection)


def _autocommitting(conn: Connection) -> bool:
    """Whether this connection of the app's PostgreSQL engine is outside a transaction by the
    engine's autocommit (not by an explicit isolation_level="AUTOCOMMIT", as VACUUM needs)."""
    options = conn.get_execution_options()
    if not options.get(_OPENS_WRITES) or options.get("isolation_level") == "AUTOCOMMIT":
        return False
    dbapi_connection = conn.connection.dbapi_connection
    if not dbapi_connection.autocommit:  # e.g. migrations: a transaction from the start
        return False
    return dbapi_connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def _begin_on_server(dbapi_connection: psycopg.Connection) -> None:
    # psycopg commits (or rolls back) a transaction opened this way on the next commit()
    # (rollback()), which SQLAlchemy calls when the session's transaction ends.
    dbapi_connection.execute("BEGIN", prepare=False)


def _only_reads(compiled: Any) -> bool:
    """Whether a statement surely only reads: a SELECT built with SQLAlchemy, without row locks
    (anywhere in it) or a data-changing CTE (SQL text, even `SELECT …`, could be anything).
    A SELECT of a function with side effects (nextval, an advisory lock) belongs in a write
    transaction (begin_write), like every write."""
    if compiled is None or not isinstance(compiled.statement, Select | CompoundSelect):
        return False
    if _ROW_LOCK.search(compiled.string):
        return False
    return not any(cte.element.is_dml for cte in (compiled.ctes or ()))


_ROW_LOCK = re.compile(r"\bFOR (?:NO KEY |KEY )?(?:UPDATE|SHARE)\b")


@event.listens_for(Engine, "begin")
def _on_begin(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        if conn.get_execution_options().get(_WRITE, False) and _autocommitting(conn):
            _begin_writer(conn)  # its reads too: see above
        return
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # e.g. ANALYZE or VACUUM: no transaction around it
    # A writer takes the write lock up front: a deferred transaction that upgrades later fails
    # at once with SQLITE_BUSY, ignoring the busy timeout.
    if conn.get_execution_options().get(_WRITE, False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # may time out: SQLAlchemy wraps the error
    else:
        # A deferred BEGIN never waits or fails; straight to the driver, as it runs for every
        # request and SQLAlchemy's statement machinery would cost more than the BEGIN itself.
        conn.connection.dbapi_connection.execute("BEGIN")


def _begin_writer(conn: Connection) -> None:
    """BEGIN on the server for a writer. Sent from an event, past SQLAlchemy's handling of
    driver errors, so a failure (a connection that died, a server that does not answer) is
    wrapped here as SQLAlchemy would: the connection is dropped, and the request answers 503
    instead of 500."""
    try:
        _begin_on_server(conn.connection.dbapi_connection)
    except psycopg.Error as error:
        conn.invalidate(error)
        raise DBAPIError.instance(
            "BEGIN", None, error, psycopg.Error, connection_invalidated=True, dialect=conn.dialect
        ) from error


def _sqlite_from_hint(compiler: SQLiteCompiler, table: Any, text: str | None) -> str | None:
    return text


# SQLAlchemy renders FROM hints (`select.with_hint`) through this dialect hook, which its
# SQLite dialect leaves empty; SQLite's hints are INDEXED BY and NOT INDEXED (plans.py).
SQLiteCompiler.get_from_hint_text = _sqlite_from_hint

_pg_limit_clause = PGCompiler.limit_clause


def _pg_literal_limit_clause(compiler: PGCompiler, select: Any, **kw: Any) -> str:
    return _pg_limit_clause(compiler, select, **(kw | {"literal_execute": True}))


# LIMIT and OFFSET go into the SQL text as numbers, not parameters. With a parameter there,
# PostgreSQL cannot cost a prepared statement's generic plan (it assumes a tenth of the rows),
# so it plans the query afresh on every execution; with numbers, a page query is planned once
# per connection and then only executed (if it is marked by plan_once()). A LIMIT given as a
# bindparam() needs a type (Integer) to be written as a number.
PGCompiler.limit_clause = _pg_literal_limit_clause


def begin_write() -> None:
    """Start the session's transaction as a writer.

    Ends the read transaction the request may have open (nothing is pending in it), so the
    write transaction starts fresh, with its reads: `BEGIN IMMEDIATE` on SQLite, a plain BEGIN
    on PostgreSQL (whose reads otherwise run in autocommit). Inside a write transaction
    already, it does nothing (so write helpers can call it).
    """
    session = db.session()
    if session.in_transaction():
        if session.connection().get_execution_options().get(_WRITE):
            return
        session.commit()
    session.connection(execution_options={_WRITE: True})


def close_sessions_safely(app: Flask) -> None:
    """End each request's session before Flask-SQLAlchemy's own teardown, whatever the state of
    its connection.

    A connection that dies after the response is ready (PostgreSQL restarting) makes the final
    rollback raise, if a transaction is still open, outside every error handler: gunicorn would
    turn a good response into a 500.
    Teardown functions run in reverse order of registration, so register this after
    `db.init_app`.
    """

    @app.teardown_appcontext
    def _close_session(error: BaseException | None) -> None:
        try:
            db.session.remove()  # a rollback, if a transaction is still open
        except DBAPIError as lost:
            log.warning("database connection lost at the end of a request: %s", lost.orig)
            db.session().invalidate()  # drop the connection without talking to the server
        finally:
            db.session.remove()  # never leak the connection, whatever failed above


def create_sqlite_file_privately(app: Flask) -> None:
    """Create a new SQLite database file readable by its owner only (0600) before SQLite does
    (with the umask's 0644, anyone on the host could read the leads and password hashes).
    SQLite gives the -wal and -shm files the database file's mode. An existing file keeps its
    mode; one that others can read is worth a warning."""
    with app.app_context():
        url = db.engine.url
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:" or "uri" in url.query:
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s can be read by other users of this host: chmod 600 it", path)
    except OSError:
        return  # e.g. a directory that does not exist yet: SQLite's own error will say so


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


# Search structures that migrations create by hand (they are not SQLAlchemy tables or
# indexes): Alembic's model comparison must leave them out.
UNMANAGED_TABLES = ("leads_fts", "lead_search")  # SQLite's FTS5 tables, PostgreSQL's table


def is_managed_schema_name(name: str | None, type_: str, parent_names: object = None) -> bool:
    """Whether Alembic should compare this table (and what is in it) with the models."""
    return not (type_ == "table" and name is not None and name.startswith(UNMANAGED_TABLES))
