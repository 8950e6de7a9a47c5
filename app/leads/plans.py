"""How a filtered or searched page is found quickly, whatever the filter matches.

Two plans, each fast where the other is slow:

- walk: read the first leads of the account in sort order from the sort index and keep the
  ones that match. Fast when matches are common (a few hundred leads give a page); hopeless
  when they are rare or, as dates often are, all far from the start of the order.
- gather: find every match through the filter's (or the search's) index, then sort them.
  Fast when matches are few; slow for hundreds of thousands.

Neither database's planner can tell which applies (SQLite has no statistics on our values;
PostgreSQL assumes the filter and the sort are independent, which dates are not). So the walk
is tried over a bounded prefix sized from the number of matches, and the gather is the sure
fallback. Both return the same ids as the plain query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true

from app.extensions import db
from app.leads.fields import Field
from app.models import AccountView, Lead, sort_index_name

MIN_PREFIX = 200
MAX_PREFIX = 5_000  # beyond this, gathering the matches costs less than walking
# When the filter's index alone yields the matches in their sort values (a filter in the
# default order: every sort index ends with created_at), gathering one match costs about a
# tenth of reading one lead in a walk (measured on 1,000,000 leads, both databases).
COVERED_GATHER_SHARE = 10


def walk(
    account: AccountView,
    archived: bool,
    conditions: list[ColumnElement[bool]],
    order: list[ColumnElement[Any]],
    sort_field: Field,
    *,
    limit: int,
    offset: int,
    matches: int | None,
    estimated: bool,
    scope: int,
    covered: bool = False,
) -> list[int] | None:
    """The page's ids from a prefix of the sort order, or None when the prefix falls short
    or when gathering the matches from a `covered` index costs less.

    The prefix is about three times what the density of matches (exact, `estimated`, or
    unknown) needs for the page.
    """
    depth = offset + limit
    if matches is not None:
        if matches == 0:
            return []
        size = max(MIN_PREFIX, 3 * depth * scope // matches)
        if covered and not estimated and matches < size * COVERED_GATHER_SHARE:
            return None
    else:
        size = max(MIN_PREFIX, 20 * depth)
    # An estimate may ignore part of the conditions: then a second, longest try.
    tries = (size, MAX_PREFIX) if estimated else (size,)
    for prefix_size in dict.fromkeys(tries):
        if prefix_size > MAX_PREFIX:
            return None
        ids = _matches_in_prefix(
            account, archived, conditions, order, sort_field, prefix_size, limit, offset
        )
        if len(ids) == limit:
            return ids
    return None


def _matches_in_prefix(
    account: AccountView,
    archived: bool,
    conditions: list[ColumnElement[bool]],
    order: list[ColumnElement[Any]],
    sort_field: Field,
    size: int,
    limit: int,
    offset: int,
) -> list[int]:
    prefix = (
        select(Lead.id)
        .where(Lead.account_id == account.id, Lead.archived == (true() if archived else false()))
        .order_by(*order)
        .limit(size)
        .with_hint(Lead, sort_index_hint(sort_field), "sqlite")
    )
    walked = prefix.subquery("walked")
    statement = (
        select(Lead.id)
        .select_from(walked)
        .join(Lead, Lead.id == walked.c.id)  # the prefix drives; leads are read by id
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    return list(db.session.scalars(statement))


def sort_index_hint(field: Field) -> str:
    """SQLite's hint to use the field's sort index."""
    return f"INDEXED BY {sort_index_name(field)}"


def can_walk(sort: tuple[Any, ...]) -> bool:
    """Whether the sort index yields the order directly. PostgreSQL's index keeps empty values
    last ascending, so a descending sort by a field that may be empty cannot walk it."""
    first = sort[0]
    postgres = db.engine.dialect.name == "postgresql"
    return not (postgres and first.descending and first.field.nullable)


def ordering(
    terms: list[tuple[ColumnElement[Any], Any]], id_column: ColumnElement[int]
) -> list[ColumnElement[Any]]:
    """ORDER BY for (expression, sort key) pairs: empty values last in both directions, and
    ties broken by id in the first key's direction, so pages never overlap or skip."""
    order = []
    for expression, key in terms:
        directed = expression.desc() if key.descending else expression.asc()
        order.append(directed.nulls_last() if key.field.nullable else directed)
    order.append(id_column.desc() if terms[0][1].descending else id_column.asc())
    return order


def gather(
    conditions: list[ColumnElement[bool]],
    terms: list[tuple[ColumnElement[Any], Any]],
    *,
    limit: int,
    offset: int,
    searching: bool,
    filter_field: Field | None,
) -> Select:
    """The page query, made to start from the matches rather than from the sort order."""
    if db.engine.dialect.name == "postgresql":
        # Collect the matches with their sort values first (a materialized CTE is a planning
        # fence), then sort just those.
        labeled = [expression.label(f"sort_{n}") for n, (expression, _) in enumerate(terms)]
        matched = (
            select(Lead.id, *labeled).where(*conditions).cte("matched").prefix_with("MATERIALIZED")
        )
        outer = [(matched.c[f"sort_{n}"], key) for n, (_, key) in enumerate(terms)]
        return (
            select(matched.c.id)
            .order_by(*ordering(outer, matched.c.id))
            .limit(limit)
            .offset(offset)
        )
    order = ordering(terms, Lead.id)
    statement = select(Lead.id).where(*conditions).order_by(*order).limit(limit).offset(offset)
    if searching:  # the search table, then leads by rowid: no lead index at all
        return statement.with_hint(Lead, "NOT INDEXED", "sqlite")
    if filter_field is not None and filter_field.sortable:
        return statement.with_hint(Lead, sort_index_hint(filter_field), "sqlite")
    return statement
