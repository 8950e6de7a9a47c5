"""What a database error means for the client: busy or unreachable (503), a conflict (409), or
a fault of ours (500)."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLite's extended result codes and PostgreSQL's SQLSTATEs for a unique or foreign-key
# violation: what concurrent clients can cause (the same key twice, a parent deleted).
_SQLITE_CONFLICTS = frozenset(
    {
        sqlite3.SQLITE_CONSTRAINT_UNIQUE,
        sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
        sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY,
    }
)
_POSTGRES_CONFLICTS = frozenset({"23505", "23503"})


def is_unavailable(error: Exception) -> bool:
    """The database is unreachable, restarting, busy or dropped the connection mid-request."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


# PostgreSQL's SQLSTATEs for a statement that ran out of time: statement_timeout (or a cancel),
# lock_not_available (lock_timeout).
_POSTGRES_BUSY = frozenset({"57014", "55P03"})


def is_busy(error: Exception) -> bool:
    """The database is busy: SQLite's write lock outlasted the busy timeout, or PostgreSQL
    cancelled a statement that outlasted its statement_timeout."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in _POSTGRES_BUSY:
        return True
    return "locked" in str(error.orig).lower()


def is_conflict(error: IntegrityError) -> bool:
    """A unique or foreign-key violation, as opposed to a trigger or check that refused."""
    original = error.orig
    if isinstance(original, sqlite3.Error):
        return getattr(original, "sqlite_errorcode", None) in _SQLITE_CONFLICTS
    return getattr(original, "sqlstate", None) in _POSTGRES_CONFLICTS
