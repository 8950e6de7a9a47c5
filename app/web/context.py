"""What every template can use: the signed-in user, permissions, URLs of list views, formats."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, g, url_for

from app.auth.sessions import load_signed_in, user_accounts
from app.leads.fields import BY_JSON
from app.leads.query import ListQuery
from app.permissions import Actor, Permission
from app.web import format as fmt
from app.web.assets import HTMX_INTEGRITY, htmx_src


def list_url(list_query: ListQuery, **changes: Any) -> str:
    """The URL of the lead list for this query with some changes (same parameters as the API)."""
    args = list_query.to_args(**changes)
    if "list_path" not in g:  # a list page builds dozens of these URLs
        g.list_path = url_for("web.index")
    return g.list_path + ("?" + urlencode(args) if args else "")


def toggled(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    """The values with `value` added, or removed if it was there (multi-value filter menus)."""
    return tuple(v for v in values if v != value) if value in values else (*values, value)


def _context() -> dict[str, Any]:
    current = load_signed_in()
    actor = Actor(email=current.user.email, role=current.role) if current is not None else None
    return {
        "current": current,
        # A function, so only pages that show the account switcher query the memberships.
        "accounts": user_accounts if current is not None else list,
        "can": (lambda permission: actor is not None and actor.can(permission)),
        "Permission": Permission,
        "htmx_src": htmx_src(),
        "htmx_integrity": HTMX_INTEGRITY,
    }


def register_template_helpers(app: Flask) -> None:
    app.context_processor(_context)
    app.jinja_env.globals.update(list_url=list_url, toggled=toggled, field_by_json=BY_JSON)
    app.jinja_env.filters.update(
        display=fmt.display,
        relative=fmt.relative,
        person=fmt.person,
        short_date=fmt.short_date,
    )
