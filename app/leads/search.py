"""Search: every word must appear, ignoring case, in some text field of the lead.

Served by a trigram index on each database (migration 0002): on PostgreSQL a pg_trgm GIN
index over a narrow table of each lead's searchable text, on SQLite an FTS5 `trigram` table;
triggers keep both in sync with the leads.
Trigrams need words of 3+ characters; shorter words fall back to a LIKE over the columns
(correct, but a scan). `%` and `_` are always literal.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)

from app.extensions import db
from app.leads.fields import SEARCHABLE
from app.models import Lead

TRIGRAM = 3
# PostgreSQL: each lead's searchable text, lower-cased, in a narrow table kept by a trigger,
# with a pg_trgm index (migration 0002). Not a model: only the database writes it.
LEAD_SEARCH = table(
    "lead_search",
    column("lead_id"),
    column("account_id"),
    column("archived"),
    column("document"),
)


def condition(words: list[str]) -> ColumnElement[bool]:
    """Leads where each word is a substring of some searchable field."""
    if db.engine.dialect.name == "postgresql":
        return exists().where(LEAD_SEARCH.c.lead_id == Lead.id, *_document_matches(words))
    return _sqlite_condition(words)


def row_condition(words: list[str]) -> ColumnElement[bool]:
    """The same test as `condition`, made on each lead by itself: for leads read anyway.

    On SQLite a LIKE over the columns of a few hundred leads takes well under a millisecond,
    while the trigram table would first list every match of a common word (25 ms for 12% of
    a million)."""
    if db.engine.dialect.name == "postgresql":
        return condition(words)
    return and_(*(_scan(w) for w in words))


def count_statement(account_id: int, archived: bool, words: list[str]) -> Select | None:
    """On PostgreSQL, the count of a search alone, from the search table only (it holds the
    account and the archived flag too), else None."""
    if db.engine.dialect.name != "postgresql":
        return None
    return (
        select(func.count())
        .select_from(LEAD_SEARCH)
        .where(
            LEAD_SEARCH.c.account_id == account_id,
            LEAD_SEARCH.c.archived == archived,
            *_document_matches(words),
        )
    )


def _document_matches(words: list[str]) -> list[ColumnElement[bool]]:
    return [LEAD_SEARCH.c.document.like(_pattern(w.lower())) for w in words]


def _pattern(word: str) -> str:
    """A LIKE pattern matching the word anywhere, with LIKE's wildcards made literal."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _sqlite_condition(words: list[str]) -> ColumnElement[bool]:
    phrase = _phrase([w for w in words if len(w) >= TRIGRAM])
    conditions = [_scan(w) for w in words if len(w) < TRIGRAM]
    if phrase is not None:
        matches = (
            select(literal_column("rowid"))
            .select_from(text("leads_fts"))
            .where(text("leads_fts MATCH :fts_query").bindparams(bindparam("fts_query", phrase)))
        )
        conditions.insert(0, Lead.id.in_(matches))
    return and_(*conditions)


def _phrase(words: list[str]) -> str | None:
    """An FTS5 query requiring every word, each as a literal phrase."""
    if not words:
        return None
    return " AND ".join('"' + w.replace('"', '""') + '"' for w in words)


def _scan(word: str) -> ColumnElement[bool]:
    """A short word: LIKE over every searchable column. SQLite's LIKE folds ASCII case only,
    so words with other letters compare lower-cased by Python (`unicode_lower`)."""
    pattern = _pattern(word.lower())
    columns = [getattr(Lead, f.name) for f in SEARCHABLE]
    if word.isascii():
        return or_(*(c.like(pattern, escape="\\") for c in columns))
    return or_(*(func.unicode_lower(c).like(pattern, escape="\\") for c in columns))


def estimate(words: list[str]) -> int | None:
    """About how many leads contain the words, cheaply, or None when there is no cheap way.

    SQLite's search table counts its matches over all accounts without reading any lead
    (an upper bound of the exact count, good enough to choose a plan).
    """
    phrase = _phrase([w for w in words if len(w) >= TRIGRAM])
    if db.engine.dialect.name != "sqlite" or phrase is None:
        return None
    statement = text("SELECT count(*) FROM leads_fts WHERE leads_fts MATCH :q")
    return db.session.scalar(statement, {"q": phrase}) or 0
