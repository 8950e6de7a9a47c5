"""The page an invitation link opens: join the account it names.

The link carries its token in the query string (`/invitation?token=…`), which is never
logged; the page's forms send it back in their bodies. Someone new chooses their password
here; someone who already has a user for the invitation's email signs in first and accepts.
The page for a visitor who is not signed in is the same whether or not the email has a user.
A link that cannot be used (unknown, expired, withdrawn, used) gets a page that says so.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from app.auth import invitations
from app.auth.forms import AcceptForm, JoinForm
from app.auth.invitations import EmailTaken, NotUsable, NotYours, State
from app.auth.sessions import load_session_user, password_page_first, sign_in
from app.auth.views import bp
from app.models import Membership
from app.ratelimits import throttle_password_check

TEMPLATE = "auth/invitation.html"
UNUSABLE: dict[State | None, tuple[int, str, str]] = {
    None: (
        404,
        "This invitation link is not valid",
        "Check that you copied all of it, or ask the person who invited you for a new one.",
    ),
    State.EXPIRED: (
        410,
        "This invitation has expired",
        "Ask the person who invited you to send it again.",
    ),
    State.REVOKED: (
        410,
        "This invitation was withdrawn",
        "It was withdrawn, or replaced by a newer link. Use the newest link you were sent, "
        "or ask for a new one.",
    ),
    State.ACCEPTED: (
        410,
        "This invitation has been used",
        "Each invitation link works once. If you accepted it, sign in.",
    ),
}


@bp.get("/invitation")
def invitation() -> Response | tuple[str, int]:
    """The invitation's page: who invites whom to which account, and how to join."""
    return _page(request.args.get("token", ""))


@bp.post("/invitation")
@throttle_password_check
def accept_invitation() -> Response | tuple[str, int]:
    """Join: as the signed-in user of the invitation's email, or as someone new with the
    password they choose."""
    token = request.form.get("token", "")
    user = load_session_user()
    if user is None:
        return _join(token)
    if target := password_page_first():
        return redirect(target)
    form = AcceptForm()
    if not form.validate_on_submit():
        return _page(token, status=400)
    try:
        membership = invitations.accept_as(user, token)
    except NotUsable as unusable:
        return _unusable(unusable.state)
    except NotYours:
        return _page(token, status=403)  # the page says whose invitation it is
    return _welcome(membership)


def _join(token: str) -> Response | tuple[str, int]:
    form = JoinForm()
    if not form.validate_on_submit():
        return _page(token, join=form, status=400)
    try:
        membership = invitations.accept_as_new_user(token, form.password.data or "")
    except NotUsable as unusable:
        return _unusable(unusable.state)
    except EmailTaken as taken:
        form.password.errors = [
            f"{taken} already has a sign-in here: sign in with its password to accept."
        ]
        return _page(token, join=form, status=409)
    sign_in(membership.user)
    return _welcome(membership)


def _welcome(membership: Membership) -> Response:
    session["account"] = membership.account.public_id
    flash(f"Welcome to {membership.account.name}: you are a {membership.role} here.", "success")
    return redirect(url_for("web.index"), 303)


def _page(token: str, *, join: JoinForm | None = None, status: int = 200) -> Any:
    try:
        found = invitations.open_link(token)
    except NotUsable as unusable:
        return _unusable(unusable.state)
    if target := password_page_first():
        return redirect(target)
    page = render_template(
        TEMPLATE,
        invitation=found,
        user=load_session_user(),
        join=join or JoinForm(formdata=None, token=token),
        accept=AcceptForm(formdata=None, token=token),
        here=url_for("auth.invitation", token=token),
    )
    return page, status


def _unusable(state: State | None) -> tuple[str, int]:
    status, title, detail = UNUSABLE[state]
    page = render_template(TEMPLATE, invitation=None, title=title, detail=detail, state=state)
    return page, status
