"""The lead list: query-string parameters → ListQuery (validated) → Page of leads.

The HTML list and `GET /api/leads` both use this module, so the same query string shows the
same leads in both. Every parameter and value is checked; anything not understood is refused
with a message naming it, never ignored.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
)
from werkzeug.datastructures import MultiDict

from app.cache import LRUCache
from app.database import plan_once
from app.extensions import db
from app.leads import plans
from app.leads import search as lead_search
from app.leads.fields import FILTERABLE, SORTABLE, Field, Kind
from app.leads.validation import (
    FieldError,
    ValidationError,
    parse_boolean,
    parse_datetime,
    parse_decimal,
    parse_integer,
)
from app.models import AccountView, Lead, LeadRow, leads_table
from app.models import sort_expression as model_sort_expression

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10
MAX_SORT_KEYS = 5
MAX_SEARCH_LENGTH = 200
MAX_SEARCH_WORDS = 10
MAX_FILTER_VALUES = 50
RESERVED = ("page", "pageSize", "search", "sort", "archived")


@dataclass(frozen=True)
class SortKey:
    field: Field
    descending: bool = False

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.field.json


@dataclass(frozen=True)
class Filter:
    """One field's condition: any of several values, or a range; `None` matches empty."""

    field: Field
    raw: tuple[str, ...]  # as given, to rebuild the query string
    values: tuple[Any, ...] = ()
    low: Any = None
    high: Any = None
    high_exclusive: bool = False  # a date as the upper end means "before the next day"
    is_range: bool = False


DEFAULT_SORT = (SortKey(SORTABLE["createdAt"], descending=True),)


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    search: str = ""
    sort: tuple[SortKey, ...] = DEFAULT_SORT
    archived: bool = False
    filters: tuple[Filter, ...] = field(default=())

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> ListQuery:
        """Parse query-string arguments; raise ValidationError naming every bad one."""
        errors: dict[str, list[str]] = {}
        parsed: dict[str, Any] = {}
        filters: list[Filter] = []
        for name in args:
            values = args.getlist(name)
            try:
                if name in RESERVED:
                    if len(values) > 1:
                        raise FieldError("Given more than once.")
                    parsed[name] = _PARSERS[name](values[0])
                elif name in FILTERABLE:
                    filters.append(_parse_filter(FILTERABLE[name], values))
                else:
                    raise FieldError(_unknown_message())
            except FieldError as error:
                errors[name] = [str(error)]
        if errors:
            raise ValidationError(errors, "Invalid list parameters: " + ", ".join(errors) + ".")
        return cls(
            page=parsed.get("page", 1),
            page_size=parsed.get("pageSize", DEFAULT_PAGE_SIZE),
            search=parsed.get("search", ""),
            sort=parsed.get("sort", DEFAULT_SORT),
            archived=parsed.get("archived", False),
            filters=tuple(filters),
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def words(self) -> list[str]:
        return self.search.split()

    @property
    def words_key(self) -> tuple[str, ...]:
        return tuple(self.words)

    @property
    def filter_key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The filters as given, in a stable order (for caching)."""
        return tuple(sorted((f.field.json, f.raw) for f in self.filters))

    @property
    def is_filtered(self) -> bool:
        """Whether anything narrows the list beyond the archived switch."""
        return bool(self.words or self.filters)

    def to_args(self, **changes: Any) -> list[tuple[str, str]]:
        """The query string of this query (with changes), leaving defaults out."""
        query = replace(self, **changes)
        args: list[tuple[str, str]] = []
        if query.search:
            args.append(("search", query.search))
        if query.sort != DEFAULT_SORT:
            args.append(("sort", ",".join(str(k) for k in query.sort)))
        if query.archived:
            args.append(("archived", "true"))
        for f in query.filters:
            args.extend((f.field.json, raw) for raw in f.raw)
        if query.page_size != DEFAULT_PAGE_SIZE:
            args.append(("pageSize", str(query.page_size)))
        if query.page != 1:
            args.append(("page", str(query.page)))
        return args

    def sort_direction(self, json_name: str) -> str | None:
        """ "ascending" or "descending" when the list is sorted by this field, else None."""
        for key in self.sort:
            if key.field.json == json_name:
                return "descending" if key.descending else "ascending"
        return None

    def toggled_sort(self, json_name: str, *, add: bool = False) -> tuple[SortKey, ...]:
        """The sort after clicking a column: reverse it if sorted by it, else sort by it.

        With `add`, the column joins (or flips within) the existing keys, as in the API's
        comma-separated `sort`.
        """
        current = {k.field.json: k for k in self.sort}
        key = current.get(json_name)
        new = SortKey(SORTABLE[json_name], descending=not key.descending if key else False)
        if not add:
            return (new,)
        keys = [new if k.field.json == json_name else k for k in self.sort]
        return tuple(keys if key else [*keys, new][-MAX_SORT_KEYS:])

    def filter_values(self, json_name: str) -> tuple[str, ...]:
        return next((f.raw for f in self.filters if f.field.json == json_name), ())

    def with_filter(self, json_name: str, raw: Iterable[str]) -> tuple[Filter, ...]:
        """The filters with this field's values replaced (none: the filter removed), for the
        URL of another view: only the raw values are kept; that view's request parses them."""
        others = [f for f in self.filters if f.field.json != json_name]
        raw = tuple(raw)
        if raw:
            others.append(Filter(FILTERABLE[json_name], raw))
        return tuple(others)


@dataclass(frozen=True)
class Page:
    leads: list[LeadRow]
    total_count: int
    query: ListQuery

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_count / self.query.page_size)

    @property
    def first_index(self) -> int:
        """1-based position of the first lead shown (0 when none)."""
        return self.query.offset + 1 if self.leads else 0

    @property
    def last_index(self) -> int:
        return self.query.offset + len(self.leads)


def run(account: AccountView, query: ListQuery) -> Page:
    """One page of the account's leads, with the exact number of matching leads."""
    total = count(account, query)
    leads = rows(account, query, total=total) if query.offset < total else []
    return Page(leads=leads, total_count=total, query=query)


def count(account: AccountView, query: ListQuery) -> int:
    """The exact number of leads matching the query.

    Unfiltered, it is the account's running count, kept exact by every write. Filtered counts
    are cached per account data version, which every lead write bumps: a cached count is
    never stale, and the same question is counted once.
    """
    if not query.is_filtered:
        return account.archived_leads if query.archived else account.live_leads
    key = (account.id, account.data_version, query.archived, query.words_key, query.filter_key)
    cached = _counts.get(key)
    if cached is not None:
        return cached
    statement = None
    if not query.filters:
        statement = lead_search.count_statement(account.id, query.archived, query.words)
    if statement is None:
        statement = select(func.count()).select_from(Lead).where(*_conditions(account, query))
    total = db.session.scalar(statement) or 0
    _counts.put(key, total)
    return total


def rows(
    account: AccountView, query: ListQuery, extra: int = 0, total: int | None = None
) -> list[LeadRow]:
    """The leads of the query's page (plus `extra` more, to tell if a next page exists).

    The page's ids are found first, by queries the indexes serve without reading rows (an
    index-only scan to any depth); only those leads are then read in full. A filtered page
    is found by walking the sort order or by gathering the matches (plans.py), steered by
    the number of matches (`total`, when known). Rows are read-only (no ORM objects: the
    list is the hottest path of the app).
    """
    limit = query.page_size + extra
    scope = account.archived_leads if query.archived else account.live_leads
    if query.offset >= scope:  # past the end: no query (an offset past 2**63 fails in SQL)
        return []
    if not query.is_filtered:
        ids = _split_by_emptiness(account, query, limit)
        if ids is not None:
            return _load(ids)
        statement = _unfiltered_page(query.sort, query.archived)
        params = {"account_id": account.id, "limit": limit, "offset": query.offset}
        return list(db.session.connection().execute(statement, params))
    order = _order_by(query)
    return _load(_filtered_page_ids(account, query, order, limit, total))


@lru_cache(maxsize=256)
def _unfiltered_page(sort: tuple[SortKey, ...], archived: bool) -> Select:
    """The page query of an unfiltered list, built once per sort (construction and cache-key
    computation cost more than running it). On SQLite the first key's sort index is named:
    without it, SQLite may prefer another index that holds the sort column (they all end
    with created_at) and sort the whole account."""
    order = plans.ordering([(sort_expression(k.field), k) for k in sort], Lead.id)
    page = (
        select(Lead.id)
        .where(
            Lead.account_id == bindparam("account_id"),
            Lead.archived == (true() if archived else false()),
        )
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .with_hint(Lead, plans.sort_index_hint(sort[0].field), "sqlite")
        .subquery()
    )
    statement = select(leads_table).join(page, leads_table.c.id == page.c.id).order_by(*order)
    return plan_once(statement)


def _filtered_page_ids(
    account: AccountView,
    query: ListQuery,
    order: list[ColumnElement[Any]],
    limit: int,
    total: int | None,
) -> list[int]:
    estimated = total is None and bool(query.words)
    matches = total if total is not None else _matches(account, query)
    if plans.can_walk(query.sort):
        ids = plans.walk(
            account,
            query.archived,
            _conditions(account, query, row_by_row=True),
            order,
            query.sort[0].field,
            limit=limit,
            offset=query.offset,
            matches=matches,
            estimated=estimated,
            scope=account.archived_leads if query.archived else account.live_leads,
            covered=_gather_is_covered(query),
        )
        if ids is not None:
            return ids
    statement = plans.gather(
        _conditions(account, query),
        [(sort_expression(k.field), k) for k in query.sort],
        limit=limit,
        offset=query.offset,
        searching=bool(query.words),
        filter_field=query.filters[0].field if query.filters else None,
    )
    return list(db.session.scalars(statement))


def _gather_is_covered(query: ListQuery) -> bool:
    """Whether the filter's sort index alone holds the matches and their order: one filtered
    field, no search, the default order (every sort index ends with created_at)."""
    fields = {f.field.name for f in query.filters}
    return (
        len(fields) == 1
        and not query.words
        and query.filters[0].field.sortable
        and [k.field.name for k in query.sort] == ["created_at"]
    )


def _matches(account: AccountView, query: ListQuery) -> int | None:
    """How many leads match, if it is cheap to know: the exact count for filters (cached,
    and asked for next anyway), SQLite's estimate for searches, else None."""
    if query.words:
        return lead_search.estimate(query.words)
    return count(account, query)


_BY_IDS = plan_once(
    select(leads_table).where(leads_table.c.id.in_(bindparam("ids", expanding=True)))
)


def _load(ids: list[int]) -> list[LeadRow]:
    """The leads with these ids, in this order."""
    if not ids:
        return []
    found = {row.id: row for row in db.session.connection().execute(_BY_IDS, {"ids": ids})}
    return [found[i] for i in ids if i in found]


def _split_by_emptiness(account: AccountView, query: ListQuery, limit: int) -> list[int] | None:
    """Page ids for a descending sort on PostgreSQL by a field that may be empty, else None.

    PostgreSQL's index keeps empty values last in ascending order, so reading it backwards
    puts them first; "empty last" in both directions is then two index scans: the values
    in descending order, then the empty ones by id.
    """
    if len(query.sort) != 1 or db.engine.dialect.name != "postgresql":
        return None
    key = query.sort[0]
    if not (key.descending and key.field.nullable):
        return None
    value = sort_expression(key.field)
    conditions = _conditions(account, query)
    # Unfiltered: the same plan suits every account.
    filled = plan_once(
        select(Lead.id)
        .where(*conditions, value.isnot(None))
        .order_by(value.desc(), Lead.id.desc())
        .limit(limit)
        .offset(query.offset)
    )
    ids = list(db.session.scalars(filled))
    if len(ids) == limit:
        return ids
    if ids:
        empty_offset = 0
    else:  # the page starts among the empty values: skip as many as pages before it hold
        filled_count = select(func.count()).select_from(Lead).where(*conditions, value.isnot(None))
        empty_offset = query.offset - (db.session.scalar(filled_count) or 0)
    empty = plan_once(
        select(Lead.id)
        .where(*conditions, value.is_(None))
        .order_by(Lead.id.desc())
        .limit(limit - len(ids))
        .offset(empty_offset)
    )
    return ids + list(db.session.scalars(empty))


def _conditions(
    account: AccountView, query: ListQuery, *, row_by_row: bool = False
) -> list[ColumnElement[bool]]:
    """The WHERE clause of a list query; the account comes first (see rows()). `row_by_row`:
    for a few hundred leads already read (a walk), where testing each costs less than
    looking the search words up in the index."""
    conditions = [
        Lead.account_id == account.id,
        Lead.archived == (true() if query.archived else false()),
    ]
    conditions.extend(_filter_condition(f) for f in query.filters)
    if query.words:
        search = lead_search.row_condition if row_by_row else lead_search.condition
        conditions.append(search(query.words))
    return conditions


def sort_expression(f: Field) -> ColumnElement[Any]:
    """The expression a field sorts by: text ignores case (the sort indexes hold it)."""
    return model_sort_expression(Lead.__table__, f)


def _order_by(query: ListQuery) -> list[ColumnElement[Any]]:
    return plans.ordering([(sort_expression(k.field), k) for k in query.sort], Lead.id)


def _filter_condition(f: Filter) -> ColumnElement[bool]:
    column = sort_expression(f.field)
    if f.is_range:
        parts = []
        if f.low is not None:
            parts.append(column >= f.low)
        if f.high is not None:
            parts.append(column < f.high if f.high_exclusive else column <= f.high)
        return and_(*parts)
    present = [v for v in f.values if v is not None]
    options: list[ColumnElement[bool]] = []
    if present:
        options.append(column == present[0] if len(present) == 1 else column.in_(present))
    if None in f.values:
        options.append(column.is_(None))
    return or_(*options)


_counts: LRUCache[int] = LRUCache(4096)


def configure_count_cache(size: int) -> None:
    """Keep up to `size` counts per worker (0: count every time, e.g. to measure that)."""
    _counts.resize(size)


# Parameter parsers ---------------------------------------------------------------------------


def _positive(text: str, low: int, high: int | None = None) -> int:
    try:
        value = parse_integer(text.strip())
    except FieldError:
        raise FieldError("Must be a whole number.") from None
    if value < low or (high is not None and value > high):
        raise FieldError(
            f"Must be between {low} and {high}." if high else f"Must be {low} or more."
        )
    return value


def _parse_sort(text: str) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for part in text.split(","):
        part = part.strip()
        name = part.removeprefix("-")
        if name not in SORTABLE:
            sortable = ", ".join(SORTABLE)
            raise FieldError(f"Cannot sort by {part!r}. Sortable fields: {sortable}.")
        if any(k.field.json == name for k in keys):
            raise FieldError(f"{name} is given more than once.")
        keys.append(SortKey(SORTABLE[name], descending=part.startswith("-")))
    if len(keys) > MAX_SORT_KEYS:
        raise FieldError(f"At most {MAX_SORT_KEYS} sort fields.")
    return tuple(keys)


def _parse_search(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_SEARCH_LENGTH:
        raise FieldError(f"Must be at most {MAX_SEARCH_LENGTH} characters.")
    if len(text.split()) > MAX_SEARCH_WORDS:
        raise FieldError(f"At most {MAX_SEARCH_WORDS} words.")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise FieldError("Must not contain control characters.")
    return text


_PARSERS: Mapping[str, Any] = {
    "page": lambda text: _positive(text, 1),
    "pageSize": lambda text: _positive(text, 1, MAX_PAGE_SIZE),
    "search": _parse_search,
    "sort": _parse_sort,
    "archived": lambda text: parse_boolean(text.strip()),
}


def _unknown_message() -> str:
    return (
        f"Unknown parameter. Use page, pageSize, search, sort, archived or a field: "
        f"{', '.join(FILTERABLE)}."
    )


def _parse_filter(f: Field, raw: list[str]) -> Filter:
    if len(raw) > 1 and not f.is_text:
        raise FieldError("Given more than once; only text fields accept several values.")
    if len(raw) > MAX_FILTER_VALUES:
        raise FieldError(f"At most {MAX_FILTER_VALUES} values.")
    if f.is_text:
        values = tuple(_text_filter_value(f, r) for r in raw)
        return Filter(f, tuple(raw), values=values)
    text = raw[0].strip()
    if not text:  # leads where the field is empty (none, for a field that is always set)
        return Filter(f, tuple(raw), values=(None,))
    if f.kind is Kind.BOOLEAN:
        return Filter(f, tuple(raw), values=(parse_boolean(text),))
    if f.kind is Kind.DATETIME:
        return _datetime_filter(f, tuple(raw), text)
    return _number_filter(f, tuple(raw), text)


# Lower-cases as the databases' lower() does (ASCII letters only), which the filter compares
# with: str.lower() would also turn "Á" into "á", and then "Álvarez" never matched itself.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _text_filter_value(f: Field, text: str) -> str | None:
    text = text.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise FieldError("Must not contain control characters.")
    return text.translate(_ASCII_LOWER) or None


def _number(f: Field, text: str) -> int | Decimal:
    value = parse_integer(text) if f.kind is Kind.INTEGER else parse_decimal(text)
    # Integer columns are 32-bit (PostgreSQL refuses larger values); money is stored in cents.
    limit = 2**31 - 1 if f.kind is Kind.INTEGER else 10**15
    if abs(value) > limit or (isinstance(value, Decimal) and value != round(value, 2)):
        raise FieldError("Must be a number within the field's range, with at most 2 decimals.")
    return value


def _number_filter(f: Field, raw: tuple[str, ...], text: str) -> Filter:
    if "," not in text:
        return Filter(f, raw, values=(_number(f, text),))
    low_text, high_text = _split_range(text)
    low = _number(f, low_text) if low_text else None
    high = _number(f, high_text) if high_text else None
    _check_order(low, high)
    return Filter(f, raw, low=low, high=high, is_range=True)


def _datetime_filter(f: Field, raw: tuple[str, ...], text: str) -> Filter:
    if "," not in text:
        start, date_only = parse_datetime(text)
        if date_only:
            return Filter(
                f, raw, low=start, high=_next_day(start), high_exclusive=True, is_range=True
            )
        return Filter(f, raw, values=(start,))
    low_text, high_text = _split_range(text)
    low = parse_datetime(low_text)[0] if low_text else None
    high, date_only = parse_datetime(high_text) if high_text else (None, False)
    _check_order(low, high)
    if high is not None and date_only:  # a date as the end includes that whole day
        high = _next_day(high)
    return Filter(f, raw, low=low, high=high, high_exclusive=date_only, is_range=True)


def _next_day(day: datetime) -> datetime | None:
    """The start of the next day; None after the last day a datetime can hold (no end)."""
    try:
        return day + timedelta(days=1)
    except OverflowError:
        return None


def _split_range(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not any(parts):
        raise FieldError("A range is two values separated by a comma; either end may be empty.")
    return parts[0], parts[1]


def _check_order(low: Any, high: Any) -> None:
    if low is not None and high is not None and low > high:
        raise FieldError("The range starts after it ends.")
