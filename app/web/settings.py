"""Admin settings pages: the account's members, its invitations and its API tokens.

Admins only: every view asks for the manage permission before it reads any input, so other
roles get 403 and learn nothing. The rules live in `app.auth.members`, `app.auth.invitations`
and `app.auth.api_tokens`. Pages that show a secret once (an invitation link, a new token) are
never cached (no page is: app/security.py).
"""

from __future__ import annotations

from typing import Any

from flask import flash, make_response, redirect, render_template, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from app.auth import api_tokens, invitations
from app.auth import members as membership
from app.auth.forms import ROLE_CHOICES, InvitationForm, RoleForm, TokenForm
from app.auth.sessions import signed_in, web_actor
from app.models import Role
from app.permissions import ROLE_PERMISSIONS, Actor, Permission
from app.web import bp


def _admin() -> Actor:
    """The signed-in user as an actor who may manage the account (Forbidden otherwise)."""
    actor = web_actor()
    actor.require(Permission.MANAGE)
    return actor


def _page(template: str, status: int, **context: Any) -> Response:
    return make_response(render_template(template, **context), status)


def _members_page(form: InvitationForm, status: int = 200, **extra: Any) -> Response:
    current = signed_in()
    actor = _admin()
    return _page(
        "settings/members.html",
        status,
        form=form,
        members=membership.members(actor, current.account),
        invitations=invitations.pending(actor, current.account),
        state_of=invitations.state_of,
        roles=ROLE_CHOICES,
        role_permissions=ROLE_PERMISSIONS,
        me=current.user.id,
        **extra,
    )


def _tokens_page(form: TokenForm, status: int = 200, **extra: Any) -> Response:
    tokens = api_tokens.live_tokens(_admin(), signed_in().account)
    return _page("settings/tokens.html", status, form=form, tokens=tokens, **extra)


def _issued_page(issued: invitations.Issued) -> Response:
    """The members page with the new link, shown this once (only its hash is stored)."""
    link = url_for("auth.invitation", token=issued.token, _external=True)
    return _members_page(InvitationForm(formdata=None), issued=issued.invitation, link=link)


@bp.get("/settings/members")
def members() -> Response:
    """The account's members and pending invitations, with a form to invite someone."""
    return _members_page(InvitationForm())


@bp.post("/settings/invitations")
def invite() -> Response:
    """Invite someone by email: a single-use link for them, shown this once. The same answer
    whether or not the email has a user anywhere."""
    actor = _admin()
    form = InvitationForm()
    if not form.validate_on_submit():
        return _members_page(form, 400)
    current = signed_in()
    try:
        issued = invitations.invite(
            actor, current.account, current.user, form.email.data or "", Role(form.role.data)
        )
    except membership.MemberRefused as refusal:
        form.email.errors = [str(refusal)]
        return _members_page(form, 409)
    return _issued_page(issued)


@bp.post("/settings/invitations/<id:invitation_id>/resend")
def resend_invitation(invitation_id: int) -> Response:
    """A fresh link for an invitation (shown this once); the old link stops working."""
    actor = _admin()
    current = signed_in()
    return _issued_page(invitations.resend(actor, current.account, current.user, invitation_id))


@bp.post("/settings/invitations/<id:invitation_id>/revoke")
def revoke_invitation(invitation_id: int) -> Response:
    """Withdraw an invitation: its link stops working at once."""
    invitation = invitations.revoke(_admin(), signed_in().account, invitation_id)
    flash(f"Revoked the invitation for {invitation.email}; its link no longer works.", "success")
    return redirect(url_for("web.members"), 303)


@bp.post("/settings/members/<id:membership_id>/role")
def change_role(membership_id: int) -> Response:
    """Give a member another role; the account's last admin keeps theirs."""
    actor = _admin()
    form = RoleForm()
    if not form.validate_on_submit():
        raise BadRequest("Choose one of the roles: " + ", ".join(r.value for r in Role) + ".")
    role = Role(form.role.data)
    try:
        changed = membership.change_role(actor, signed_in().account, membership_id, role)
    except membership.MemberRefused as refusal:
        return _members_page(InvitationForm(formdata=None), 409, refusal=str(refusal))
    flash(f"{changed.user.email} is now {role}.", "success")
    if changed.user_id == signed_in().user.id and role is not Role.ADMIN:
        return redirect(url_for("web.index"), 303)  # no longer allowed on the settings pages
    return redirect(url_for("web.members"), 303)


@bp.post("/settings/members/<id:membership_id>/remove")
def remove_member(membership_id: int) -> Response:
    """Take a member out of the account: their access to it ends, and only to it."""
    actor = _admin()
    current = signed_in()
    account = current.account
    try:
        user = membership.remove(actor, account, membership_id)
    except membership.MemberRefused as refusal:
        return _members_page(InvitationForm(formdata=None), 409, refusal=str(refusal))
    if user.id == current.user.id:
        flash(f"You left {account.name}.", "success")
        return redirect(url_for("web.index"), 303)
    flash(f"Removed {user.email} from {account.name}; their access to it has ended.", "success")
    return redirect(url_for("web.members"), 303)


@bp.get("/settings/tokens")
def tokens() -> Response:
    """The account's live API tokens, with a form to create one and buttons to revoke."""
    return _tokens_page(TokenForm())


@bp.post("/settings/tokens")
def create_token() -> Response:
    """Create an API token acting as you; its secret is shown this once."""
    actor = _admin()
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, 400)
    current = signed_in()
    token, secret = api_tokens.create(
        actor, current.account, current.user, form.name.data or "", read_only=form.read_only.data
    )
    return _tokens_page(TokenForm(formdata=None), created=token, secret=secret)


@bp.post("/settings/tokens/<id:token_id>/revoke")
def revoke_token(token_id: int) -> Response:
    """Revoke an API token: refused from its next request on, in every worker."""
    token = api_tokens.revoke(_admin(), signed_in().account, token_id)
    flash(f"Revoked the API token {token.name}.", "success")
    return redirect(url_for("web.tokens"), 303)
