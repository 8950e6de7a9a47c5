"""Steering list queries to the right index on SQLite, using the exact counts we have.

SQLite's planner has no statistics on how many leads a filter or a search matches, and a
wrong guess costs a second: walking a sort index through a million leads to find three
matches, or sorting 160,000 matches to show ten. The list knows the exact number of matches
(it counts them anyway), so it decides: when matches are dense, walk the sort key's index and
stop after the page; when they are sparse, start from the filter or search index and sort
the few matches. PostgreSQL keeps statistics and plans this well by itself.
"""

from __future__ import annotations

from sqlalchemy import Select

from app.extensions import db
from app.models import Lead


def steer(
    statement: Select, *, sort_field: str, matches: int, scope: int, depth: int, searching: bool
) -> Select:
    """The page query with SQLite index advice.

    Walking the sort index examines about depth / density leads; starting from the filter
    examines all `matches`. So walk when matches^2 >= depth * scope, where scope is the number
    of leads the list draws from (live or archived) and depth the rows up to the page's end.
    """
    if db.engine.dialect.name != "sqlite":
        return statement
    if matches * matches >= depth * scope:
        return statement.with_hint(Lead, f"INDEXED BY ix_leads_sort_{sort_field}", "sqlite")
    if searching:  # few matches: from the search table by rowid, no lead index
        return statement.with_hint(Lead, "NOT INDEXED", "sqlite")
    return statement  # few matches of a filter: SQLite picks the filter's index
