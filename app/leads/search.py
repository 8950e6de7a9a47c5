"""Search: every word must appear, ignoring case, in some text field of the lead."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from app.leads.fields import SEARCHABLE
from app.models import Lead


def condition(words: list[str]) -> ColumnElement[bool]:
    """Leads where each word is a substring of some searchable field (`%` and `_` literal)."""
    columns = [getattr(Lead, f.name) for f in SEARCHABLE]
    return and_(*(or_(*(c.icontains(w, autoescape=True) for c in columns)) for w in words))
