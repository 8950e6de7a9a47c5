"""Sign-in, sign-out, the first-run setup, the account switcher and password changes."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import exists, select
from werkzeug.wrappers import Response

from app.auth.accounts import (
    AccountRefused,
    PasswordRefused,
    add_member,
    authenticate,
    change_password,
    create_user,
    get_or_create_account,
)
from app.auth.forms import LoginForm, PasswordForm, SetupForm
from app.auth.sessions import (
    choose_account,
    load_session_user,
    load_signed_in,
    login_required,
    password_page_first,
    renew_session,
    safe_next,
    session_user,
    sign_in,
    sign_out_everywhere,
)
from app.database import begin_write
from app.extensions import db
from app.models import Role, User
from app.ratelimits import throttle_password_check, throttle_sign_in

bp = Blueprint("auth", __name__)


def _has_users() -> bool:
    return bool(db.session.scalar(select(exists().where(User.id.isnot(None)))))


@bp.get("/")
def home() -> Response:
    """The lead list when signed in; the first-run setup before anyone exists."""
    if not _has_users():
        return redirect(url_for("auth.setup"))
    if load_signed_in() is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("web.index"))


@bp.route("/login", methods=["GET", "POST"])
@throttle_sign_in
def login() -> Response | str | tuple[str, int]:
    """The sign-in form; on success, back to where the visitor was going (after choosing a
    new password, when someone else chose the current one)."""
    form = LoginForm()
    target = safe_next(request.args.get("next")) or url_for("web.index")
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            sign_in(user)
            if user.must_change_password:
                return redirect(url_for("auth.password", next=target))
            return redirect(target)
        form.password.errors = ["Wrong email or password."]
    status = 400 if form.errors else 200
    # Signed in, but in no account (removed from every one): say so, not just the form again.
    accountless = load_session_user() if load_signed_in() is None else None
    return render_template("auth/login.html", form=form, accountless=accountless), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Sign out: ends this user's sessions everywhere; then to `next` (an invitation's page),
    or the sign-in page."""
    sign_out_everywhere(session_user())
    flash("You are signed out.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
def setup() -> Response | str | tuple[str, int]:
    """First run only: create the first account and its admin; gone once a user exists."""
    if _has_users():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        begin_write()
        if _has_users():  # someone finished the setup meanwhile
            db.session.rollback()
            abort(404)
        user = create_user(form.email.data or "", form.password.data or "")
        account, _ = get_or_create_account((form.account_name.data or "").strip())
        add_member(user, account, Role.ADMIN)
        db.session.commit()
        sign_in(user)
        flash(f"Welcome! {account.name} is ready: add your first lead.", "success")
        return redirect(url_for("web.index"))
    status = 400 if form.errors else 200
    return render_template("auth/setup.html", form=form), status


@bp.post("/account")
@login_required
def switch_account() -> Response:
    """Act in another of the user's accounts (kept in the session)."""
    if target := password_page_first():
        return redirect(target)
    try:
        membership = choose_account(session_user(), request.form.get("account", ""))
    except AccountRefused:
        abort(403)
    flash(f"Now working in {membership.account.name}.", "success")
    return redirect(url_for("web.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
@throttle_password_check
def password() -> Response | tuple[str, int]:
    """Change your own password: every other session of yours ends, this one carries on.
    A user whose password someone else chose comes here first, and goes on to `next`."""
    form = PasswordForm()
    user = session_user()
    if form.validate_on_submit():
        try:
            change_password(user, form.current.data or "", form.password.data or "")
        except PasswordRefused as refusal:
            form[refusal.field].errors = [str(refusal)]
        else:
            renew_session(user)
            flash("Your password is changed; your other sessions have ended.", "success")
            target = safe_next(request.args.get("next")) or url_for("web.index")
            return redirect(target, 303)
    status = 400 if form.errors else 200
    return render_template("auth/password.html", form=form, user=user), status


from app.auth import invitation_page  # noqa: E402, F401  (registers routes)
