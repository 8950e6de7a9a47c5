"""PostgreSQL over a network that may drop packets: no request waits for it for long.

When packets are dropped rather than refused (a cable pulled, a failover), nothing tells a
connection that its server is gone: every request hung until gunicorn killed its worker, and
/healthz took 28 s. Four bounds, from the server out:

- `statement_timeout` (DATABASE_STATEMENT_TIMEOUT): the server cancels a statement that runs
  longer, and the request answers 503 "busy" at once. Operator commands that must run long
  (migrations, bulk loads) lift it for their own transaction (`allow_long_statements`).
- A request waits for its database at most that long plus a second
  (`DATABASE_STATEMENT_TIMEOUT` + 1 s), then closes the connection and answers 503: only the
  app can tell a silent server from a slow one when something in between (a proxy, a pooler,
  a half-dead host) still acknowledges the packets. /healthz and the pool's pings wait less.
- libpq's TCP keepalives and `tcp_user_timeout`: the kernel gives up on a connection whose
  packets go unacknowledged, idle in the pool or not, in workers and commands alike.
- `connect_timeout` (DATABASE_CONNECT_TIMEOUT) for new connections, shorter for /healthz.

Once a connection fails, SQLAlchemy discards the whole pool. A server that did not answer in
time is not asked again for FAIL_FAST_SECONDS: meanwhile each request that needs it answers
503 at once, instead of every worker queueing behind connection attempts that cannot succeed
(and /healthz, behind them, answering late). The first attempt after that is a real one, so
the app serves again by itself within seconds of the network coming back.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from flask import Flask, g
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

# The kernel's bounds on a connection whose packets go unanswered: an idle connection is
# probed after 5 s, every 2 s; and data unacknowledged for 10 s ends the connection (also when
# keepalive probes go unanswered: tcp_user_timeout overrides their count on Linux).
NETWORK_OPTIONS = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}
MARGIN = 1.0  # seconds a request waits past the server's statement_timeout, for the network
PING_SECONDS = 2.0  # a "SELECT 1" answers in milliseconds: a silent server is dead
LIBPQ_MIN_CONNECT_TIMEOUT = 2  # libpq rounds shorter connect timeouts up to 2 s
FAIL_FAST_SECONDS = 3.0  # after a server failed to answer in time, before asking it again

# Per server (host, port, database), per process: until when it counts as silent.
_silent_until: dict[str, float] = {}

# How long the current request may wait for any one answer from PostgreSQL (None: no bound,
# as in operator commands, which the kernel's bounds and statement_timeout still cover).
_answer_within: ContextVar[float | None] = ContextVar("pulse_answer_within", default=None)


def connect_args(statement_timeout: float) -> dict[str, Any]:
    """psycopg connection parameters: the network bounds, and the server's statement_timeout
    (0: none)."""
    milliseconds = round(statement_timeout * 1000)
    return {**NETWORK_OPTIONS, "options": f"-c statement_timeout={milliseconds}"}


class BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
    """A psycopg connection that stops waiting for a server that does not answer in time,
    and closes itself: the pool then sees a dead connection (SQLAlchemy's is_disconnect)."""

    server = ""  # which server it talks to (see _silent_until)

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = _answer_within.get() if timeout is None else timeout
        try:
            return super().wait(gen, interval, timeout=limit)
        except psycopg.errors._WaitTimeout:
            if timeout is not None:
                raise  # psycopg's own bound: its own handling
            self.pgconn.finish()  # the protocol is mid-message: this connection is done
            _fell_silent(self.server)
            raise psycopg.OperationalError(
                f"the database did not answer within {limit:g} s; connection closed"
            ) from None


@event.listens_for(Engine, "do_connect")
def _connect(dialect: Any, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
    if dialect.driver != "psycopg":
        return None  # SQLite: the dialect connects as usual
    params = dict(cparams)
    server = f"{params.get('host')}:{params.get('port')}/{params.get('dbname')}"
    if time.monotonic() < _silent_until.get(server, 0.0):
        raise psycopg.OperationalError(
            "the database did not answer in time a moment ago; not asked again yet"
        )
    limit = _answer_within.get()
    if limit is not None and params.get("connect_timeout"):
        bounded = max(LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(limit))
        params["connect_timeout"] = min(int(params["connect_timeout"]), bounded)
    try:
        connection = BoundedConnection.connect(*cargs, **params)
    except psycopg.errors.ConnectionTimeout:
        _fell_silent(server)
        raise
    _silent_until.pop(server, None)
    connection.server = server
    return connection


def _fell_silent(server: str) -> None:
    log.warning("%s did not answer in time: failing fast for %g s", server, FAIL_FAST_SECONDS)
    _silent_until[server] = time.monotonic() + FAIL_FAST_SECONDS


@contextmanager
def answer_within(seconds: float) -> Iterator[None]:
    """Wait at most `seconds` for each answer from PostgreSQL meanwhile (never longer than the
    bound already in force)."""
    current = _answer_within.get()
    token = _answer_within.set(seconds if current is None else min(current, seconds))
    try:
        yield
    finally:
        _answer_within.reset(token)


def allow_long_statements(connection: Connection) -> None:
    """Lift statement_timeout for the rest of the connection's transaction (PostgreSQL): a
    migration or a bulk load may run statements for minutes. Outside a request the app does
    not bound its own waits either."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")


def bound_requests(app: Flask) -> None:
    """Every request waits for PostgreSQL at most DATABASE_STATEMENT_TIMEOUT + MARGIN per
    answer (no bound when the statement timeout is off)."""
    seconds = app.config["DATABASE_STATEMENT_TIMEOUT"]
    if not seconds:
        return

    def start() -> None:
        g.pulse_answer_within = _answer_within.set(seconds + MARGIN)

    def end(error: BaseException | None) -> None:
        token = g.pop("pulse_answer_within", None)
        if token is not None:
            _answer_within.reset(token)

    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.teardown_request(end)
